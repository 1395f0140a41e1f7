"""The local launcher: every unfinished point, one after another, each step in a fresh process on
this machine; then the report. :func:`subprocess_runner` is also what a Slurm job runs
(:mod:`.submitit_launcher`), so a point's folder and ``sweep.log`` look the same either way."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .commands import Step, point_steps
from .manifest import write_manifest
from .report import write_report
from .spec import LOG_FILE, SweepPoint, SweepSpec, point_status


__all__ = ["Runner", "SweepOutcome", "subprocess_runner", "run_sweep"]

Runner = Callable[[SweepPoint, Sequence[Step], dict[str, str]], int]
"""``runner(point, steps, env) -> exit status``: run the steps in order with ``env`` (the full
environment), stop at the first failure."""


def subprocess_runner(point: SweepPoint, steps: Sequence[Step], env: dict[str, str], log_name: str = LOG_FILE) -> int:
    """Run each step as a fresh process, streaming its output to stdout and appending it to
    ``<point>/<log_name>`` (``sweep.log``); stops at the first step that fails and returns its exit
    status (0 when all succeed)."""
    point.output_dir.mkdir(parents=True, exist_ok=True)
    with open(point.output_dir / log_name, "a", encoding="utf-8") as log:
        for step in steps:
            header = f"[sweep] {point.name}: {step.stage}: {shlex.join(step.argv)}\n"
            sys.stdout.write(header)
            log.write(header)
            log.flush()
            proc = subprocess.Popen(
                step.argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            rc = proc.wait()
            sys.stdout.flush()
            if rc != 0:
                log.write(f"[sweep] {point.name}: {step.stage} failed with exit status {rc}\n")
                return rc
    return 0


@dataclass
class SweepOutcome:
    """What a launcher did: point names skipped as finished, run successfully, failed
    (``name -> exit status``; 1 where a job failed without one), and submitted but not waited for
    (``name -> job id``, ``--no_wait``)."""

    skipped: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)
    submitted: dict[str, str] = field(default_factory=dict)


def run_sweep(spec: SweepSpec, runner: Runner | None = None, log: Callable[[str], None] = print) -> SweepOutcome:
    """Run every unfinished point, one after another, then write the report.

    A failed point is recorded and the sweep goes on with the next. Each point runs with
    ``WANDB_RUN_GROUP`` set to the sweep name.

    Args:
        runner: runs a point's steps (:func:`subprocess_runner` when ``None``).
        log: progress messages.

    Returns:
        The :class:`SweepOutcome`.
    """
    runner = runner or subprocess_runner
    points = spec.points()
    write_manifest(spec, points, log)
    env = {**os.environ, "WANDB_RUN_GROUP": spec.name}
    outcome = SweepOutcome()
    for i, point in enumerate(points, 1):
        status = point_status(point.output_dir)
        steps = point_steps(spec, point, status)
        if not steps:
            log(f"[sweep] {i}/{len(points)} {point.name}: finished already, skipped")
            outcome.skipped.append(point.name)
            continue
        log(f"[sweep] {i}/{len(points)} {point.name}: {' + '.join(s.stage for s in steps)}")
        point.output_dir.mkdir(parents=True, exist_ok=True)
        rc = runner(point, steps, env)
        if rc == 0 and point_status(point.output_dir) == "done":
            outcome.ran.append(point.name)
        else:
            rc = rc or 1  # exited 0 but left no adapter / results.json
            log(f"[sweep] {point.name}: failed (exit status {rc}); see {point.output_dir / LOG_FILE}")
            outcome.failed[point.name] = rc
    log_report(spec, outcome, log)
    return outcome


def log_report(spec: SweepSpec, outcome: SweepOutcome, log: Callable[[str], None]) -> None:
    """Write the report (:func:`~.report.write_report`) and log one line on what ran and where the
    report is."""
    paths = write_report(spec)
    log(
        f"[sweep] {len(outcome.ran)} run, {len(outcome.skipped)} skipped, {len(outcome.failed)} failed; "
        f"report: {', '.join(str(p) for p in paths.values())}"
    )
