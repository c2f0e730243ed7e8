"""`python -m rdtheory.bench` runs `rdtheory.gpu.bench`, where the generation-speed benchmark lives."""

if __name__ == "__main__":
    from rdtheory.gpu.bench import main

    raise SystemExit(main())
