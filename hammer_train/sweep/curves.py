"""Tool-call curves: the in-training metrics of :class:`hammer_train.callbacks.ToolCallEvalCallback`
(recipe field ``tool_call_eval: true``) read back from each point's ``train_log.json``, summarised
for the sweep table and drawn next to the final evaluation in ``training_curves.png``.

The callback logs through the trainer, so ``train_log.json`` (the trainer's log history) holds one
entry per run, e.g. ``{"step": 40, "tool_call/argument_accuracy": 0.5,
"tool_call/irrelevance_accuracy": 0.25, ...}``. The key names live in :data:`CURVE_KEYS` only.

"Call accuracy" in training is the callback's ``argument_accuracy``: call rows answered completely
right, arguments included (BFCL's AST check on a BFCL slice). That is what the final evaluation's
``call_accuracy`` measures (BFCL AST accuracy, :meth:`hammer_train.results.Results.summary`), on
the sweep's own benchmarks rather than the callback's held-out slice, so the two are comparable in
kind, not row for row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .spec import finite_number, read_json_or_none


__all__ = ["CURVE_KEYS", "COST_KEYS", "Curve", "read_curve", "curve_summary", "plot_training_curves"]

CURVE_KEYS: dict[str, tuple[str, ...]] = {
    "call_accuracy": ("tool_call/argument_accuracy",),
    "irrelevance_accuracy": ("tool_call/irrelevance_accuracy",),
    "name_accuracy": ("tool_call/name_accuracy", "tool_call/function_accuracy"),
    "renamed_name_accuracy": ("tool_call/renamed_name_accuracy", "tool_call/renamed_function_accuracy"),
    "json_valid": ("tool_call/json_valid",),
}
"""Our metric name -> the ``train_log.json`` keys it is read from (first one present wins)."""

COST_KEYS = ("tool_call/final_cost_share", "tool_call/cost_share")
"""Keys of the callback's cost as a share of training time (the end-of-training total first)."""

ERROR_KEY = "tool_call/errors"
"""Logged instead of scores when generation failed on some rank."""


@dataclass
class Curve:
    """A point's in-training tool-call metrics.

    Attributes:
        points: ``[{"step": int, metric: float | None, ...}]`` in step order, one per callback run
            with scores (metric names: the keys of :data:`CURVE_KEYS`).
        failed_runs: callback runs that logged ``tool_call/errors`` instead of scores.
        cost_share: the callback's seconds over training seconds (last one logged), or ``None``.
        last_step: the last optimizer step of any log entry (where the final evaluation is drawn).
    """

    points: list[dict[str, Any]] = field(default_factory=list)
    failed_runs: int = 0
    cost_share: float | None = None
    last_step: int | None = None

    def values(self, metric: str) -> list[tuple[int, float]]:
        """``[(step, value)]`` of one metric where it was logged."""
        return [(p["step"], p[metric]) for p in self.points if p.get(metric) is not None]


def _metric(entry: dict[str, Any], keys: Sequence[str]) -> float | None:
    return next((finite_number(entry[k]) for k in keys if k in entry), None)


def read_curve(folder: str | Path) -> Curve:
    """The curve in ``<folder>/train_log.json``: an empty :class:`Curve` when the file is missing
    or unreadable (a point still training) or holds no tool-call entry (callback off)."""
    history = read_json_or_none(Path(folder) / "train_log.json")
    curve = Curve()
    if not isinstance(history, list):
        return curve
    for entry in history:
        if not isinstance(entry, dict):
            continue
        step = entry.get("step")
        if isinstance(step, int) and not isinstance(step, bool):
            curve.last_step = max(step, curve.last_step or step)
        cost = _metric(entry, COST_KEYS)
        if cost is not None:
            curve.cost_share = cost
        if ERROR_KEY in entry:
            curve.failed_runs += 1
            continue
        scores = {name: _metric(entry, keys) for name, keys in CURVE_KEYS.items()}
        if isinstance(step, int) and any(v is not None for v in scores.values()):
            curve.points.append({"step": step, **scores})
    curve.points.sort(key=lambda p: p["step"])
    return curve


def curve_summary(curve: Curve) -> dict[str, Any]:
    """Columns for the sweep table (all ``None`` for a point without a curve):

    * ``curve_runs``: callback runs with scores;
    * ``curve_call_accuracy``, ``curve_irrelevance_accuracy``, ``curve_json_valid``: the last
      in-training values (the model that was saved);
    * ``curve_irrelevance_peak`` and ``curve_irrelevance_peak_step``: the best in-training
      irrelevance accuracy and its first step (refusal learned, and maybe lost again later);
    * ``curve_cost_share``: the callback's share of training time.
    """

    def last(metric: str) -> float | None:
        values = curve.values(metric)
        return values[-1][1] if values else None

    irr = curve.values("irrelevance_accuracy")
    peak = max(irr, key=lambda sv: sv[1], default=None)  # max keeps the first of equal values
    return {
        "curve_runs": len(curve.points) or None,
        "curve_call_accuracy": last("call_accuracy"),
        "curve_irrelevance_accuracy": last("irrelevance_accuracy"),
        "curve_irrelevance_peak": peak[1] if peak else None,
        "curve_irrelevance_peak_step": peak[0] if peak else None,
        "curve_json_valid": last("json_valid"),
        "curve_cost_share": curve.cost_share,
    }


_PANELS = (
    ("call_accuracy", "call accuracy (whole call right)"),
    ("irrelevance_accuracy", "irrelevance accuracy (answers [])"),
    (None, "call vs irrelevance accuracy as training goes"),
    ("name_accuracy", "function-name accuracy"),
    ("renamed_name_accuracy", "name accuracy, renamed tools"),
    ("json_valid", "valid JSON share"),
)


def _draw_point(axes, color: str, curve: Curve, final: dict[str, Any]) -> None:
    """One point on every panel: its curve (line) and its final evaluation (star)."""
    for ax, (metric, _) in zip(axes, _PANELS):
        if metric is None:  # the trajectory panel: x irrelevance, y call accuracy
            pairs = [
                (p["irrelevance_accuracy"], p["call_accuracy"])
                for p in curve.points
                if p.get("irrelevance_accuracy") is not None and p.get("call_accuracy") is not None
            ]
            if pairs:
                xs, ys = zip(*pairs)
                ax.plot(xs, ys, "-", color=color, alpha=0.7, marker=".", markersize=5)
                ax.plot(xs[0], ys[0], "o", color=color, markerfacecolor="white", markersize=6)
                ax.plot(xs[-1], ys[-1], "o", color=color, markersize=6)
            fx, fy = finite_number(final.get("irrelevance_accuracy")), finite_number(final.get("call_accuracy"))
            if fx is not None and fy is not None:
                ax.plot(fx, fy, "*", color=color, markersize=13, markeredgecolor="black", markeredgewidth=0.5)
            continue
        values = curve.values(metric)
        if values:
            xs, ys = zip(*values)
            ax.plot(xs, ys, "-", color=color, marker="o", markersize=3)
        value = finite_number(final.get(metric))
        if value is not None and curve.last_step is not None:
            ax.plot(
                curve.last_step, value, "*", color=color, markersize=13, markeredgecolor="black", markeredgewidth=0.5
            )


def plot_training_curves(points: Sequence[dict[str, Any]], path: str | Path, title: str | None = None) -> Path:
    """Draw the in-training tool-call metrics of every point next to its final evaluation.

    Six panels: call accuracy, irrelevance accuracy and their trajectory (x irrelevance, y call
    accuracy; hollow circle at the first run, filled at the last), then function-name accuracy,
    name accuracy with renamed tools and the valid-JSON share, each over optimizer steps. One
    colour per point; lines are the callback's held-out slice, stars the final evaluation
    (``results.json``: call and irrelevance accuracy, drawn at the point's last step). A point
    without a curve is drawn with its stars only (the trajectory panel; the step panels too when
    ``train_log.json`` gives its last step); one with neither is left out. Written with
    matplotlib's Agg backend.

    Args:
        points: ``[{"point": name, "curve": Curve, "final": {"call_accuracy", "irrelevance_accuracy"}}]``.
        path: the PNG to write.
        title: the figure's title.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig, grid = plt.subplots(2, 3, figsize=(14, 8), dpi=110)
    axes = list(grid.flat)
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    handles = []
    drawn = [
        p
        for p in points
        if p["curve"].points or any(finite_number(v) is not None for v in (p.get("final") or {}).values())
    ]
    for i, item in enumerate(drawn):  # a point with neither curve nor evaluation is left out
        color = colors[i % len(colors)]
        _draw_point(axes, color, item["curve"], item.get("final") or {})
        handles.append(Line2D([], [], color=color, linewidth=6, alpha=0.8, label=item["point"]))
    handles += [
        Line2D([], [], color="0.3", marker="o", markersize=3, label="in training (held-out slice)"),
        Line2D([], [], color="0.3", marker="*", markersize=12, linestyle="", label="final evaluation"),
        Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="", label="first run (trajectory)"),
        Line2D([], [], color="0.3", marker="o", linestyle="", label="last run (trajectory)"),
    ]
    for ax, (metric, label) in zip(axes, _PANELS):
        ax.set_title(label, fontsize="medium")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(True, alpha=0.3)
        if metric is None:
            ax.set_xlim(-0.03, 1.03)
            ax.set_xlabel("irrelevance accuracy")
            ax.set_ylabel("call accuracy")
        else:
            ax.set_xlabel("optimizer step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    rows = -(-len(handles) // 8)
    fig.tight_layout(rect=(0, 0.03 + 0.03 * rows, 1, 1))
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
