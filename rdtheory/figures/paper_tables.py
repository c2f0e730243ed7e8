"""The paper's Table 1 and Table 2 as printed (arXiv 2510.14961 v1, Sec. 5.1 and 5.2): accuracy in per cent and
median tokens/s per task, Huginn-0125 and two other checkpoints at batch size 1 on A100-40GB GPUs.

Data only, for re-plotting. Rows that have fixed knobs carry them as `rdtheory.costs.plan` objects (static AR at
depth r; DF with r' and the fixed rule's r, as the cost model prices it), so the cost model can explain them;
adaptive AR and speculative decoding have no such knobs. The static-AR and DF tokens/s equal
`rdtheory.costs.table1.TABLE1_TOKENS_PER_S` (a test checks it).
"""

from dataclasses import dataclass

from rdtheory.costs.plan import DiffusionForcing, StaticAR

TABLE1_TASKS = ("GSM8K", "MATH500", "HumanEval", "MBPP")
TABLE2_TASKS = ("GSM8K", "Minerva Math", "HumanEval", "MBPP")


@dataclass(frozen=True)
class PaperRow:
    """One sampler's row: accuracy (%) and tokens/s per task, in the table's task order."""

    label: str
    knobs: StaticAR | DiffusionForcing | None
    accuracy: tuple[float, ...]
    tokens_per_s: tuple[float, ...]


TABLE1 = (
    PaperRow("Static AR (r=32)", StaticAR(32), (41.77, 17.60, 22.56, 31.60), (36.1, 6.4, 13.5, 15.3)),
    PaperRow("Static AR (r=4)", StaticAR(4), (1.59, 3.20, 0.61, 1.40), (312.9, 18.6, 244.1, 49.6)),
    PaperRow("Static AR (r=8)", StaticAR(8), (31.61, 14.80, 21.34, 27.40), (137.5, 23.1, 61.7, 57.2)),
    PaperRow("Static AR (r=64)", StaticAR(64), (42.15, 18.60, 22.56, 30.20), (18.2, 3.4, 7.3, 7.6)),
    PaperRow("Adaptive Compute AR", None, (42.23, 18.20, 21.95, 30.20), (66.9, 12.2, 26.1, 29.5)),
    PaperRow("Speculative Decoding AR", None, (42.76, 17.80, 20.12, 30.60), (69.5, 13.4, 27.5, 31.6)),
    PaperRow("Diff. Sampler (r'=2, beta=0.5)", DiffusionForcing(32, 2), (40.71, 17.60, 20.12, 27.80),
             (182.2, 35.9, 67.4, 92.3)),
    PaperRow("Diff. Sampler (r'=4, beta=0)", DiffusionForcing(32, 4), (42.08, 18.00, 20.12, 31.00),
             (157.3, 30.3, 64.9, 70.2)),
)

# Per checkpoint: (static AR r=32, diffusion sampler r'=4, beta=0) with the same hyperparameters.
TABLE2 = {
    "Huginn-0125": (
        PaperRow("Static AR (r=32)", StaticAR(32), (41.77, 12.98, 22.56, 31.60), (36.1, 21.0, 13.5, 15.3)),
        PaperRow("Diff. Sampler", DiffusionForcing(32, 4), (42.08, 13.06, 20.12, 31.00), (157.3, 96.0, 64.9, 70.2)),
    ),
    "SWA variant": (
        PaperRow("Static AR (r=32)", StaticAR(32), (47.99, 14.86, 23.78, 31.20), (36.2, 22.1, 14.9, 11.8)),
        PaperRow("Diff. Sampler", DiffusionForcing(32, 4), (47.08, 14.52, 23.78, 29.20), (143.1, 101.4, 71.2, 59.7)),
    ),
    "Math-finetuned": (
        PaperRow("Static AR (r=32)", StaticAR(32), (58.91, 22.20, 17.07, 28.80), (29.8, 7.9, 11.5, 11.2)),
        PaperRow("Diff. Sampler", DiffusionForcing(32, 4), (58.45, 21.40, 15.24, 27.60), (144.1, 39.8, 47.9, 57.1)),
    ),
}
