"""The masking ablation (hammer_train.ablation) with a fake runner: three runs with the right
recipe fields, a table with plain vs renamed scores, finished runs not trained again, and a folder
shared by several sweeps whose manifest and report describe every run in it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import TINY_RECIPE as RECIPE

from hammer_train import ablation
from hammer_train.sweep import SweepSpec, read_manifest, run_sweep


def _results(mask: float, irr: float) -> dict:
    return {
        "meta": {"wall_seconds": 120.0},
        "benchmarks": {
            "sealtool": {
                "subset": "first 4 of 294 rows (--limit 4)",
                "hammer": {"api_f1": 0.8, "args_f1": 0.4, "gold_calls": 4},
                "renamed_from": None,
            },
            "sealtool_renamed": {
                "subset": "first 4",
                "hammer": {"api_f1": 0.3 + 0.6 * mask, "args_f1": 0.1, "gold_calls": 4},
                "renamed_from": "sealtool",
            },
            "bfcl_irrelevance": {
                "subset": "first 4",
                "irrelevance": {"irrelevance_n": 4, "irrelevance_accuracy": irr * 5, "relevance_n": 0},
            },
        },
    }


class FakeRunner:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []

    def __call__(self, point, steps, env) -> int:
        for step in steps:
            self.calls.append((point.name, step.stage, step.argv))
            point.output_dir.mkdir(parents=True, exist_ok=True)
            if step.stage == "train":
                (point.output_dir / "adapter_model.safetensors").write_bytes(b"x")
                (point.output_dir / "train_log.json").write_text(json.dumps([{"loss": 1.0}, {"train_runtime": 300.0}]))
            else:
                v = point.values
                (point.output_dir / "results.json").write_text(
                    json.dumps(_results(v["masking_row_prob"], v["irrelevance_ratio"]))
                )
        return 0


def test_three_runs_table_and_skip(tmp_path: Path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE)
    argv = ["--recipe", str(recipe), "--sweep_dir", str(tmp_path / "abl"), "--limit", "4", "--max_steps", "3"]
    runner = FakeRunner()
    assert ablation.main(argv, runner=runner) == 0
    trains = [(name, a) for name, stage, a in runner.calls if stage == "train"]
    assert [n for n, _ in trains] == ["irr0-mask0", "irr0-mask0.6667", "irr0.1-mask0.6667"]
    for name, argv_ in trains:  # the shared overrides first, the run's own fields after them (they win)
        assert argv_[argv_.index("--max_steps") + 1] == "3"
    no_mask = trains[0][1]
    assert (
        no_mask[no_mask.index("--masking_row_prob") + 1] == "0"
        and no_mask[no_mask.index("--irrelevance_ratio") + 1] == "0"
    )
    table = (tmp_path / "abl" / "masking_ablation.md").read_text()
    lines = [line for line in table.splitlines() if line.startswith("| no_masking") or line.startswith("| masking")]
    assert len(lines) == 3
    # no masking: renamed api F1 0.30 -> drop 0.50; masking: 0.70 -> drop 0.10
    assert "| 0.80 / 0.40 | 0.30 / 0.10 | 0.50 |" in lines[0]
    assert "| 0.80 / 0.40 | 0.70 / 0.10 | 0.10 |" in lines[1]
    assert "| 5.0 | 2.0 |" in lines[2]  # train and eval minutes
    rows = json.loads((tmp_path / "abl" / "masking_ablation.json").read_text())
    assert rows[2]["bfcl_irrelevance.irrelevance"] == 0.5
    # a second call trains and evaluates nothing
    again = FakeRunner()
    assert ablation.main(argv, runner=again) == 0
    assert again.calls == []


def test_shared_folder_reports_describe_every_run_in_it(tmp_path: Path):
    """The ablation runs three one-point sweeps into one folder, and an irrelevance sweep may share it: the
    folder's sweep.json, results.csv and results.md list every point run there, not only the last sweep's."""
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE)
    sweep_dir = tmp_path / "shared"
    argv = ["--recipe", str(recipe), "--sweep_dir", str(sweep_dir), "--limit", "4"]
    assert ablation.main(argv, runner=FakeRunner()) == 0
    arms = ["irr0-mask0", "irr0-mask0.6667", "irr0.1-mask0.6667"]

    def described() -> tuple[list[str], list[str], str]:
        manifest = json.loads((sweep_dir / "sweep.json").read_text())
        with open(sweep_dir / "results.csv", newline="") as f:
            rows = [r["point"] for r in csv.DictReader(f)]
        return list(manifest["points"]), rows, (sweep_dir / "results.md").read_text()

    points, rows, md = described()
    assert points == rows == arms
    assert all(f"| {arm} |" in md for arm in arms)
    (entry,) = json.loads((sweep_dir / "sweep.json").read_text())["sweeps"]  # one set of settings
    assert entry["points"] == arms and entry["axes"] == {
        "irrelevance_ratio": [0.0, 0.1],
        "masking_row_prob": [0.0, 0.6667],
    }

    # An irrelevance sweep with other settings into the same folder: the finished shared point keeps its
    # settings and is not run again; the new point is added under the new settings.
    spec = SweepSpec(
        recipe=str(recipe),
        axes={"irrelevance_ratio": [0.1, 0.3], "masking_row_prob": [0.6667]},
        sweep_dir=sweep_dir,
        benchmarks="sealtool",
        limit=4,
    )
    runner, logs = FakeRunner(), []
    run_sweep(spec, runner=runner, log=logs.append)
    assert {name for name, _, _ in runner.calls} == {"irr0.3-mask0.6667"}
    assert any(line.startswith("[sweep] irr0.1-mask0.6667: finished earlier with other settings") for line in logs)
    points, rows, md = described()
    assert points == rows == [*arms, "irr0.3-mask0.6667"]
    on_disk = sorted(p.parent.name for p in sweep_dir.glob("*/results.json"))
    assert sorted(points) == on_disk  # exactly the runs in the folder
    first, second = json.loads((sweep_dir / "sweep.json").read_text())["sweeps"]
    assert first["points"] == arms and first["benchmarks"] == ablation.DEFAULT_BENCHMARKS
    assert second["points"] == ["irr0.3-mask0.6667"] and second["benchmarks"] == "sealtool"
    # the ablation's own table still holds its three runs only
    table = (sweep_dir / "masking_ablation.md").read_text()
    assert sum(line.startswith(("| no_masking", "| masking")) for line in table.splitlines()) == 3


def test_manifest_of_one_sweep_layout_is_read(tmp_path: Path):
    """A sweep.json written before folders could hold several sweeps is read as one entry and kept."""
    sweep_dir = tmp_path / "old"
    sweep_dir.mkdir()
    old = {"name": "old", "recipe": "r.yaml", "axes": {"irrelevance_ratio": [0.0]}, "overrides": [],
           "benchmarks": None, "limit": None, "eval_args": [], "points": {"irr0": {"irrelevance_ratio": 0.0}}}  # fmt: skip
    (sweep_dir / "sweep.json").write_text(json.dumps(old))
    manifest = read_manifest(sweep_dir)
    assert manifest["points"] == old["points"]
    assert manifest["sweeps"] == [{"recipe": "r.yaml", "overrides": [], "benchmarks": None, "limit": None,
                                   "eval_args": [], "points": ["irr0"]}]  # fmt: skip
    (sweep_dir / "sweep.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="sweep.json: not a sweep manifest"):
        read_manifest(sweep_dir)
