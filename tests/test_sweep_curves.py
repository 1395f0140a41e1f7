"""In-training tool-call curves in the sweep report (hammer_train.sweep.curves): read back from
train_log.json files shaped like the trainer's log history with ToolCallEvalCallback's entries,
summarised in the table, drawn in training_curves.png; points without curves are drawn without."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import TINY_RECIPE as RECIPE
from hypothesis import given
from hypothesis import strategies as st

from hammer_train.sweep import SweepSpec, curve_summary, read_curve, write_report


def tool_call_entry(step: int, call: float, irr: float | None, **extra) -> dict:
    """One log-history entry as the callback logs it (Trainer.log adds epoch and step)."""
    entry = {
        "tool_call/name_accuracy": min(1.0, call + 0.1),
        "tool_call/argument_accuracy": call,
        "tool_call/json_valid": 0.9,
        "tool_call/irrelevance_accuracy": irr,
        "tool_call/renamed_name_accuracy": call / 2,
        "tool_call/call_refusal": 0.0,
        "tool_call/seconds": 2.5,
        "tool_call/cost_share": 0.04,
        "epoch": step / 100,
        "step": step,
    }
    entry.update(extra)
    return entry


def write_point(folder: Path, log: list[dict] | None, call: float | None = None, irr: float | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_model.safetensors").write_bytes(b"x")
    if log is not None:
        (folder / "train_log.json").write_text(json.dumps(log))
    if call is not None:
        results = {
            "benchmarks": {
                "bfcl_simple": {"bfcl_ast": {"accuracy": call}},
                "bfcl_irrelevance": {"bfcl_ast": {"accuracy": irr}},
            }
        }
        (folder / "results.json").write_text(json.dumps(results))


LOG = [
    {"loss": 2.1, "grad_norm": 1.0, "learning_rate": 5e-5, "epoch": 0.08, "step": 8},
    tool_call_entry(16, 0.40, 0.50),
    tool_call_entry(8, 0.20, 0.00),
    {"tool_call/errors": 1, "tool_call/seconds": 0.1, "tool_call/cost_share": 0.05, "epoch": 0.2, "step": 20},
    tool_call_entry(24, 0.55, 0.50),
    {"loss": 1.2, "epoch": 0.24, "step": 24},
    {"tool_call/total_seconds": 7.6, "tool_call/runs": 4, "tool_call/final_cost_share": 0.061, "step": 24},
    {"train_runtime": 120.0, "train_loss": 1.5, "epoch": 0.24, "step": 24},
]


def test_read_curve_and_summary(tmp_path: Path):
    write_point(tmp_path / "p", LOG)
    curve = read_curve(tmp_path / "p")
    assert [p["step"] for p in curve.points] == [8, 16, 24]  # sorted; the failed run left out
    assert curve.values("call_accuracy") == [(8, 0.2), (16, 0.4), (24, 0.55)]
    assert curve.values("name_accuracy")[-1] == (24, pytest.approx(0.65))
    assert curve.failed_runs == 1 and curve.cost_share == 0.061 and curve.last_step == 24
    summary = curve_summary(curve)
    assert summary == {
        "curve_runs": 3,
        "curve_call_accuracy": 0.55,
        "curve_irrelevance_accuracy": 0.5,
        "curve_irrelevance_peak": 0.5,
        "curve_irrelevance_peak_step": 16,  # first reached at step 16
        "curve_json_valid": 0.9,
        "curve_cost_share": 0.061,
    }
    # An older key name is read through the mapping; no log, or a log without the callback: no curve.
    write_point(tmp_path / "old", [{"step": 5, "tool_call/function_accuracy": 0.3}])
    assert read_curve(tmp_path / "old").values("name_accuracy") == [(5, 0.3)]
    assert read_curve(tmp_path / "none").points == []
    write_point(tmp_path / "plain", [{"loss": 1.0, "step": 3}])
    plain = read_curve(tmp_path / "plain")
    assert plain.points == [] and plain.last_step == 3
    assert set(curve_summary(plain).values()) == {None}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from([0.0, 0.25, 0.5, 1.0])), min_size=1, max_size=12))
def test_irrelevance_peak_is_the_first_step_reaching_the_maximum(pairs):
    from hammer_train.sweep.curves import Curve

    points = sorted({s: v for s, v in pairs}.items())
    curve = Curve(points=[{"step": s, "irrelevance_accuracy": v} for s, v in points])
    summary = curve_summary(curve)
    best = max(v for _, v in points)
    assert summary["curve_irrelevance_peak"] == best
    assert summary["curve_irrelevance_peak_step"] == min(s for s, v in points if v == best)


def test_report_draws_curves_and_points_without_them(tmp_path: Path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE)
    spec = SweepSpec(recipe=str(recipe), axes={"irrelevance_ratio": [0.0, 0.1, 0.2, 0.3]}, sweep_dir=tmp_path / "s")
    write_point(spec.sweep_dir / "irr0", LOG, call=0.6, irr=0.1)
    write_point(spec.sweep_dir / "irr0.1", [{"loss": 1.0, "step": 24}], call=0.5, irr=0.4)  # callback off
    write_point(spec.sweep_dir / "irr0.2", LOG)  # trained, not evaluated yet
    paths = write_report(spec)  # irr0.3: not started
    assert paths["curves"].read_bytes()[:4] == b"\x89PNG"
    with open(paths["csv"], newline="") as f:
        rows = {r["point"]: r for r in csv.DictReader(f)}
    assert rows["irr0"]["curve_call_accuracy"] == "0.55" and rows["irr0"]["call_accuracy"] == "0.6"
    assert rows["irr0.1"]["curve_runs"] == "" and rows["irr0.1"]["call_accuracy"] == "0.5"
    assert rows["irr0.2"]["status"] == "trained" and rows["irr0.2"]["curve_irrelevance_peak_step"] == "16"
    md = paths["md"].read_text()
    assert "curve_irrelevance_peak" in md and "training_curves.png" in md

    # A sweep whose recipe never logged tool-call metrics: no curve columns, no curve figure.
    plain = SweepSpec(recipe=str(recipe), axes={"irrelevance_ratio": [0.1]}, sweep_dir=tmp_path / "plain")
    write_point(plain.sweep_dir / "irr0.1", [{"loss": 1.0, "step": 24}], call=0.5, irr=0.4)
    paths = write_report(plain)
    assert "curves" not in paths and not (plain.sweep_dir / "training_curves.png").exists()
    assert "curve_" not in paths["md"].read_text()
