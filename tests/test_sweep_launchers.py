"""Sweep launchers (hammer_train.sweep.submitit_launcher, .wandb_launcher).

The submitit path runs for real with submitit's LocalExecutor: each point is a pickled job run by
``python -m submitit.core._submit`` in its own process, which runs the point's commands as built for
Slurm (``python -m accelerate.commands.launch -m MODULE train ...`` then ``python -m MODULE evaluate
...``). Only MODULE is a stand-in: ``tests/sweep_point_cli.py`` writes the files ``hammer_train.cli``
would (a real training plus evaluation of the 135M model takes minutes here).

The W&B sweep file is loaded with wandb's own loader, validated against W&B's sweep schema and
expanded into the agent's runs by wandb's ``sweeps`` engine (``wandb[sweeps]``), and each run's
command is the agent's macro expansion (wandb's ``create_sweep_command`` /
``create_sweep_command_args``), then run through ``hammer-train sweep``.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_RECIPE as RECIPE
from test_sweep import FakeRunner

from hammer_train.cli.sweep import main, make_parser, submitit_options
from hammer_train.sweep import SweepSpec, point_status, run_sweep
from hammer_train.sweep.commands import point_steps
from hammer_train.sweep.submitit_launcher import (
    PointJob,
    SubmititOptions,
    SubmititParameterError,
    _multi_node,
    make_executor,
    submit_sweep,
)


TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DOCS_WANDB = ROOT / "docs" / "sweep" / "hammer7b-wandb-sweep.yaml"
LOCAL = SubmititOptions(cluster="local", timeout_min=10)


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture
def fake_cli(monkeypatch) -> str:
    """Job processes import hammer_train (this checkout) and the stand-in CLI module."""
    paths = [str(ROOT), str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return "sweep_point_cli"


def make_spec(tmp_path: Path, recipe: Path, name: str, values: list[float], cli_module: str) -> SweepSpec:
    return SweepSpec(
        recipe=str(recipe),
        axes={"irrelevance_ratio": values},
        sweep_dir=tmp_path / name,
        overrides=["--max_steps", "30"],
        benchmarks="sealtool,bfcl_irrelevance",
        limit=5,
        cli_module=cli_module,
    )


def read_rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_submitit_local_executor_runs_each_point_as_a_job(tmp_path, recipe, fake_cli, monkeypatch):
    monkeypatch.setenv("SWEEP_FAKE_NO_CURVE", "irr0.2")
    spec = make_spec(tmp_path, recipe, "sweep-jobs", [0.0, 0.1, 0.2], fake_cli)
    logs: list[str] = []
    outcome = submit_sweep(spec, LOCAL, log=logs.append, poll_s=0.5)
    assert sorted(outcome.ran) == ["irr0", "irr0.1", "irr0.2"] and not outcome.failed, logs

    job_ids = set()
    for point in spec.points():
        env = json.loads((point.output_dir / "fake_env.json").read_text())
        job_ids.add(env["submitit_job_id"])
        assert env["wandb_run_group"] == "sweep-jobs" and env["under_accelerate"] is True
        log = (point.output_dir / "sweep.log").read_text()
        train_head = shlex.join([sys.executable, "-m", "accelerate.commands.launch", "-m", fake_cli, "train"])
        assert f"[sweep] {point.name}: train: {train_head} {shlex.quote(str(recipe))}" in log
        assert f"[sweep] {point.name}: evaluate: " in log and "fake evaluation of" in log
    assert None not in job_ids and len(job_ids) == 3  # one submitit job per point

    rows = read_rows(spec.sweep_dir)
    assert [r["status"] for r in rows] == ["done"] * 3
    assert float(rows[1]["call_accuracy"]) == pytest.approx(0.8)  # sealtool api F1 0.9 - 0.1
    assert float(rows[1]["curve_irrelevance_accuracy"]) == pytest.approx(0.6)
    assert rows[2]["curve_runs"] == "" and rows[2]["curve_call_accuracy"] == ""  # no curve logged
    assert (spec.sweep_dir / "training_curves.png").read_bytes()[:4] == b"\x89PNG"

    # The same sweep run by the local launcher leaves the same table.
    here = make_spec(tmp_path, recipe, "sweep-here", [0.0, 0.1, 0.2], fake_cli)
    assert not run_sweep(here, log=lambda _: None).failed
    assert read_rows(here.sweep_dir) == rows

    # Finished points are not submitted again; a point without results.json is only evaluated.
    submitted = sorted((spec.sweep_dir / "submitit").iterdir())
    again = submit_sweep(spec, LOCAL, log=logs.append, poll_s=0.5)
    assert (
        again.skipped == ["irr0", "irr0.1", "irr0.2"] and sorted((spec.sweep_dir / "submitit").iterdir()) == submitted
    )
    (spec.sweep_dir / "irr0.1" / "results.json").unlink()
    third = submit_sweep(spec, LOCAL, log=logs.append, poll_s=0.5)
    assert third.ran == ["irr0.1"] and third.skipped == ["irr0", "irr0.2"]
    log = (spec.sweep_dir / "irr0.1" / "sweep.log").read_text()
    assert log.count("[sweep] irr0.1: train: ") == 1 and log.count("[sweep] irr0.1: evaluate: ") == 2


def test_failed_job_no_wait_and_collect(tmp_path, recipe, fake_cli, monkeypatch):
    monkeypatch.setenv("SWEEP_FAKE_FAIL", "irr0.3")
    spec = make_spec(tmp_path, recipe, "sweep-late", [0.0, 0.3], fake_cli)
    outcome = submit_sweep(spec, LOCAL, wait=False, log=lambda _: None)
    assert sorted(outcome.submitted) == ["irr0", "irr0.3"] and not outcome.ran

    failed_log = spec.sweep_dir / "irr0.3" / "sweep.log"
    deadline = time.monotonic() + 180
    while point_status(spec.sweep_dir / "irr0") != "done" or "exit status 3" not in (
        failed_log.read_text() if failed_log.is_file() else ""
    ):
        assert time.monotonic() < deadline, "jobs did not end within 180 s"
        time.sleep(0.5)
    argv = [str(recipe), "--irrelevance_ratio", "0,0.3", "--sweep_dir", str(spec.sweep_dir), "--collect_only"]
    assert main(argv) == 0
    assert [r["status"] for r in read_rows(spec.sweep_dir)] == ["done", "todo"]

    logs: list[str] = []
    waited = submit_sweep(spec, LOCAL, log=logs.append, poll_s=0.5)  # resubmits the failed point only
    assert waited.skipped == ["irr0"] and waited.failed == {"irr0.3": 1}
    assert any(line.startswith("[sweep] irr0.3: job ") and " failed: irr0.3: a step failed" in line for line in logs)
    assert "fake training of irr0.3 fails" in failed_log.read_text()


def test_slurm_flags_reach_submitits_sbatch_script(tmp_path, recipe, monkeypatch):
    argv = [
        str(recipe), "--irrelevance_ratio", "0.1", "--launcher", "slurm", "--slurm_partition", "gpu",
        "--slurm_account", "proj", "--nodes", "2", "--gpus_per_node", "8", "--timeout_min", "720",
        "--slurm_setup", "source .venv/bin/activate", "--submitit_parameter", "slurm_constraint=a100",
        "--submitit_parameter", "slurm_array_parallelism=4", "--max_steps", "5",
    ]  # fmt: skip
    args, overrides = make_parser().parse_known_args(argv)
    assert overrides == ["--max_steps", "5"]
    options = submitit_options(args)
    assert options.executor_parameters() == {
        "timeout_min": 720, "nodes": 2, "tasks_per_node": 1, "gpus_per_node": 8, "slurm_partition": "gpu",
        "slurm_account": "proj", "slurm_setup": ["source .venv/bin/activate"], "slurm_constraint": "a100",
        "slurm_array_parallelism": 4,
    }  # fmt: skip
    spec = SweepSpec(recipe=str(recipe), axes={"irrelevance_ratio": [0.1]}, sweep_dir=tmp_path / "s")
    with pytest.raises(SubmititParameterError, match="srun.*--cluster local"):
        make_executor(spec, options)  # no Slurm on this machine
    bin_dir = tmp_path / "bin"  # submitit's SlurmExecutor only looks for srun on PATH; it never runs here
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    executor = make_executor(spec, options)  # nothing is submitted
    sbatch = executor._executor._make_submission_file_text("true", "uid")  # the script submitit would submit
    for line in ("--partition=gpu", "--account=proj", "--nodes=2", "--gpus-per-node=8", "--time=720",
                 "--constraint=a100", "--ntasks-per-node=1", "--job-name=hammer-s", "source .venv/bin/activate"):  # fmt: skip
        assert line in sbatch, line


def test_launcher_usage_errors(tmp_path, recipe, capsys):
    base = [str(recipe), "--irrelevance_ratio", "0.1", "--sweep_dir", str(tmp_path / "s"), "--no_validate"]
    assert main([*base, "--launcher", "slurm", "--cluster", "local", "--nodes", "2"]) == 2
    assert main([*base, "--launcher", "slurm", "--submitit_parameter", "slurm_constraint"]) == 2
    assert main([*base, "--launcher", "slurm", "--cluster", "local", "--submitit_parameter", "slurm_nonsense=1"]) == 2
    assert main([*base, "--launcher", "slurm"]) == 2  # no srun here
    assert main([*base, "--launcher", "slurm", "--print_commands"]) == 2
    err = capsys.readouterr().err
    assert "one node" in err and "KEY=VALUE" in err and "nonsense" in err and "--print_commands" in err
    assert "--cluster local" in err


def test_point_job_on_two_slurm_nodes_and_after_a_requeue(tmp_path, recipe, monkeypatch):
    """A real submitit Slurm job environment (its variables as Slurm sets them on node 1 of 2)."""
    import submitit

    slurm_env = {"SUBMITIT_EXECUTOR": "slurm", "SLURM_JOB_ID": "4242", "SLURM_JOB_NUM_NODES": "2",
                 "SLURM_NODEID": "1", "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_NTASKS": "2",
                 "SLURM_PROCID": "1", "SLURM_LOCALID": "0"}  # fmt: skip
    for key, value in slurm_env.items():
        monkeypatch.setenv(key, value)
    env = submitit.JobEnvironment()
    spec = SweepSpec(recipe=str(recipe), axes={"irrelevance_ratio": [0.1]}, sweep_dir=tmp_path / "s", model="m")
    point = spec.points()[0]
    steps = point_steps(spec, point, form="job")
    train = _multi_node(steps[0].argv, env, 8)
    assert train[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert train[3 : train.index("-m", 3)] == [
        "--num_machines", "2", "--machine_rank", "1", "--main_process_ip", "gpu07",
        "--main_process_port", "24242", "--num_processes", "16", "--multi_gpu",
    ]  # fmt: skip

    job = PointJob(point, steps, spec.name, gpus_per_node=8)
    assert job.remaining_steps() == steps  # first run: no resume flag even with checkpoints around
    for step in (5, 10):
        (point.output_dir / f"checkpoint-{step}").mkdir(parents=True)
    assert job.remaining_steps() == steps
    requeued = job.checkpoint().function  # what submitit pickles on timeout / preemption
    assert requeued.resume
    resumed = requeued.remaining_steps()[0].argv
    assert resumed[-2:] == ["--resume_from_checkpoint", str(point.output_dir / "checkpoint-10")]
    (point.output_dir / "adapter_model.safetensors").write_bytes(b"x")
    assert [s.stage for s in requeued.remaining_steps()] == ["evaluate"]


# --------------------------------------------------------------------------- W&B


def agent_command(config: dict, run_config: dict) -> list[str]:
    """What ``wandb agent`` runs for one run: wandb's own helpers, then the substitution loop of
    ``wandb.wandb_agent.Agent._command_run`` (inline there, so restated here)."""
    from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

    sweep_vars = create_sweep_command_args({"args": run_config})
    sweep_vars.update(interpreter=["python"], program=[config.get("program")], env=["/usr/bin/env"])
    out: list[str] = []
    for chunk in create_sweep_command(list(config["command"])):
        chunk = str(chunk)
        out += (sweep_vars.get(chunk[2:-1]) or []) if chunk.startswith("${") and chunk.endswith("}") else [chunk]
    return out


def grid_runs(config: dict) -> list[dict]:
    """The runs W&B's grid search hands out, in order (the ``sweeps`` engine behind ``wandb``)."""
    sweeps = pytest.importorskip("sweeps", reason="wandb's sweep engine: pip install 'wandb[sweeps]'")
    runs: list = []
    while (run := sweeps.next_run(config, runs)) is not None:
        run.state = sweeps.RunState.finished
        runs.append(run)
    return [r.config for r in runs]


def load_and_validate(path: Path) -> dict:
    from wandb.sdk.launch.sweeps.utils import load_sweep_config

    sweeps = pytest.importorskip("sweeps", reason="wandb's sweep engine: pip install 'wandb[sweeps]'")
    config = load_sweep_config(str(path))
    assert config, f"wandb could not load {path}"
    assert sweeps.schema_violations_from_proposed_config(config) == []  # what `wandb sweep --controller` checks
    return config


def test_wandb_sweep_file_runs_each_grid_point_once(tmp_path, recipe, monkeypatch):
    sweep_dir, path = tmp_path / "sweep-wb", tmp_path / "sweep.yaml"
    argv = [str(recipe), "--irrelevance_ratio", "0,0.1", "--masking_row_prob", "0.6667,1", "--sweep_dir",
            str(sweep_dir), "--benchmarks", "sealtool", "--limit", "5", "--max_steps", "3", "--launcher", "wandb",
            "--wandb_sweep_file", str(path), "--no_validate"]  # fmt: skip
    assert main(argv) == 0
    assert not sweep_dir.exists()  # writing the file runs nothing
    config = load_and_validate(path)
    assert config["method"] == "grid" and config["metric"] == {"name": "eval/call_accuracy", "goal": "maximize"}
    runs = grid_runs(config)
    assert len(runs) == 4
    for run in runs:  # each agent run: hammer-train sweep with one point, into the shared folder
        command = agent_command(config, run)
        assert command[:3] == ["hammer-train", "sweep", str(recipe)]
        assert command[command.index("--report_to") + 1] == "wandb"  # the recipe does not report there
        runner = FakeRunner()
        assert main(command[2:] + ["--no_validate"], runner=runner) == 0
        (name,) = {n for n, _ in runner.calls}
        irr, mask = run["irrelevance_ratio"]["value"], run["masking_row_prob"]["value"]
        assert name == f"irr{irr:g}-mask{mask:g}"
    rows = read_rows(sweep_dir)
    assert sorted(r["point"] for r in rows) == ["irr0-mask0.6667", "irr0-mask1", "irr0.1-mask0.6667", "irr0.1-mask1"]
    assert all(r["status"] == "done" for r in rows)


def test_hammer7b_wandb_example_is_what_the_command_writes(tmp_path):
    """docs/sweep/hammer7b-wandb-sweep.yaml loads and validates with wandb's code, and is exactly
    the configuration `hammer-train sweep hammer7b ... --launcher wandb` writes today."""
    config = load_and_validate(DOCS_WANDB)
    assert config["parameters"] == {"irrelevance_ratio": {"values": [0.0, 0.05, 0.1, 0.2]}}
    assert len(grid_runs(config)) == 4
    header = [line for line in DOCS_WANDB.read_text().splitlines() if line.startswith("# Written by: ")]
    (written_by,) = header
    argv = shlex.split(written_by.removeprefix("# Written by: hammer-train sweep "))
    fresh = tmp_path / "sweep.yaml"
    argv[argv.index("--wandb_sweep_file") + 1] = str(fresh)
    assert main(argv) == 0
    assert load_and_validate(fresh) == config


def test_eval_scores_go_to_the_agents_run(tmp_path, recipe, monkeypatch):
    """Under an agent (WANDB_SWEEP_ID, WANDB_RUN_ID), a one-point sweep puts its evaluation in the
    run's summary; offline, the run's records hold it."""
    import wandb

    wandb.teardown()  # a service left by an earlier test in this process would keep its own settings
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SWEEP_ID", "sw123")
    monkeypatch.setenv("WANDB_RUN_ID", "run123")
    monkeypatch.setenv("WANDB_SILENT", "true")
    argv = [str(recipe), "--irrelevance_ratio=0.1", "--sweep_dir", str(tmp_path / "s"), "--no_validate"]
    assert main(argv, runner=FakeRunner()) == 0
    wandb.teardown()  # the wandb service writes the run's records out when it stops
    (records,) = tmp_path.glob("wandb/offline-run-*-run123/run-run123.wandb")
    data = records.read_bytes()
    assert b"eval/call_accuracy" in data and b"eval/irrelevance_accuracy" in data
