"""Medians, ratios, shares of the machine's peak and the markdown table of ``benchmarks/train_throughput.py``."""

from __future__ import annotations

import statistics
from typing import Any


__all__ = ["RATIOS", "markdown", "summarize"]

RATIOS = (
    ("B", "A"),
    ("C", "A"),
    ("D", "A"),
    ("D", "C"),
    ("Q", "C"),
    ("Qb", "C"),
    ("Dh", "C"),
    ("F", "C"),
    ("L", "C"),
    ("FL", "F"),
)
"""(configuration, reference) pairs reported when both ran."""

KINDS = ("nonpad", "label", "total")


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _share(flops_per_s: float, peak_gflops: float | None) -> float | None:
    return flops_per_s / (peak_gflops * 1e9) if peak_gflops else None


def _config_summary(rs: list[dict[str, Any]], peak: dict[str, Any], datasheet: dict[str, float]) -> dict[str, Any]:
    first = rs[0]
    precision = first["precision"]
    model_fps = _median([r["flops_per_s"]["model"] for r in rs])
    hardware_fps = _median([r["flops_per_s"]["hardware"] for r in rs])
    peak_gflops = (peak.get(precision) or {}).get("best_gflops")
    sheet = datasheet.get(precision)
    return {
        "description": first["description"],
        "settings": first["settings"],
        "precision": precision,
        "head_at": first["head_at"],
        "notes": first.get("notes", []),
        "wall_s": _median([r["wall_s"] for r in rs]),
        "tokens_per_s": {k: _median([r["tokens_per_s"][k] for r in rs]) for k in KINDS},
        "tokens_per_run": first["tokens"],
        "padding_share": _median([r["padding_share"] for r in rs]),
        "peak_rss_mib": _median([r["peak_rss_mib"] for r in rs]),
        "gpu_peak_mib": _median([r["gpu_peak_mib"] for r in rs]) if first["gpu_peak_mib"] is not None else None,
        "flop_spec": first["flop_spec"],
        "flops_per_s": {"model": model_fps, "hardware": hardware_fps},
        # model FLOP/s over the matmul peak measured in this run for the dtype the configuration ran in
        "share_of_peak": {"model": _share(model_fps, peak_gflops), "hardware": _share(hardware_fps, peak_gflops)},
        "share_of_datasheet_peak": _share(model_fps, sheet * 1e3) if sheet else None,
    }


def summarize(
    runs: list[dict[str, Any]], peak: dict[str, Any] | None = None, datasheet: dict[str, float] | None = None
) -> dict[str, Any]:
    """Per configuration medians over repeats, and ratios as medians of per-repeat ratios.

    Args:
        runs: the children's results (``"config"``, ``"repeat"``, ...); failed or skipped runs (with a
            ``"failed"`` or ``"skipped"`` key) are listed apart and left out of medians and ratios.
        peak: :func:`throughput_flops.matmul_peak`'s result (the shares of the peak are None without it).
        datasheet: ``{dtype: TFLOP/s}`` of the device's datasheet, if any.

    Returns:
        ``{"per_config": {...}, "ratios": {"D/A": {...}, ...}, "not_run": {config: reason}}``.
    """
    peak = peak or {}
    datasheet = datasheet or {}
    ok = [r for r in runs if "failed" not in r and "skipped" not in r]
    not_run = {r["config"]: r.get("failed") or r.get("skipped") for r in runs if r not in ok}
    order = list(dict.fromkeys(r["config"] for r in ok))
    by = {c: {r["repeat"]: r for r in ok if r["config"] == c} for c in order}
    per_config = {c: _config_summary(list(by[c].values()), peak, datasheet) for c in order}
    ratios = {}
    for c, ref in RATIOS:
        pairs = [(by[ref][rep], x) for rep, x in by.get(c, {}).items() if rep in by.get(ref, {})]
        if not pairs:
            continue
        ratio = {
            f"{k}_tokens_per_s": _median(
                [x["tokens_per_s"][k] / a["tokens_per_s"][k] for a, x in pairs if a["tokens_per_s"][k]]
            )
            for k in KINDS
        }
        ratio["wall_s"] = _median([x["wall_s"] / a["wall_s"] for a, x in pairs])
        ratio["peak_rss"] = _median([x["peak_rss_mib"] / a["peak_rss_mib"] for a, x in pairs])
        if pairs[0][0]["gpu_peak_mib"]:
            ratio["gpu_peak"] = _median([x["gpu_peak_mib"] / a["gpu_peak_mib"] for a, x in pairs])
        ratios[f"{c}/{ref}"] = ratio
    return {"per_config": per_config, "ratios": ratios, "not_run": not_run}


def _pct(x: float | None) -> str:
    return f"{100 * x:.1f}%" if x is not None else "-"


def _peak_line(peak: dict[str, Any]) -> str:
    """The tables' line on the matmul peak (``throughput_flops.matmul_peak``'s dict; empty: not measured)."""
    if not peak:
        return "Matmul peak not measured (--peak_seconds 0): no share of peak."
    measured = ", ".join(f"{d} {peak[d]['best_gflops']:.0f} GFLOP/s" for d in ("fp32", "bf16") if d in peak)
    bf16 = f"; bf16 not measured: {peak['bf16_not_measured']}" if "bf16_not_measured" in peak else ""
    return f"Matmul peak measured in this run: {measured} ({peak.get('device', '?')}){bf16}."


def markdown(summary: dict[str, Any], meta: dict[str, Any], settings: dict[str, Any]) -> str:
    """The tables printed at the end of a run (configurations, ratios, peak)."""
    pc = summary["per_config"]
    gpu = any(v["gpu_peak_mib"] is not None for v in pc.values())
    sheet = any(v["share_of_datasheet_peak"] is not None for v in pc.values())
    peak = settings.get("peak") or {}
    lines = [
        f"Model: {meta.get('arch', 'recipe')} ({meta.get('model', meta.get('parameters', ''))}); rows: {meta['rows']} "
        f"(of {meta['rows_built']} built), {settings['steps']} timed steps after 1 warmup, {settings['repeats']} "
        f"repeat(s), {settings['threads']} thread(s); medians over repeats.",
        _peak_line(peak),
        "",
        "| config | precision | checkpointing | head at | non-pad tok/s | label tok/s | total tok/s | padding "
        "| model GFLOP/s | share of peak (model / with recompute) | "
        + ("GPU peak MiB |" if gpu else "peak RSS MiB |")
        + (" MFU vs datasheet |" if sheet else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if sheet else ""),
    ]
    for c, v in pc.items():
        t = v["tokens_per_s"]
        share = v["share_of_peak"]
        mem = v["gpu_peak_mib"] if gpu else v["peak_rss_mib"]
        row = (
            f"| {c}: {v['description']} | {v['precision']} | {v['settings']['activation_checkpointing']} "
            f"| {v['head_at']} | {t['nonpad']:.1f} | {t['label']:.2f} | {t['total']:.1f} | {v['padding_share']:.3f} "
            f"| {v['flops_per_s']['model'] / 1e9:.1f} | {_pct(share['model'])} / {_pct(share['hardware'])} | {mem:.0f} |"
        )
        if sheet:
            row += f" {_pct(v['share_of_datasheet_peak'])} |"
        lines.append(row)
    if summary["ratios"]:
        lines += _ratio_table(summary["ratios"], gpu)
    for c, v in pc.items():
        lines += [f"\n{c}: {note}" for note in v["notes"]]
    for c, reason in summary.get("not_run", {}).items():
        last = reason.strip().splitlines()[-1] if reason.strip() else reason
        lines.append(f"\n{c} did not run: {last}")
    return "\n".join(lines)


def _ratio_table(ratios: dict[str, Any], gpu: bool) -> list[str]:
    lines = [
        "",
        "| ratio (median of per-repeat ratios) | non-pad tok/s | label tok/s | total tok/s | wall | peak RSS"
        + (" | GPU peak |" if gpu else " |"),
        "|---|---|---|---|---|---|" + ("---|" if gpu else ""),
    ]
    for name, r in ratios.items():
        row = (
            f"| {name} | {r['nonpad_tokens_per_s']:.3f} | {r['label_tokens_per_s']:.3f} | {r['total_tokens_per_s']:.3f} "
            f"| {r['wall_s']:.3f} | {r['peak_rss']:.3f} |"
        )
        if gpu:
            row += f" {r.get('gpu_peak', float('nan')):.3f} |"
        lines.append(row)
    return lines
