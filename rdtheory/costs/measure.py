"""`python -m rdtheory.costs.measure` runs `rdtheory.gpu.measure`, where the stage-timing harness lives."""

if __name__ == "__main__":
    from rdtheory.gpu.measure import main

    raise SystemExit(main())
