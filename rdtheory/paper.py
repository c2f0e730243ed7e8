"""The paper's numbers, quoted once: Geiping, Yang & Su, "Efficient Parallel Samplers for Recurrent-Depth Models and
Their Connection to Diffusion Language Models", arXiv 2510.14961 v1.

Owns Table 1 and Table 2 as printed (accuracy in per cent and median tokens/s per task, batch size 1 on A100-40GB
GPUs), the row of relative differences printed under Table 1, and the sampler settings of the experiments (Sec. 5
and the run tags beside the table rows), each record with where its numbers come from. Data only, on the ground
floor: it imports nothing from the package, so theory, costs, sampling, figures, testing and the CLI all read the
paper from here. How a row is priced (`rdtheory.costs.table1`) or drawn (`rdtheory.figures.tables`) lives with
its user; the samplers' own defaults are checked against these settings by the tests.
"""

from dataclasses import dataclass, replace

PAPER = "arXiv 2510.14961 v1"

DEPTH = 32
"""r, the recurrences per token: the static-AR baseline's depth, and the diffusion sampler's prefill depth and
fixed-rule depth (Sec. 5, run tags)."""


@dataclass(frozen=True)
class DFSettings:
    """Diffusion-forcing settings, named as `generate_df`'s knobs: r' (`inner`), r (`depth`), the latent-difference
    exit threshold eps, the state-noise mixing beta_t (`beta`), the embedding EMA eta (`ema`), the wavefront cap,
    the headway and the initial-state scale alpha (`init_scale`)."""

    inner: int
    depth: int
    eps: float
    beta: float
    ema: float
    max_wavefront: int
    headway: int
    init_scale: float
    source: str

    def __post_init__(self) -> None:
        for name in ("inner", "depth", "max_wavefront", "headway"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be an int >= 1")
        for name in ("eps", "beta", "ema", "init_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 0")


DF_DEFAULTS = DFSettings(
    inner=4, depth=DEPTH, eps=0.03, beta=0.0, ema=0.1, max_wavefront=128, headway=1, init_scale=1.0,
    source="Sec. 5: \"we default to conservative settings for the sampler, always setting an exit threshold of "
           "eps = 0.03, beta_t = 0, eta = 0.1 and r' = 4, for a maximum wavefront size of 128\"; r = 32 and "
           "headway 1 from the run tags beside Table 1; init scale 1: the released code's default (not stated)",
)
"""The experiments' settings unless a figure or a row says otherwise (the Table 1 r' = 4 row and all of Table 2)."""

DF_INNER_2 = replace(
    DF_DEFAULTS, inner=2, beta=0.5,
    source="Table 1, row \"Diff. Sampler (r'=2, beta_t=0.5)\" (run tag state_noise_mixing 0.5); the rest as "
           "DF_DEFAULTS",
)
"""Table 1's faster diffusion row: r' = 2 with noise beta_t = 0.5."""

SAMPLERS = ("static AR", "adaptive AR", "speculative AR", "diffusion")


@dataclass(frozen=True)
class TableRow:
    """One printed row: its label (ASCII: r' for r-prime, beta for beta_t), the kind of sampler (one of
    SAMPLERS), the static-AR depth r or the diffusion settings (the other samplers have no fixed knobs), and
    accuracy (%) and median tokens/s per task in the table's task order."""

    label: str
    sampler: str
    accuracy: tuple[float, ...]
    tokens_per_s: tuple[float, ...]
    depth: int | None = None
    df: DFSettings | None = None

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler={self.sampler!r} must be one of {SAMPLERS}")
        if (self.depth is not None) != (self.sampler == "static AR"):
            raise ValueError(f"depth={self.depth!r} must be given exactly for a static AR row, not {self.sampler}")
        if (self.df is not None) != (self.sampler == "diffusion"):
            raise ValueError(f"df={self.df!r} must be given exactly for a diffusion row, not {self.sampler}")
        if len(self.accuracy) != len(self.tokens_per_s):
            raise ValueError(f"accuracy={self.accuracy} and tokens_per_s={self.tokens_per_s} must have one value "
                             "per task each")


@dataclass(frozen=True)
class RelativeRow:
    """The "Relative diff to AR (r=32)" row printed under Table 1, for the row `of`: accuracy change in points
    and speedup (x) per task, as printed (two decimals)."""

    of: str
    accuracy_points: tuple[float, ...]
    speedup: tuple[float, ...]


@dataclass(frozen=True)
class Table:
    """A printed table of one checkpoint: its tasks, its rows, where it is printed and how it was measured."""

    checkpoint: str
    tasks: tuple[str, ...]
    rows: tuple[TableRow, ...]
    source: str
    hardware: str = "A100-40GB"
    batch: int = 1
    relative: RelativeRow | None = None

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row.accuracy) != len(self.tasks):
                raise ValueError(f"row {row.label!r} has {len(row.accuracy)} values for {len(self.tasks)} tasks")
        if self.relative is not None and self.relative.of not in [r.label for r in self.rows]:
            raise ValueError(f"relative.of={self.relative.of!r} names no row of the table")

    def row(self, label: str) -> TableRow:
        """The row printed as `label`."""
        for r in self.rows:
            if r.label == label:
                return r
        raise KeyError(f"label={label!r} is no row of {self.checkpoint}'s table; rows: {[r.label for r in self.rows]}")


TABLE1_TASKS = ("GSM8K", "MATH500", "HumanEval", "MBPP")
TABLE2_TASKS = ("GSM8K", "Minerva Math", "HumanEval", "MBPP")

TABLE1 = Table(
    checkpoint="Huginn-0125", tasks=TABLE1_TASKS,
    source="Table 1 (Sec. 5.1): Huginn-0125, batch size 1, A100-40GB; t/s is the median of tokens/s over a task's "
           "samples",
    rows=(
        TableRow("Static AR (r=32)", "static AR", (41.77, 17.60, 22.56, 31.60), (36.1, 6.4, 13.5, 15.3), depth=DEPTH),
        TableRow("Static AR (r=4)", "static AR", (1.59, 3.20, 0.61, 1.40), (312.9, 18.6, 244.1, 49.6), depth=4),
        TableRow("Static AR (r=8)", "static AR", (31.61, 14.80, 21.34, 27.40), (137.5, 23.1, 61.7, 57.2), depth=8),
        TableRow("Static AR (r=64)", "static AR", (42.15, 18.60, 22.56, 30.20), (18.2, 3.4, 7.3, 7.6), depth=64),
        TableRow("Adaptive Compute AR", "adaptive AR", (42.23, 18.20, 21.95, 30.20), (66.9, 12.2, 26.1, 29.5)),
        TableRow("Speculative Decoding AR", "speculative AR", (42.76, 17.80, 20.12, 30.60), (69.5, 13.4, 27.5, 31.6)),
        TableRow("Diff. Sampler (r'=2, beta=0.5)", "diffusion", (40.71, 17.60, 20.12, 27.80),
                 (182.2, 35.9, 67.4, 92.3), df=DF_INNER_2),
        TableRow("Diff. Sampler (r'=4, beta=0)", "diffusion", (42.08, 18.00, 20.12, 31.00),
                 (157.3, 30.3, 64.9, 70.2), df=DF_DEFAULTS),
    ),
    relative=RelativeRow("Diff. Sampler (r'=4, beta=0)", (0.31, 0.40, -2.44, -0.60), (4.36, 4.73, 4.81, 4.59)),
)

_TABLE2_SOURCE = ("Table 2 (Sec. 5.2): static AR r = 32 and the diffusion sampler with the same hyperparameters "
                  "(r' = 4, beta_t = 0) on three checkpoints, batch size 1, A100-40GB; the column printed \"Time\" "
                  "holds tokens/s")
TABLE2 = tuple(
    Table(checkpoint, TABLE2_TASKS, (
        TableRow("Static AR (r=32)", "static AR", ar_accuracy, ar_rate, depth=DEPTH),
        TableRow("Diff. Sampler", "diffusion", df_accuracy, df_rate, df=DF_DEFAULTS),
    ), _TABLE2_SOURCE)
    for checkpoint, ar_accuracy, ar_rate, df_accuracy, df_rate in (
        ("Huginn-0125", (41.77, 12.98, 22.56, 31.60), (36.1, 21.0, 13.5, 15.3),
         (42.08, 13.06, 20.12, 31.00), (157.3, 96.0, 64.9, 70.2)),
        ("SWA variant", (47.99, 14.86, 23.78, 31.20), (36.2, 22.1, 14.9, 11.8),
         (47.08, 14.52, 23.78, 29.20), (143.1, 101.4, 71.2, 59.7)),
        ("Math-finetuned", (58.91, 22.20, 17.07, 28.80), (29.8, 7.9, 11.5, 11.2),
         (58.45, 21.40, 15.24, 27.60), (144.1, 39.8, 47.9, 57.1)),
    )
)
"""Table 2, one `Table` per checkpoint, in the printed order."""
