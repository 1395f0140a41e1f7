"""The masking ablation (hammer_train.ablation) with a fake runner: three runs with the right
recipe fields, a table with plain vs renamed scores, and finished runs not trained again."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import TINY_RECIPE as RECIPE

from hammer_train import ablation


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
