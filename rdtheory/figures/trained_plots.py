"""Figures of the shipped trained model from the values of `rdtheory.figures.trained`: the depth curve, the
latents' convergence, the schedules the samplers ran, the recurrences each new position received, and the eps/r'
trade-off. Each function returns a Figure on an Agg canvas (`rdtheory.figures.output`); matplotlib is imported only
when a figure is drawn.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from rdtheory.figures.output import new_figure
from rdtheory.figures.schedules import schedules_figure, trace_schedules
from rdtheory.figures.trained import checked_count, cropped

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


def sampler_schedules_figure(runs: Mapping[str, Any], row: int = 0, context: int = 2) -> Any:
    """The (position × recurrence step) grids the runs executed for `row`, coloured by serial pass, showing the
    last `context` prompt positions and the new ones (x labels are absolute positions)."""
    from matplotlib.ticker import FuncFormatter

    checked_count("context", context, 1)
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


def _plain_log_ticks(axis: Any) -> None:
    """Label a log axis at 1, 2, 5 times powers of ten in plain numbers, and leave minor ticks unlabelled."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


def tradeoff_figure(data: Mapping[str, Any]) -> Any:
    """Left: accuracy against mean serial core passes per example (log x, prefill included), one line per r' with
    its points labelled by eps (points too close to label apart share a label, largest eps first), static AR at
    r = 1..32 as the reference, the paper's defaults starred. Right: the passes against eps per r', with AR r = 32."""
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
    ax.set_ylim(-0.03, 1.35)  # room for the eps labels above the points; accuracy ticks stop at 1
    ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
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
    _plain_log_ticks(right.yaxis)
    right.invert_xaxis()
    right.set_xlabel("exit threshold eps (smaller: later exits)")
    right.set_ylabel("serial core passes per example (mean)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, 0.93))
    right.set_title("what eps and r' cost", fontsize=10)
    return fig
