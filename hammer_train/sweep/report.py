"""The sweep report: one row per point of the folder's manifest (training facts, the final
evaluation's scores, the in-training tool-call curve's summary), written as ``results.csv`` and
``results.md``, with ``irrelevance_sweep.png`` (call and irrelevance accuracy against the
irrelevance share) and, when any point logged tool-call metrics while training,
``training_curves.png`` (:mod:`.curves`)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import tables
from ..results import Results
from .curves import curve_summary, plot_training_curves, read_curve
from .manifest import read_manifest, sweep_lock, update_manifest
from .spec import (
    AXES,
    CSV_FILE,
    CURVES_PNG_FILE,
    MD_FILE,
    PNG_FILE,
    RESULTS_FILE,
    SweepPoint,
    SweepSpec,
    finite_number,
    format_value,
    point_status,
    read_json_or_none,
)


__all__ = [
    "point_results",
    "report_points",
    "collect",
    "write_csv",
    "markdown_table",
    "plot_sweep",
    "write_report",
]


def point_results(folder: str | Path) -> tuple[Results | None, str | None]:
    """A point's ``results.json`` as :class:`~hammer_train.results.Results`: ``(results, None)``,
    ``(None, None)`` when there is no file yet, or ``(None, reason)`` when it cannot be read (not
    JSON, or not a results file; the reason names the file and field)."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        return None, None
    try:
        return Results.load(path), None
    except (OSError, ValueError) as exc:
        return None, str(exc)


def _train_facts(folder: Path) -> dict[str, float | None]:
    report = read_json_or_none(folder / "data_report.json")
    achieved = None
    if isinstance(report, dict) and isinstance(report.get("irrelevance"), dict):
        achieved = finite_number(report["irrelevance"].get("achieved_ratio"))
    loss = None
    history = read_json_or_none(folder / "train_log.json")
    if isinstance(history, list):
        for entry in history:
            if isinstance(entry, dict):
                v = finite_number(entry.get("loss"))
                if v is not None:
                    loss = v
        if loss is None:  # only the end-of-training summary was logged
            for entry in history:
                if isinstance(entry, dict) and finite_number(entry.get("train_loss")) is not None:
                    loss = finite_number(entry["train_loss"])
    return {"achieved_irrelevance_ratio": achieved, "final_loss": loss}


def report_points(spec: SweepSpec) -> list[SweepPoint]:
    """The points a folder's report covers: every point of its manifest (:func:`read_manifest`),
    in the order recorded, then the points of ``spec`` not recorded there."""
    recorded = read_manifest(spec.sweep_dir)["points"]
    points = [SweepPoint(n, dict(v), Path(spec.sweep_dir) / n) for n, v in recorded.items()]
    return points + [p for p in spec.points() if p.name not in recorded]


def collect(spec: SweepSpec) -> list[dict[str, Any]]:
    """One row per point of :func:`report_points`: ``point``, the swept values, ``status`` (see
    :func:`point_status`), ``achieved_irrelevance_ratio`` (from ``data_report.json``),
    ``final_loss`` (last logged training loss, ``train_log.json``), then, when any point logged
    tool-call metrics while training, the curve columns of :func:`~.curves.curve_summary` (every
    row, ``None`` where a point has none), then :meth:`~hammer_train.results.Results.summary` of
    ``results.json`` (``call_accuracy``, ``irrelevance_accuracy``, ``B.api_f1``...; ``None`` where
    unknown) and ``error`` for a ``results.json`` that cannot be read."""
    points = report_points(spec)
    curves = {p.name: curve_summary(read_curve(p.output_dir)) for p in points}
    any_curve = any(c["curve_runs"] for c in curves.values())
    rows = []
    for point in points:
        row: dict[str, Any] = {"point": point.name, **point.values, "status": point_status(point.output_dir)}
        row.update(_train_facts(point.output_dir))
        if any_curve:
            row.update(curves[point.name])
        row.update({"call_accuracy": None, "irrelevance_accuracy": None})
        results, error = point_results(point.output_dir)
        if results is not None:
            row.update(results.summary())
        if error:
            row["error"] = error
        rows.append(row)
    return rows


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        for k in row:
            if k not in cols:
                cols.append(k)
    head = [c for c in cols if "." not in c]
    return head + sorted(c for c in cols if "." in c)


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write the collected rows as CSV (a column per key seen in any row; blanks where unknown)."""
    path = Path(path)
    cols = _columns(rows)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, restval="")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return path


def _axis_cell(v: Any) -> str:
    return format_value(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else tables.cell(v)


_BOLD = ("call_accuracy", "irrelevance_accuracy", "curve_call_accuracy", "curve_irrelevance_accuracy")

_CURVE_NOTE = (
    "curve_*: tool-call metrics logged while training (recipe field tool_call_eval) on the callback's held-out "
    "slice, not the benchmarks above: curve_runs in-training evaluations; curve_call_accuracy (call rows "
    "answered completely right), curve_irrelevance_accuracy and curve_json_valid at the last one; "
    "curve_irrelevance_peak, the best irrelevance accuracy, first reached at curve_irrelevance_peak_step; "
    "curve_cost_share, the callback's share of training time. Curves: training_curves.png."
)


def markdown_table(rows: Sequence[dict[str, Any]], axes: Sequence[str] = tuple(AXES), title: str | None = None) -> str:
    """The collected rows as a Markdown table (:func:`hammer_train.tables.markdown_table`: scores
    to 3 decimals, the swept ``axes`` as typed, ``-`` where unknown), with the best call and
    irrelevance accuracy in bold and a line on how they are computed."""
    columns = [
        tables.Column(
            c,
            lambda r, c=c: r.get(c),
            fmt=_axis_cell if c in axes else None,
            bold_max=c in _BOLD,
        )
        for c in _columns(rows)
        if c != "final_loss"
    ]
    lines = [f"# {title}", ""] if title else []
    lines += [
        tables.markdown_table(rows, columns),
        "",
        "call_accuracy: mean over benchmarks with call rows of BFCL AST accuracy (Hammer API F1 where "
        "there is no AST score); irrelevance_accuracy: mean over benchmarks with refusal rows of the share "
        "answered `[]`; achieved_irrelevance_ratio: share of `[]` rows in the training data "
        "(data_report.json). status: done / trained (not evaluated) / todo.",
        "",
    ]
    if any(c.startswith("curve_") for c in _columns(rows)):
        lines += [_CURVE_NOTE, ""]
    return "\n".join(lines)


def plot_sweep(
    rows: Sequence[dict[str, Any]], path: str | Path, x_axis: str = "irrelevance_ratio", title: str | None = None
) -> Path:
    """Plot call accuracy (solid, circles) and irrelevance accuracy (dashed, squares) against the
    irrelevance share, one colour per setting of the other swept fields (e.g. masking share),
    like the Hammer paper's irrelevance-ratio figure. Points without results are left out; with
    none the figure says so. Written with matplotlib's Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get(x_axis) is None:
            continue
        key = tuple((k, r[k]) for k in r if k in AXES and k != x_axis)
        groups.setdefault(key, []).append(r)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    metrics = (
        ("call_accuracy", "-", "o", "call accuracy"),
        ("irrelevance_accuracy", "--", "s", "irrelevance accuracy"),
    )
    several = len(groups) > 1
    plotted = False
    handles = []
    for i, (key, rs) in enumerate(groups.items()):
        rs = sorted(rs, key=lambda r: r[x_axis])
        label = ", ".join(f"{AXES[k][0] if k in AXES else k} {format_value(v)}" for k, v in key)
        color = colors[i % len(colors)]
        drawn = False
        for metric, style, marker, name in metrics:
            pts = [(100 * r[x_axis], r[metric]) for r in rs if isinstance(r.get(metric), float)]
            if not pts:
                continue
            xs, ys = zip(*pts)
            (line,) = ax.plot(xs, ys, linestyle=style, marker=marker, color=color, label=None if several else name)
            if not several:
                handles.append(line)
            drawn = plotted = True
        if several and drawn:  # one entry per colour, then one per line style
            handles.append(ax.plot([], [], color=color, linewidth=6, alpha=0.8, label=label or "-")[0])
    if several and plotted:
        for _, style, marker, name in metrics:
            handles.append(ax.plot([], [], linestyle=style, marker=marker, color="0.3", label=name)[0])
    if not plotted:
        ax.text(0.5, 0.5, "no evaluated points yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("irrelevance share of training rows (%)" if x_axis == "irrelevance_ratio" else x_axis)
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    if plotted:
        ax.legend(handles=handles, fontsize="small", loc="best")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(spec: SweepSpec) -> dict[str, Path]:
    """Record ``spec``'s points in the folder's ``sweep.json`` (:func:`~.manifest.update_manifest`),
    then collect every point recorded there (:func:`collect`) and write ``results.csv``,
    ``results.md``, ``irrelevance_sweep.png`` and, when any point has an in-training tool-call
    curve, ``training_curves.png`` into the sweep folder, all under the folder's lock. So several
    sweeps run into one folder (the masking ablation runs three) leave one manifest and one report
    that describe all of their points, not only the last sweep's.

    Returns:
        ``{"csv": path, "md": path, "png": path}``, plus ``"curves": path`` when drawn.

    Raises:
        ValueError: an unreadable ``sweep.json`` (see :func:`~.manifest.read_manifest`).
    """
    sweep_dir = Path(spec.sweep_dir)
    with sweep_lock(sweep_dir):
        manifest = update_manifest(spec, spec.points())
        rows = collect(spec)
        axes: list[str] = []
        for values in manifest["points"].values():
            axes += [k for k in values if k not in axes]
        x_axis = "irrelevance_ratio" if "irrelevance_ratio" in axes else axes[0]
        recipes = ", ".join(dict.fromkeys(str(e["recipe"]) for e in manifest["sweeps"]))
        paths = {
            "csv": write_csv(rows, sweep_dir / CSV_FILE),
            "md": _write_text(sweep_dir / MD_FILE, markdown_table(rows, axes, title=f"Sweep {spec.name}: {recipes}")),
            "png": plot_sweep(rows, sweep_dir / PNG_FILE, x_axis=x_axis, title=f"{spec.name}"),
        }
        if any(r.get("curve_runs") for r in rows):
            paths["curves"] = _plot_curves(spec, rows, sweep_dir / CURVES_PNG_FILE)
    return paths


def _plot_curves(spec: SweepSpec, rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """:func:`~.curves.plot_training_curves` of every reported point."""
    items = []
    for point, row in zip(report_points(spec), rows):
        final = {k: row.get(k) for k in ("call_accuracy", "irrelevance_accuracy")}
        items.append({"point": point.name, "curve": read_curve(point.output_dir), "final": final})
    title = f"{spec.name}: tool-call metrics while training (lines) and at the final evaluation (stars)"
    return plot_training_curves(items, path, title=title)


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
