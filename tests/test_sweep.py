"""Sweeps (hammer_train.sweep): grid and names, done-detection, printed commands, and a two-point
sweep with a fake runner (no model trains) that writes the table and figure and skips a finished
point when run again."""

from __future__ import annotations

import csv
import json
import shlex
import sys
from pathlib import Path

import pytest
from conftest import TINY_RECIPE as RECIPE

from hammer_train import sweep
from hammer_train.cli.sweep import main
from hammer_train.results import Results
from hammer_train.sweep import SweepPoint, expand_grid, parse_values, point_name, point_status


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(RECIPE)
    return path


def fake_results(irr: float) -> dict:
    """A results.json shaped like hammer-train evaluate's (hammer_train.evaluation.report): more
    irrelevance, fewer calls."""
    return {
        "model": "some-org/tiny-model",
        "benchmarks": {
            "sealtool": {
                "n": 10,
                "hammer": {"api_f1": 0.9 - irr, "args_f1": 0.8 - irr, "gold_calls": 12},
                "irrelevance": None,
                "bfcl_ast": None,
                "renamed_from": None,
            },
            "sealtool_renamed": {
                "n": 10,
                "hammer": {"api_f1": 0.1, "args_f1": 0.1, "gold_calls": 12},
                "irrelevance": None,
                "bfcl_ast": None,
                "renamed_from": "sealtool",
            },
            "sealtool_shuffled": {
                "n": 10,
                "hammer": {"api_f1": 0.2, "args_f1": 0.1, "gold_calls": 12},
                "irrelevance": None,
                "bfcl_ast": None,
                "renamed_from": None,
                "shuffled_from": "sealtool",
            },
            "bfcl_irrelevance": {
                "n": 10,
                "hammer": {"api_f1": 0.0, "args_f1": 0.0, "gold_calls": 0},
                "irrelevance": {
                    "irrelevance_n": 10,
                    "irrelevance_accuracy": 0.5 + irr,
                    "relevance_n": 0,
                    "relevance_rate": None,
                },
                "bfcl_ast": {"accuracy": 0.5 + irr, "n": 10},
                "renamed_from": None,
            },
        },
    }


class FakeRunner:
    """Writes what training and evaluation would: adapter, data report, log, results.json."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.env: dict[str, str] = {}

    def __call__(self, point: SweepPoint, steps, env) -> int:
        self.env = dict(env)
        for step in steps:
            self.calls.append((point.name, [step.stage, *step.argv]))
            out = point.output_dir
            if step.stage == "train":
                argv = step.argv
                assert argv[argv.index("--output_dir") + 1] == str(out)
                assert argv[argv.index("--run_name") + 1] == point.name
                (out / "adapter_model.safetensors").write_bytes(b"fake")
                irr = float(argv[argv.index("--irrelevance_ratio") + 1])
                (out / "data_report.json").write_text(
                    json.dumps({"irrelevance": {"target_ratio": irr, "achieved_ratio": irr}})
                )
                (out / "train_log.json").write_text(
                    json.dumps([{"loss": 2.0, "step": 5}, {"loss": 1.5, "step": 10}, {"train_loss": 1.7}])
                )
            else:
                argv = step.argv
                assert argv[argv.index("--adapter") + 1] == str(out)
                target = Path(argv[argv.index("--output") + 1])
                target.write_text(json.dumps(fake_results(point.values["irrelevance_ratio"])))
        return 0


def test_grid_names_and_values():
    assert parse_values("0, 0.05,0.1,0.1", "irrelevance_ratio") == [0.0, 0.05, 0.1]
    with pytest.raises(ValueError, match="irrelevance_ratio"):
        parse_values("0,1.0", "irrelevance_ratio")
    with pytest.raises(ValueError, match="not a number"):
        parse_values("0,x", "masking_row_prob")
    grid = expand_grid({"irrelevance_ratio": [0.0, 0.1], "masking_row_prob": [0.67, 1.0]})
    assert [point_name(v) for v in grid] == ["irr0-mask0.67", "irr0-mask1", "irr0.1-mask0.67", "irr0.1-mask1"]


def test_point_status(tmp_path: Path):
    assert point_status(tmp_path / "missing") == "todo"
    (tmp_path / "adapter_model.safetensors").write_bytes(b"x")
    assert point_status(tmp_path) == "trained"
    (tmp_path / "results.json").write_text("{truncated")
    assert point_status(tmp_path) == "trained"
    (tmp_path / "results.json").write_text("{}")
    assert point_status(tmp_path) == "done"


def test_results_summary():
    m = Results.from_dict(fake_results(0.1)).summary()
    assert m["call_accuracy"] == pytest.approx(0.8)  # sealtool only: bfcl_irrelevance has no call rows
    assert m["irrelevance_accuracy"] == pytest.approx(0.6)
    assert m["sealtool.args_f1"] == pytest.approx(0.7)
    assert m["sealtool_renamed.api_f1"] == pytest.approx(0.1)  # a column, not in the summary
    assert m["sealtool_shuffled.api_f1"] == pytest.approx(0.2)  # likewise
    assert "bfcl_irrelevance.api_f1" not in m  # no call rows: F1 is no score there
    # Only AST scores and no counts: call rows are told by the name, and a BFCL irrelevance
    # benchmark's AST accuracy is its irrelevance accuracy.
    m = Results.from_dict(
        {
            "benchmarks": {
                "bfcl_simple": {"bfcl_ast": {"accuracy": 0.7}},
                "bfcl_irrelevance": {"bfcl_ast": {"accuracy": 0.9}},
            }
        }
    ).summary()
    assert m["call_accuracy"] == pytest.approx(0.7)
    assert m["irrelevance_accuracy"] == pytest.approx(0.9)
    assert Results.from_dict({"benchmarks": {}}).summary() == {"call_accuracy": None, "irrelevance_accuracy": None}
    # Shapes no writer produces are refused with the field named, not read as zeros.
    with pytest.raises(ValueError, match="not a results file"):
        Results.from_dict({"bfcl_simple": {"bfcl_ast": 0.7}}, "x.json")
    with pytest.raises(
        ValueError,
        match=r"x.json: benchmarks.bfcl_simple.bfcl_ast: Input should be a valid dictionary or instance of BfclAstScores \(got 0.7\)",
    ):
        Results.from_dict({"benchmarks": {"bfcl_simple": {"bfcl_ast": 0.7}}}, "x.json")


def test_sweep_writes_table_and_skips_finished_points(tmp_path: Path, recipe: Path):
    sweep_dir = tmp_path / "sweep-tiny"
    argv = [
        str(recipe),
        "--irrelevance_ratio",
        "0,0.2",
        "--sweep_dir",
        str(sweep_dir),
        "--benchmarks",
        "sealtool,bfcl_irrelevance",
        "--limit",
        "5",
        "--max_steps",
        "3",
        "--no_validate",
    ]
    runner = FakeRunner()
    assert main(argv, runner=runner) == 0
    assert [name for name, call in runner.calls] == ["irr0", "irr0", "irr0.2", "irr0.2"]
    assert runner.env["WANDB_RUN_GROUP"] == "sweep-tiny"
    train_argv = runner.calls[0][1]  # the stage, then the command run in a fresh process
    assert train_argv[:5] == ["train", sys.executable, "-m", "hammer_train.cli", "train"]
    assert train_argv[5] == str(recipe)
    assert train_argv[train_argv.index("--max_steps") + 1] == "3"
    eval_argv = runner.calls[1][1]
    assert eval_argv[:6] == ["evaluate", sys.executable, "-m", "hammer_train.cli", "evaluate", "some-org/tiny-model"]
    assert eval_argv[eval_argv.index("--benchmarks") + 1] == "sealtool,bfcl_irrelevance"
    assert eval_argv[eval_argv.index("--limit") + 1] == "5"

    with open(sweep_dir / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["point"] for r in rows] == ["irr0", "irr0.2"]
    assert [float(r["irrelevance_ratio"]) for r in rows] == [0.0, 0.2]
    assert all(r["status"] == "done" for r in rows)
    assert float(rows[1]["call_accuracy"]) == pytest.approx(0.7)
    assert float(rows[1]["irrelevance_accuracy"]) == pytest.approx(0.7)
    assert float(rows[1]["achieved_irrelevance_ratio"]) == pytest.approx(0.2)
    assert float(rows[0]["final_loss"]) == pytest.approx(1.5)
    assert float(rows[0]["sealtool.api_f1"]) == pytest.approx(0.9)
    md = (sweep_dir / "results.md").read_text()
    assert "| point |" in md and "irr0.2" in md and "**0.900**" in md
    assert (sweep_dir / "irrelevance_sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((sweep_dir / "sweep.json").read_text())["points"] == {
        "irr0": {"irrelevance_ratio": 0.0},
        "irr0.2": {"irrelevance_ratio": 0.2},
    }

    # Re-run: both finished -> nothing runs. Drop one results.json: only its evaluation runs.
    runner = FakeRunner()
    assert main(argv, runner=runner) == 0
    assert runner.calls == []
    (sweep_dir / "irr0.2" / "results.json").unlink()
    assert main(argv, runner=runner) == 0
    assert [(name, call[0]) for name, call in runner.calls] == [("irr0.2", "evaluate")]


def test_failed_point_is_reported_and_sweep_goes_on(tmp_path: Path, recipe: Path):
    seen = []

    def runner(point, steps, env):
        seen.append(point.name)
        return 3 if point.name == "irr0" else FakeRunner()(point, steps, env)

    argv = [str(recipe), "--irrelevance_ratio", "0,0.1", "--sweep_dir", str(tmp_path / "s"), "--no_validate"]
    assert main(argv, runner=runner) == 1
    assert seen == ["irr0", "irr0.1"]
    rows = list(csv.DictReader(open(tmp_path / "s" / "results.csv", newline="")))
    assert [r["status"] for r in rows] == ["todo", "done"]


def test_print_commands(tmp_path: Path, recipe: Path, capsys):
    sweep_dir = tmp_path / "sweep-grid"
    argv = [
        str(recipe), "--irrelevance_ratio", "0.1,0.3", "--masking_row_prob", "0,0.67", "--sweep_dir", str(sweep_dir),
        "--benchmarks", "sealtool", "--limit", "50", "--accelerate_config", "accelerate_configs/multi_gpu.yaml",
        "--learning_rate", "1e-4", "--print_commands", "--no_validate",
    ]  # fmt: skip
    finished = sweep_dir / "irr0.3-mask0"
    finished.mkdir(parents=True)
    (finished / "adapter_model.safetensors").write_bytes(b"x")
    (finished / "results.json").write_text("{}")
    trained = sweep_dir / "irr0.3-mask0.67"
    trained.mkdir()
    (trained / "adapter_model.safetensors").write_bytes(b"x")

    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4  # one line per point, so a Slurm array index is a grid index
    first = shlex.split(lines[0])
    assert first[:9] == [
        "WANDB_RUN_GROUP=sweep-grid",
        "accelerate",
        "launch",
        "--config_file",
        "accelerate_configs/multi_gpu.yaml",
        "-m",
        "hammer_train.cli",
        "train",
        str(recipe),
    ]  # no path into a checkout: the installed package's module
    assert first[first.index("--output_dir") + 1] == str(sweep_dir / "irr0.1-mask0")
    assert first[first.index("--irrelevance_ratio") + 1] == "0.1"
    assert first[first.index("--masking_row_prob") + 1] == "0"
    assert first[first.index("--run_name") + 1] == "irr0.1-mask0"
    assert first[first.index("--learning_rate") + 1] == "1e-4"
    evaluate = first[first.index("&&") + 1 :]
    assert evaluate[:3] == ["hammer-train", "evaluate", "some-org/tiny-model"]
    assert evaluate[evaluate.index("--output") + 1] == str(sweep_dir / "irr0.1-mask0" / "results.json")
    assert evaluate[evaluate.index("--limit") + 1] == "50"
    assert lines[2].startswith("# done: irr0.3-mask0")
    assert " train " not in lines[3] and lines[3].startswith("hammer-train evaluate ")  # trained, not evaluated
    assert not (sweep_dir / "irr0.1-mask0").exists()  # printing runs nothing


def test_native_prompt_style_is_evaluated_as_trained(tmp_path: Path, recipe: Path, capsys):
    argv = [
        str(recipe),
        "--irrelevance_ratio",
        "0.1",
        "--sweep_dir",
        str(tmp_path / "s"),
        "--prompt_style",
        "native",
        "--print_commands",
        "--no_validate",
    ]
    assert main(argv) == 0
    line = shlex.split(capsys.readouterr().out)
    evaluate = line[line.index("&&") + 1 :]
    assert evaluate[evaluate.index("--prompt_style") + 1] == "native"


def test_usage_errors(tmp_path: Path, recipe: Path, capsys):
    base = [str(recipe), "--sweep_dir", str(tmp_path / "s"), "--print_commands", "--no_validate"]
    assert main([*base, "--irrelevance_ratio", "0,1.5"]) == 2
    assert main([*base, "--irrelevance_ratio", "0.1", "--output_dir", "x"]) == 2
    assert main([*base, "--irrelevance_ratio", "0.1", "--masking_row_prob", "1.1"]) == 2
    assert main([str(tmp_path / "nope.yaml"), "--irrelevance_ratio", "0.1", "--no_validate"]) == 2
    err = capsys.readouterr().err
    assert "1.5" in err and "--output_dir" in err and "masking_row_prob" in err and "does not exist" in err


def test_collect_only_with_nothing_run(tmp_path: Path, recipe: Path):
    assert (
        main([str(recipe), "--irrelevance_ratio", "0,0.1", "--sweep_dir", str(tmp_path / "s"), "--collect_only"]) == 0
    )
    assert (tmp_path / "s" / "irrelevance_sweep.png").is_file()
    assert "todo" in (tmp_path / "s" / "results.md").read_text()
    assert sweep.point_status(tmp_path / "s" / "irr0") == "todo"


def test_subprocess_runner_streams_logs_and_stops_at_failure(tmp_path: Path, capsys):
    point = SweepPoint("irr0", {"irrelevance_ratio": 0.0}, tmp_path / "irr0")
    ok = sweep.Step("train", [sys.executable, "-c", "import os; print('group', os.environ['WANDB_RUN_GROUP'])"])
    bad = sweep.Step("evaluate", [sys.executable, "-c", "raise SystemExit(4)"])
    never = sweep.Step("evaluate", [sys.executable, "-c", "print('never')"])
    assert sweep.subprocess_runner(point, [ok, bad, never], {"WANDB_RUN_GROUP": "g", "PATH": ""}) == 4
    log = (point.output_dir / "sweep.log").read_text()
    assert "group g" in log and "exit status 4" in log and "never" not in log.replace("print('never')", "")
    assert "group g" in capsys.readouterr().out
