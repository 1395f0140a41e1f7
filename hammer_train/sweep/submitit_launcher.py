"""The Slurm launcher, through submitit (``pip install 'hammer-train[slurm]'``): one job per
unfinished grid point, submitted as one Slurm job array, each job running the point's commands
(:func:`~.commands.point_steps`, form ``"job"``: ``accelerate launch -m hammer_train.cli train ...``
then ``hammer-train evaluate ...``) with the local runner (:func:`~.local.subprocess_runner`), so
the point folders, ``sweep.log`` and the collected report are those of a local sweep.

    hammer-train sweep hammer7b --irrelevance_ratio 0,0.05,0.1,0.2 --launcher slurm \\
        --slurm_partition gpu --slurm_account myproj --gpus_per_node 8 --timeout_min 720 \\
        --accelerate_config accelerate_configs/deepspeed_zero2.yaml

Everything scheduling is submitit's (``AutoExecutor``, ``update_parameters``, ``batch``/``submit``,
``helpers.as_completed``, ``job.results()``, requeue through a ``checkpoint`` method); nothing here
writes an sbatch file. ``cluster`` picks submitit's executor: ``"slurm"``, ``"local"``
(``submitit.LocalExecutor``: the same jobs as processes on this machine; what the tests run) or
``"debug"`` (in this process).

* **Several nodes** (``nodes > 1``, one task per node): each node's task adds accelerate's
  ``--num_machines/--machine_rank/--main_process_ip/--main_process_port`` from submitit's
  ``JobEnvironment``; only node 0 evaluates, the others log to ``sweep.node<N>.log``.
* **Timeout or preemption**: submitit signals the job before Slurm kills it and requeues the
  job's ``checkpoint()`` (at most ``slurm_max_num_timeout`` times); the requeued job skips a
  finished training and resumes an unfinished one from its last ``checkpoint-*`` folder
  (``--resume_from_checkpoint``; the recipe's ``save_steps`` decides how much is kept).
* ``wait=False`` (``--no_wait``) returns after submitting; ``hammer-train sweep ... --collect_only``
  writes the report once the jobs have ended. Do not start the same sweep again while its jobs are
  queued: their points are not finished yet, so they would be submitted twice.

SkyPilot and Ray are not launchers here: each would need per-cloud / per-cluster provisioning and
state of its own around the same two commands, which ``--print_commands`` (one shell line per
point) and the W&B sweep file (:mod:`.wandb_launcher`) already hand to any scheduler.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .commands import ACCELERATE_MODULE, Step, point_steps
from .local import SweepOutcome, log_report, subprocess_runner
from .manifest import write_manifest
from .spec import LOG_FILE, SweepPoint, SweepSpec, point_status


__all__ = [
    "CLUSTERS",
    "SubmititOptions",
    "SubmititParameterError",
    "PointFailed",
    "PointJob",
    "make_executor",
    "submit_sweep",
]

CLUSTERS = ("slurm", "local", "debug")
"""submitit executors: Slurm, ``LocalExecutor`` (processes on this machine), ``DebugExecutor``."""


@dataclass
class SubmititOptions:
    """How the jobs are scheduled; every field maps to one ``AutoExecutor.update_parameters`` key.

    Attributes:
        cluster: one of :data:`CLUSTERS`.
        partition, account, qos: ``slurm_partition``, ``slurm_account``, ``slurm_qos``.
        nodes: nodes per job (one task per node; accelerate starts the GPU processes).
        gpus_per_node, cpus_per_task, mem_gb: resources per node / task (``None``: the cluster's).
        timeout_min: minutes per job before submitit requeues it (also the local executor's limit).
        setup: shell lines run in the job before the task (``slurm_setup``), e.g. activating a venv.
        parameters: further ``update_parameters`` keys as submitit names them
            (``slurm_constraint``, ``slurm_array_parallelism``, ``slurm_exclude``...).
        folder: submitit's folder for pickles and logs (``%j`` is the job id); default
            ``<sweep_dir>/submitit/%j``.
    """

    cluster: str = "slurm"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: int = 1
    gpus_per_node: int | None = None
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    timeout_min: int = 1440
    setup: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    folder: str | None = None

    def executor_parameters(self) -> dict[str, Any]:
        """The ``update_parameters`` keyword arguments (unset ones left out)."""
        params: dict[str, Any] = {
            "timeout_min": self.timeout_min,
            "nodes": self.nodes,
            "tasks_per_node": 1,
            "gpus_per_node": self.gpus_per_node,
            "cpus_per_task": self.cpus_per_task,
            "mem_gb": self.mem_gb,
            "slurm_partition": self.partition,
            "slurm_account": self.account,
            "slurm_qos": self.qos,
            "slurm_setup": list(self.setup) or None,
        }
        params.update(self.parameters)
        return {k: v for k, v in params.items() if v is not None}


class SubmititParameterError(ValueError):
    """An executor or parameter that submitit refuses; the message is submitit's."""


def make_executor(spec: SweepSpec, options: SubmititOptions):
    """A ``submitit.AutoExecutor`` for the sweep's jobs, named ``hammer-<sweep name>``.

    Raises:
        SubmititParameterError: an unknown cluster, or parameters submitit refuses (its message;
            e.g. an unknown key, a mistyped value, ``nodes > 1`` on the local executor).
    """
    import submitit

    if options.cluster not in CLUSTERS:
        raise SubmititParameterError(f"cluster must be one of {CLUSTERS}, got {options.cluster!r}")
    folder = options.folder or str(Path(spec.sweep_dir) / "submitit" / "%j")
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster=options.cluster)
    except RuntimeError as exc:  # submitit's SlurmExecutor finds no srun: not on a Slurm cluster
        raise SubmititParameterError(f"{exc} (--cluster local runs the same jobs on this machine)") from None
    try:
        executor.update_parameters(name=f"hammer-{spec.name}", **options.executor_parameters())
    except (NameError, AssertionError, ValueError) as exc:  # how submitit refuses a key or value
        raise SubmititParameterError(f"submitit parameters: {' '.join(str(exc).split())}") from None
    return executor


class PointFailed(RuntimeError):
    """A step of a point's job exited with a non-zero status (the message names it and the log)."""


@dataclass
class PointJob:
    """The callable a point's job runs (pickled by submitit): its remaining steps, in order.

    Attributes:
        point: the grid point.
        steps: the steps left when it was submitted (form ``"job"``).
        group: ``WANDB_RUN_GROUP`` (the sweep's name).
        gpus_per_node: for ``--num_processes`` on several nodes (``None``: accelerate's count).
        resume: set on a requeued job: resume training from the last ``checkpoint-*`` folder.
    """

    point: SweepPoint
    steps: list[Step]
    group: str
    gpus_per_node: int | None = None
    resume: bool = False

    def __call__(self) -> dict[str, Any]:
        """Run the steps on this node (see the module docstring for several nodes).

        Returns:
            ``{"point", "node", "steps"}`` (the stages run).

        Raises:
            PointFailed: a step exited with a non-zero status.
        """
        import submitit

        env = submitit.JobEnvironment()
        steps = self.remaining_steps()
        if env.num_nodes > 1:
            steps = [
                Step(s.stage, _multi_node(s.argv, env, self.gpus_per_node)) for s in steps if s.stage == "train"
            ] + [s for s in steps if s.stage != "train" and env.node == 0]
        log_name = LOG_FILE if env.node == 0 else f"sweep.node{env.node}.log"
        rc = subprocess_runner(self.point, steps, {**os.environ, "WANDB_RUN_GROUP": self.group}, log_name)
        if rc != 0:
            raise PointFailed(
                f"{self.point.name}: a step failed with exit status {rc}; see {self.point.output_dir / log_name}"
            )
        return {"point": self.point.name, "node": env.node, "steps": [s.stage for s in steps]}

    def remaining_steps(self) -> list[Step]:
        """The steps still to run now: the training is dropped once its adapter exists (a requeued
        job), and a resumed training gets ``--resume_from_checkpoint`` when a checkpoint exists."""
        steps = list(self.steps)
        if point_status(self.point.output_dir) != "todo":
            steps = [s for s in steps if s.stage != "train"]
        elif self.resume:
            from transformers.trainer_utils import get_last_checkpoint

            last = get_last_checkpoint(str(self.point.output_dir)) if self.point.output_dir.is_dir() else None
            if last:
                steps = [
                    Step(s.stage, [*s.argv, "--resume_from_checkpoint", last]) if s.stage == "train" else s
                    for s in steps
                ]
        return steps

    def checkpoint(self, *args: Any, **kwargs: Any):
        """submitit's requeue hook (called on timeout or preemption): the same job, resuming."""
        import submitit

        return submitit.helpers.DelayedSubmission(
            PointJob(self.point, self.steps, self.group, self.gpus_per_node, resume=True), *args, **kwargs
        )


def _multi_node(argv: Sequence[str], env: Any, gpus_per_node: int | None) -> list[str]:
    """Add accelerate's multi-node flags after ``-m accelerate.commands.launch`` in a training
    command, from submitit's ``JobEnvironment`` (node rank, host of node 0, a port from the job id)."""
    i = list(argv).index(ACCELERATE_MODULE) + 1
    digits = "".join(ch for ch in str(env.job_id) if ch.isdigit()) or "0"
    flags = [
        "--num_machines", str(env.num_nodes),
        "--machine_rank", str(env.node),
        "--main_process_ip", str(env.hostnames[0]),
        "--main_process_port", str(20000 + int(digits) % 20000),
    ]  # fmt: skip
    if gpus_per_node:
        flags += ["--num_processes", str(env.num_nodes * gpus_per_node)]
    if "--config_file" not in argv:
        flags.append("--multi_gpu")
    return [*argv[:i], *flags, *argv[i:]]


def submit_sweep(
    spec: SweepSpec,
    options: SubmititOptions,
    *,
    wait: bool = True,
    log: Callable[[str], None] = print,
    poll_s: float = 30.0,
) -> SweepOutcome:
    """Submit one job per unfinished point (finished ones are skipped), then wait for them and write
    the report (:func:`~.report.write_report`), or return at once with ``wait=False``.

    Args:
        options: the executor and its parameters (:class:`SubmititOptions`).
        wait: wait for the jobs and write the report.
        log: progress messages (a line per job submitted and ended).
        poll_s: seconds between job state checks while waiting.

    Returns:
        The :class:`~.local.SweepOutcome`; a point whose job failed (or ended without
        ``results.json``) is in ``failed`` with status 1; with ``wait=False``, ``submitted`` maps
        points to job ids.

    Raises:
        SubmititParameterError: parameters submitit refuses (:func:`make_executor`).
    """
    points = spec.points()
    write_manifest(spec, points, log)
    outcome = SweepOutcome()
    todo: list[PointJob] = []
    for point in points:
        steps = point_steps(spec, point, form="job")
        if steps:
            todo.append(PointJob(point, steps, spec.name, options.gpus_per_node))
        else:
            outcome.skipped.append(point.name)
    if outcome.skipped:
        log(f"[sweep] finished already, not submitted: {', '.join(outcome.skipped)}")
    jobs = _submit(spec, options, todo, log) if todo else []
    if not wait:
        outcome.submitted = {point_job.point.name: job.job_id for point_job, job in jobs}
        log(
            f"[sweep] {len(jobs)} job(s) submitted, not waiting; once they have ended: hammer-train sweep ... --collect_only"
        )
        return outcome
    _wait(jobs, outcome, log, poll_s)
    log_report(spec, outcome, log)
    return outcome


def _submit(spec: SweepSpec, options: SubmititOptions, todo: Sequence[PointJob], log) -> list[tuple[PointJob, Any]]:
    """Submit the jobs as one batch (a Slurm job array); returns ``[(point job, submitit job)]``."""
    executor = make_executor(spec, options)
    for point_job in todo:
        point_job.point.output_dir.mkdir(parents=True, exist_ok=True)
    with executor.batch():
        submitted = [executor.submit(point_job) for point_job in todo]
    for point_job, job in zip(todo, submitted):
        stages = " + ".join(s.stage for s in point_job.steps)
        log(f"[sweep] {point_job.point.name}: {stages}: {options.cluster} job {job.job_id} (log: {job.paths.stdout})")
    return list(zip(todo, submitted))


def _wait(jobs: Sequence[tuple[PointJob, Any]], outcome: SweepOutcome, log, poll_s: float) -> None:
    """Wait for every job and record its point as ran (``results.json`` written) or failed."""
    from submitit.core.utils import FailedJobError, UncompletedJobError
    from submitit.helpers import as_completed

    points = {id(job): point_job.point for point_job, job in jobs}
    for job in as_completed([job for _, job in jobs], poll_frequency=poll_s):
        point = points[id(job)]
        try:
            job.results()
        except (FailedJobError, UncompletedJobError, PointFailed) as exc:
            log(f"[sweep] {point.name}: job {job.job_id} failed: {_reason(exc)} (job log: {job.paths.stderr})")
            outcome.failed[point.name] = 1
            continue
        if point_status(point.output_dir) == "done":
            outcome.ran.append(point.name)
            log(f"[sweep] {point.name}: job {job.job_id} done")
        else:
            log(f"[sweep] {point.name}: job {job.job_id} ended without an adapter and results.json")
            outcome.failed[point.name] = 1


def _reason(exc: BaseException) -> str:
    """The line that says why a job failed: our :class:`PointFailed` message when the job's
    traceback holds one, else the first line of submitit's message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    ours = [line.split("PointFailed: ", 1)[1] for line in lines if "PointFailed: " in line]
    return ours[-1] if ours else (lines[0] if lines else type(exc).__name__)
