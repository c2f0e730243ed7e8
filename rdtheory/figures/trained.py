"""The paper's phenomena on the shipped trained model `rdtheory/looped-tiny` (grid reachability,
`rdtheory.training.task`): the depth curve, the convergence of the latents, the schedule the diffusion-forcing
sampler actually ran against static AR, and the speed/accuracy trade-off of the sampler's knobs.

Two sources, drawn side by side: the committed measurement in the model's `evaluation.json` (written by
`python -m rdtheory.training.evaluate`, on 256 held-out examples) and a small live re-measurement with the same
functions (`rdtheory.training.evaluate`) on the first held-out examples, so that a figure shows both what the model
card reports and that the shipped weights still give it. Everything runs on the CPU in float32, greedy, with the
samplers' default random initial state.

Data functions return plain values (dicts and lists, tested); plotting functions return a Figure on an Agg canvas
(`rdtheory.figures.output`). torch and the model are imported when a function needs them, matplotlib only when a
figure is drawn.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdtheory.figures.output import new_figure
from rdtheory.figures.schedules import schedules_figure, trace_schedules
from rdtheory.theory import Schedule
from rdtheory.theory.schedule import ScheduleTick

MODEL = "rdtheory/looped-tiny"
EVALUATION = "evaluation.json"
# The paper's defaults as `rdtheory.training.evaluate` runs them: r' = 4, LatentDiff(0.03), eta = 0.1, W = 128,
# prefill depth r = 32, at most 2r recurrences a position (the sampler's default). Repeated here so that importing
# this module does not import torch; the tests check them against the committed evaluation.
PAPER_DEFAULTS = {"inner": 4, "eps": 0.03, "ema": 0.1, "max_wavefront": 128, "depth": 32}
AR_DEPTH = 32
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


def _count(name: str, value: object, minimum: int = 1) -> int:
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

    return dataset(HELD_OUT_SEED, _count("n", n))


# ------------------------------------------------------------------------------------------------ depth curve


def depth_curves(model: Any, evaluation: Mapping[str, Any], n_examples: int = SMALL.depth_examples,
                 depths: Sequence[int] = SMALL.depths) -> dict[str, Any]:
    """The committed depth curve (static AR at r: exact match, teacher-forced exact match, per answer cell, core
    passes) and the same measured live on the first `n_examples` held-out examples at `depths`."""
    from rdtheory.training.evaluate import depth_curve

    depths = _depths(depths)
    examples = held_out(_count("n_examples", n_examples))
    with _one_thread():
        live = depth_curve(model, examples, depths)
    return {"committed": list(evaluation["depth_curve"]), "live": live, "live_examples": n_examples,
            "committed_examples": evaluation.get("held_out", {}).get("examples")}


CURVE_METRICS = (("accuracy", "exact match (free-running)", "-"),
                 ("teacher_forced_accuracy", "exact match, teacher forced", "--"),
                 ("cell_accuracy", "per answer cell", ":"))


def depth_curve_figure(curves: Mapping[str, Any]) -> Any:
    """Accuracy of static AR against the depth r (log x): committed lines, live re-measurement as open markers."""
    fig, ax = new_figure(width=6.5, height=4.2)
    committed, live = curves["committed"], curves["live"]
    for i, (key, label, style) in enumerate(CURVE_METRICS):
        colour = f"C{i}"
        ax.plot([row["depth"] for row in committed], [row[key] for row in committed], style, color=colour,
                marker="o", markersize=4, label=f"{label} (committed, n={curves.get('committed_examples')})")
        ax.plot([row["depth"] for row in live], [row[key] for row in live], linestyle="none", marker="s",
                markersize=8, markerfacecolor="none", markeredgecolor=colour,
                label=f"{label} (live, n={curves['live_examples']})")
    ax.set_xscale("log", base=2)
    depths = sorted({row["depth"] for row in committed} | {row["depth"] for row in live})
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_xlabel("recurrences per token r (static AR)")
    ax.set_ylabel("accuracy on held-out grids")
    ax.set_ylim(top=1.01)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("depth curve of rdtheory/looped-tiny", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------ latents


def latent_curves(model: Any, evaluation: Mapping[str, Any], n_examples: int = SMALL.latent_examples,
                  max_depth: int = SMALL.latent_depth) -> dict[str, Any]:
    """The committed latent convergence (median and 90th percentile of ||z_k - z_(k-1)|| / ||z_k|| over answer
    positions, teacher forced) and the same measured live on the first `n_examples` held-out examples."""
    from rdtheory.training.evaluate import latent_convergence

    examples = held_out(_count("n_examples", n_examples))
    with _one_thread():
        live = latent_convergence(model, examples, _count("max_depth", max_depth))
    return {"committed": dict(evaluation["latent_convergence"]), "live": live, "live_examples": n_examples}


def latent_figure(curves: Mapping[str, Any]) -> Any:
    """Relative latent change against the step k (log y), with the exit threshold and the committed first step
    below it."""
    fig, ax = new_figure(width=6.5, height=4.2)
    for source, style, width in (("committed", "-", 1.6), ("live", "--", 1.0)):
        lat = curves[source]
        n = f"n={curves['live_examples']}" if source == "live" else "committed"
        for key, colour, label in (("median_relative_change", "C0", "median"),
                                   ("p90_relative_change", "C1", "90th percentile")):
            values = lat[key]
            ax.plot(range(1, len(values) + 1), values, style, color=colour, linewidth=width,
                    label=f"{label} ({n})")
    committed = curves["committed"]
    threshold = committed["threshold"]
    ax.axhline(threshold, color="black", linewidth=0.8, linestyle=":", label=f"exit threshold {threshold}")
    first = committed.get("first_step_below_threshold")
    if first is not None:
        ax.axvline(first, color="grey", linewidth=0.8, linestyle=":",
                   label=f"median below threshold from k={first}")
    ax.set_yscale("log")
    ax.set_xlabel("recurrence step k")
    ax.set_ylabel("||z_k - z_(k-1)|| / ||z_k|| over answer positions")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("the latents settle to a fixed point", fontsize=10)
    return fig


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

    _count("example", example, 0)
    missing = sorted(set(PAPER_DEFAULTS) - set(defaults))
    if missing:
        raise ValueError(f"defaults={dict(defaults)!r} must set {sorted(PAPER_DEFAULTS)}; it lacks {missing}")
    ex = held_out(example + 1)[example]
    prompt, n_new = [encode(ex.prompt)], len(ex.answer) + 1
    d = defaults
    _count("ar_depth", ar_depth)
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
    _count("start", start, 0)
    if start >= schedule.prompt_len:
        raise ValueError(f"start={start!r} must be < prompt_len={schedule.prompt_len} (keep a prompt position)")
    ticks = tuple(ScheduleTick(t.passes, [(s.pos - start, s.first, s.count) for s in t.runs if s.pos >= start],
                               [c - start for c in t.commits if c - start >= 1], t.standing, t.prefill)
                  for t in schedule.ticks)
    return Schedule(schedule.prompt_len - start, ticks)


def sampler_schedules_figure(runs: Mapping[str, Any], row: int = 0, context: int = 2) -> Any:
    """The (position × recurrence step) grids the runs executed for `row`, coloured by serial pass, showing the
    last `context` prompt positions and the new ones (x labels are absolute positions)."""
    from matplotlib.ticker import FuncFormatter

    _count("context", context, 1)
    schedules = trace_schedules(runs, row)
    start = min(max(s.prompt_len - context, 0) for s in schedules.values())
    prefill = {s.ticks[0].passes for s in schedules.values() if s.ticks and s.ticks[0].prefill}
    title = "the schedules the samplers ran on one held-out grid, coloured by serial pass"
    if len(prefill) == 1:
        title += f" (the prefill is passes 1-{prefill.pop()})"
    fig = schedules_figure({name: cropped(s, start) for name, s in schedules.items()}, title, annotate=True)
    fig.set_size_inches(5.0 * len(schedules) + 1.5, 9.0)
    for ax in fig.axes[:len(schedules)]:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x + start:.0f}"))
    return fig


def recurrences_figure(recurrences: Mapping[str, Mapping[int, int]], answer: str | None = None) -> Any:
    """Bars: recurrences each new position received, one bar per run side by side. answer: the correct answer,
    whose characters label the positions they are decoded into."""
    if not recurrences or not all(recurrences.values()):
        raise ValueError(f"recurrences={dict(recurrences)!r} must give at least one position for each run")
    fig, ax = new_figure(width=6.5, height=3.8)
    positions = sorted({p for counts in recurrences.values() for p in counts})
    width = 0.8 / len(recurrences)
    for i, (name, counts) in enumerate(recurrences.items()):
        xs = [j + (i - (len(recurrences) - 1) / 2) * width for j in range(len(positions))]
        total = sum(counts.values())
        ax.bar(xs, [counts.get(p, 0) for p in positions], width=width, color=f"C{i}",
               label=f"{name}: {total} recurrences in all")
    labels = [str(p) for p in positions]
    if answer is not None:
        labels = [f"{p}\n→{answer[j]}" if j < len(answer) else f"{p}\n→end" for j, p in enumerate(positions)]
    ax.set_xticks(range(len(positions)), labels, fontsize=7)
    ax.set_xlabel("position after the prompt (→ the answer token it decodes)")
    ax.set_ylabel("recurrences")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_ylim(0, 1.25 * max(max(c.values()) for c in recurrences.values()))
    ax.set_title("recurrences per new position: adaptive exits against static depth", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------ trade-off


def tradeoff(evaluation: Mapping[str, Any], max_ar_depth: int = AR_DEPTH) -> dict[str, Any]:
    """The committed sweep as one series per r' ({r': [{eps, core_passes_mean, accuracy}] in decreasing eps}),
    static AR at r <= max_ar_depth from the depth curve, and the paper-defaults point."""
    _count("max_ar_depth", max_ar_depth)
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


def _label_groups(rows: Sequence[Mapping[str, float]], spread: float = 0.08) -> list[list[Mapping[str, float]]]:
    """Consecutive points too close to label apart (passes within `spread` of the group's first point, accuracy
    within 0.005), grouped so that each group gets one label."""
    groups: list[list[Mapping[str, float]]] = []
    for r in rows:
        if groups and (abs(r["core_passes_mean"] / groups[-1][0]["core_passes_mean"] - 1) < spread
                       and abs(r["accuracy"] - groups[-1][0]["accuracy"]) < 0.005):
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def _eps_label(group: Sequence[Mapping[str, float]]) -> str:
    first, last = group[0]["eps"], group[-1]["eps"]
    return f"eps {first:g}" if len(group) == 1 else f"eps {first:g}–{last:g}"


def tradeoff_figure(data: Mapping[str, Any]) -> Any:
    """Left: accuracy against mean serial core passes per example (log x, prefill included), one line per r' with
    its points labelled by eps (points too close to label apart share a label, largest eps first), static AR at
    r = 1..32 as the reference, the paper's defaults starred. Right: the passes against eps per r', with AR r = 32."""
    from matplotlib.ticker import ScalarFormatter

    if not data["df"]:
        raise ValueError("data['df']={} must hold at least one r' series")
    fig, (ax, right) = new_figure(1, 2, width=11.0, height=4.8, width_ratios=(3, 2))
    ar = data["ar"]
    ax.plot([r["core_passes_mean"] for r in ar], [r["accuracy"] for r in ar], "-", color="black", marker="o",
            markersize=4, linewidth=1.2, label="static AR, r = " + ", ".join(str(r["depth"]) for r in ar))
    for r in ar:
        ax.annotate(f"r={r['depth']}", (r["core_passes_mean"], r["accuracy"]), textcoords="offset points",
                    xytext=(3, -9), fontsize=6)
    for i, (inner, rows) in enumerate(data["df"].items()):
        colour = f"C{i}"
        label = f"DF, r'={inner}, LatentDiff(eps)"
        for axis in (ax, right):
            x = [r["core_passes_mean"] for r in rows]
            axis.plot(x if axis is ax else [r["eps"] for r in rows], [r["accuracy"] for r in rows] if axis is ax
                      else x, "-", color=colour, marker="s", markersize=4, linewidth=1.0, label=label)
        for group in _label_groups(rows):
            ax.annotate(_eps_label(group), (group[0]["core_passes_mean"], group[0]["accuracy"]),
                        textcoords="offset points", xytext=(0, 6), fontsize=6, color=colour, rotation=90,
                        ha="center", va="bottom")
    paper = data["paper_defaults"]
    ax.plot([paper["core_passes_mean"]], [paper["accuracy"]], marker="*", markersize=14, color="gold",
            markeredgecolor="black", linestyle="none",
            label=f"paper defaults (r'={paper['inner']}, eps={paper['eps']}): "
                  f"\n{data['core_pass_ratio']:.2f}x fewer passes than AR r=32, accuracy "
                  f"{paper['accuracy']:.3f} against {data['ar_r32']['accuracy']:.3f}")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + 0.5 * (high - low))  # room for the eps labels above the points
    ax.set_xscale("log")
    ax.set_xlabel("serial core passes per example (mean, prefill included)")
    ax.set_ylabel("exact-match accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    n = data.get("sweep_examples")
    ax.set_title("speed against accuracy" + (f" (DF sweep: {n} held-out grids)" if n else ""), fontsize=10)
    right.axhline(data["ar_r32"]["core_passes_mean"], color="black", linewidth=1.0, linestyle="--",
                  label="static AR, r=32")
    right.plot([paper["eps"]], [paper["core_passes_mean"]], marker="*", markersize=14, color="gold",
               markeredgecolor="black", linestyle="none", label="paper defaults")
    right.set_xscale("log")
    right.set_yscale("log")
    right.yaxis.set_major_formatter(ScalarFormatter())
    right.yaxis.set_minor_formatter(ScalarFormatter())
    right.tick_params(axis="y", which="minor", labelsize=7)
    right.invert_xaxis()
    right.set_xlabel("exit threshold eps (smaller: later exits)")
    right.set_ylabel("serial core passes per example (mean)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, 0.93))
    right.set_title("what eps and r' cost", fontsize=10)
    return fig
