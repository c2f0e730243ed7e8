"""The paper's phenomena on the shipped trained model `rdtheory/looped-tiny` (grid reachability,
`rdtheory.training.task`): the depth curve, the convergence of the latents, the schedule the diffusion-forcing
sampler actually ran against static AR, and the speed/accuracy trade-off of the sampler's knobs.

Two sources, drawn side by side: the committed measurement in the model's `evaluation.json` (written by
`python -m rdtheory.training.evaluate`, on 256 held-out examples) and a small live re-measurement with the same
functions (`rdtheory.training.evaluate`) on the first held-out examples, so that a figure shows both what the model
card reports and that the shipped weights still give it. Everything runs on the CPU in float32, greedy, with the
samplers' default random initial state.

Data functions return plain values (dicts and lists, tested); `rdtheory.figures.trained_plots` draws them. torch
and the model are imported when a function needs them.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdtheory.paper import DEPTH, DF_DEFAULTS
from rdtheory.theory import Schedule
from rdtheory.theory.schedule import ScheduleTick

MODEL = "rdtheory/looped-tiny"
EVALUATION = "evaluation.json"
# The paper's settings (`rdtheory.paper.DF_DEFAULTS`) as `rdtheory.training.evaluate` records them: r', the
# LatentDiff threshold, eta, the wavefront cap and the prefill depth r, at most 2r recurrences a position (the
# sampler's default). Built here as there, so that importing this module does not import torch; the tests check
# them against the committed evaluation.
PAPER_DEFAULTS = {name: getattr(DF_DEFAULTS, name) for name in ("inner", "eps", "ema", "max_wavefront", "depth")}
AR_DEPTH = DEPTH
"""The static-AR baseline of the paper's claim."""


@dataclass(frozen=True)
class Size:
    """How much the live re-measurements compute: the depth curve on `depth_examples` held-out examples at
    `depths`, the latent convergence on `latent_examples` examples for `latent_depth` steps."""

    depth_examples: int
    depths: tuple[int, ...]
    latent_examples: int
    latent_depth: int


SMALL = Size(depth_examples=16, depths=(1, 2, 4, 8), latent_examples=16, latent_depth=32)
FULL = Size(depth_examples=128, depths=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32), latent_examples=64, latent_depth=64)


def size(full: bool = False) -> Size:
    """The live measurement's size: FULL for the full-size notebook, SMALL (a few seconds on two cores) else."""
    return FULL if full else SMALL


def checked_count(name: str, value: object, minimum: int = 1) -> int:
    """`value` if it is an int >= minimum (a bool is no count), else ValueError naming the argument, its value and
    the rule. The argument check of this module and of `trained_plots`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an int >= {minimum}")
    return value


def _depths(depths: object) -> tuple[int, ...]:
    ok = (isinstance(depths, Sequence) and not isinstance(depths, str) and len(depths) > 0
          and all(not isinstance(d, bool) and isinstance(d, int) and d >= 1 for d in depths))
    if not ok or list(depths) != sorted(set(depths)):
        raise ValueError(f"depths={depths!r} must be a non-empty increasing sequence of ints >= 1")
    return tuple(depths)


@contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread while measuring: the model is tiny, and a thread pool's overhead would dominate."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------------ model and data


def model_folder(name: str = MODEL) -> Path:
    """The folder of the model `name` (a shipped model's name or a checkpoint folder)."""
    from rdtheory.models import resolve

    folder = resolve(name)
    if not folder.is_dir():
        raise ValueError(f"name={name!r} must name a shipped model or a checkpoint folder; {folder} is not a folder")
    return folder


def load_evaluation(name: str = MODEL) -> dict[str, Any]:
    """The committed measurement of model `name` (its evaluation.json)."""
    path = model_folder(name) / EVALUATION
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: write it with python -m rdtheory.training.evaluate --out "
                                f"{path.parent}")
    evaluation = json.loads(path.read_text())
    missing = [k for k in ("depth_curve", "latent_convergence", "paper_claim", "sweep") if k not in evaluation]
    if missing:
        raise ValueError(f"{path} lacks {missing}: it must hold the keys that rdtheory.training.evaluate writes")
    return evaluation


def load_model(name: str = MODEL) -> Any:
    """Model `name` in float32 on the CPU (`rdtheory.load_pretrained`)."""
    import torch

    from rdtheory.model.checkpoint import load_pretrained

    return load_pretrained(model_folder(name), dtype=torch.float32)


def held_out(n: int) -> list[Any]:
    """The first `n` held-out examples: the first of those the committed evaluation measured."""
    from rdtheory.training.task import HELD_OUT_SEED, dataset

    return dataset(HELD_OUT_SEED, checked_count("n", n))


# ------------------------------------------------------------------------------------------------ depth curve


def depth_curves(model: Any, evaluation: Mapping[str, Any], n_examples: int = SMALL.depth_examples,
                 depths: Sequence[int] = SMALL.depths) -> dict[str, Any]:
    """The committed depth curve (static AR at r: exact match, teacher-forced exact match, per answer cell, core
    passes) and the same measured live on the first `n_examples` held-out examples at `depths`."""
    from rdtheory.training.evaluate import depth_curve

    depths = _depths(depths)
    examples = held_out(checked_count("n_examples", n_examples))
    with _one_thread():
        live = depth_curve(model, examples, depths)
    return {"committed": list(evaluation["depth_curve"]), "live": live, "live_examples": n_examples,
            "committed_examples": evaluation.get("held_out", {}).get("examples")}


# ------------------------------------------------------------------------------------------------ latents


def latent_curves(model: Any, evaluation: Mapping[str, Any], n_examples: int = SMALL.latent_examples,
                  max_depth: int = SMALL.latent_depth) -> dict[str, Any]:
    """The committed latent convergence (median and 90th percentile of ||z_k - z_(k-1)|| / ||z_k|| over answer
    positions, teacher forced) and the same measured live on the first `n_examples` held-out examples."""
    from rdtheory.training.evaluate import latent_convergence

    examples = held_out(checked_count("n_examples", n_examples))
    with _one_thread():
        live = latent_convergence(model, examples, checked_count("max_depth", max_depth))
    return {"committed": dict(evaluation["latent_convergence"]), "live": live, "live_examples": n_examples}


# ------------------------------------------------------------------------------------------------ sampler runs


def sampler_runs(model: Any, example: int = 0, defaults: Mapping[str, Any] = PAPER_DEFAULTS,
                 ar_depth: int = AR_DEPTH) -> dict[str, Any]:
    """Diffusion forcing with `defaults` (the paper's, as the evaluation runs them) and static AR at `ar_depth` on
    held-out example number `example`: {name: Generation}, DF first. Both stop at the end token. DF's max_depth is
    left at the sampler's default (2r), as the evaluation runs it."""
    from rdtheory.sampling.autoregressive import generate_ar
    from rdtheory.sampling.diffusion_forcing import generate_df
    from rdtheory.sampling.exits import LatentDiff
    from rdtheory.training.task import EOS, encode

    checked_count("example", example, 0)
    missing = sorted(set(PAPER_DEFAULTS) - set(defaults))
    if missing:
        raise ValueError(f"defaults={dict(defaults)!r} must set {sorted(PAPER_DEFAULTS)}; it lacks {missing}")
    ex = held_out(example + 1)[example]
    prompt, n_new = [encode(ex.prompt)], len(ex.answer) + 1
    d = defaults
    checked_count("ar_depth", ar_depth)
    with _one_thread():
        df = generate_df(model, prompt, n_new, inner=d["inner"], depth=d["depth"], exit=LatentDiff(d["eps"]),
                         ema=d["ema"], max_wavefront=d["max_wavefront"], stop_tokens=[EOS])
        ar = generate_ar(model, prompt, n_new, depth=ar_depth, stop_tokens=[EOS])
    return {f"DF, r'={d['inner']}, LatentDiff({d['eps']})": df, f"AR, r={ar_depth}": ar}


def answers(runs: Mapping[str, Any], row: int = 0) -> dict[str, str]:
    """The answer each run wrote for `row` (end token dropped)."""
    from rdtheory.training.task import EOS, decode

    return {name: decode([t for t in run.tokens[row] if t != EOS]) for name, run in runs.items()}


def generated_recurrences(runs: Mapping[str, Any], row: int = 0) -> dict[str, dict[int, int]]:
    """Recurrences each position after the prompt received, per run: {name: {position: recurrences}}. (The last
    prompt position, run in the prefill, decodes the first new token; position p decodes token p + 1.)"""
    out = {}
    for name, run in runs.items():
        trace = run.trace
        if not 0 <= row < trace.batch_size:
            raise ValueError(f"row={row!r} must lie in [0, {trace.batch_size - 1}] (run {name!r})")
        prompt_len = trace.prompt_lengths[row]
        out[name] = {p: n for p, n in trace.recurrences(row).items() if p >= prompt_len}
    return out


def cropped(schedule: Schedule, start: int) -> Schedule:
    """`schedule` from position `start` on, positions renumbered from 0 (the ticks, and so the passes, kept): a
    view of the end of a long prompt and the new positions."""
    checked_count("start", start, 0)
    if start >= schedule.prompt_len:
        raise ValueError(f"start={start!r} must be < prompt_len={schedule.prompt_len} (keep a prompt position)")
    ticks = tuple(ScheduleTick(t.passes, [(s.pos - start, s.first, s.count) for s in t.runs if s.pos >= start],
                               [c - start for c in t.commits if c - start >= 1], t.standing, t.prefill)
                  for t in schedule.ticks)
    return Schedule(schedule.prompt_len - start, ticks)


# ------------------------------------------------------------------------------------------------ trade-off


def tradeoff(evaluation: Mapping[str, Any], max_ar_depth: int = AR_DEPTH) -> dict[str, Any]:
    """The committed sweep as one series per r' ({r': [{eps, core_passes_mean, accuracy}] in decreasing eps}),
    static AR at r <= max_ar_depth from the depth curve, and the paper-defaults point."""
    checked_count("max_ar_depth", max_ar_depth)
    series: dict[int, list[dict[str, float]]] = {}
    for row in evaluation["sweep"]:
        series.setdefault(row["inner"], []).append(
            {"eps": row["eps"], "core_passes_mean": row["core_passes_mean"], "accuracy": row["accuracy"]})
    for rows in series.values():
        rows.sort(key=lambda r: -r["eps"])
    ar = [{"depth": row["depth"], "core_passes_mean": row["core_passes_mean"], "accuracy": row["accuracy"]}
          for row in evaluation["depth_curve"] if row["depth"] <= max_ar_depth]
    claim = evaluation["paper_claim"]
    df = claim["df_paper_defaults"]
    return {"df": dict(sorted(series.items())), "ar": ar,
            "paper_defaults": {"inner": df["inner"], "eps": df["eps"], "core_passes_mean": df["core_passes_mean"],
                               "accuracy": df["accuracy"]},
            "ar_r32": dict(claim["ar_r32"]), "core_pass_ratio": claim["core_pass_ratio"],
            "accuracy_gap_points": claim["accuracy_gap_points"],
            "sweep_examples": evaluation.get("held_out", {}).get("sweep_examples")}
