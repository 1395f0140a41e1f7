"""Irrelevance / masking sweeps: one training plus one evaluation per grid point, then a table and
a figure of call accuracy and irrelevance accuracy against the irrelevance share (the trade-off
the Hammer paper sweeps, arXiv 2410.04587: more ``[]`` rows raise refusal accuracy and lower call
accuracy; about 10% was best there).

    hammer-train sweep smollm2-135m --irrelevance_ratio 0,0.05,0.1,0.2,0.3 \\
        --masking_row_prob 0,0.67,1.0 --benchmarks sealtool,bfcl_irrelevance --limit 50

Each point gets its own folder, ``<sweep_dir>/irr0.1-mask0.67/``, holding what ``hammer-train
train`` writes (adapter, ``data_report.json``, ``train_log.json``) plus ``results.json`` from
``hammer-train evaluate`` and ``sweep.log`` (local runs). wandb runs are grouped by the sweep name
(``WANDB_RUN_GROUP``) and named after the point (``--run_name``). A point whose folder has
``adapter_model.safetensors`` and a readable ``results.json`` is finished and never run again; one
with only the adapter is only evaluated.

Locally the points run one after another, each in a fresh process (``sys.executable -m
hammer_train.cli train ...`` then ``... evaluate ...``). With ``--print_commands`` one shell line per
point is printed instead (``accelerate launch -m hammer_train.cli train ... && hammer-train evaluate
...``) for a scheduler, e.g. a Slurm array running ``sed -n "${SLURM_ARRAY_TASK_ID}p" cmds.sh |
bash``; finished points print as a ``# done:`` comment so line numbers stay put. After the runs (or
with ``--collect_only``) every point is collected into ``<sweep_dir>/results.csv``, ``results.md``
and ``irrelevance_sweep.png``.

Everything here is plain functions over :class:`SweepSpec` / :class:`SweepPoint`; the command
``hammer-train sweep`` (:mod:`hammer_train.cli.sweep`) parses its arguments into a spec and calls
them. The training and evaluation subprocesses are started by a *runner*
(:func:`subprocess_runner` by default) that tests replace with a fake.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import tables
from .results import Results


__all__ = [
    "AXES",
    "Runner",
    "Step",
    "SweepOutcome",
    "SweepPoint",
    "SweepSpec",
    "parse_values",
    "format_value",
    "expand_grid",
    "point_name",
    "point_status",
    "read_json_or_none",
    "CLI_MODULE",
    "train_arguments",
    "train_command",
    "evaluate_command",
    "point_steps",
    "shell_line",
    "subprocess_runner",
    "run_sweep",
    "read_manifest",
    "point_results",
    "report_points",
    "collect",
    "write_csv",
    "markdown_table",
    "plot_sweep",
    "write_report",
]

AXES: dict[str, tuple[str, float, float, bool]] = {
    "irrelevance_ratio": ("irr", 0.0, 1.0, False),
    "masking_row_prob": ("mask", 0.0, 1.0, True),
}
"""Sweepable recipe fields: ``field -> (folder-name prefix, low, high, high included)``."""

ADAPTER_FILE = "adapter_model.safetensors"
RESULTS_FILE = "results.json"
LOG_FILE = "sweep.log"
CSV_FILE = "results.csv"
MD_FILE = "results.md"
PNG_FILE = "irrelevance_sweep.png"
MANIFEST_FILE = "sweep.json"


# --------------------------------------------------------------------------- grid and names


def parse_values(text: str, field_name: str = "value") -> list[float]:
    """Parse a comma-separated list of numbers (``"0,0.05,0.1"``), keeping order, dropping repeats.

    Args:
        text: the list as typed on the command line.
        field_name: the recipe field, named in errors and checked against its range in
            :data:`AXES` when it is a sweep axis.

    Raises:
        ValueError: an empty list, a value that is not a number, or one out of the field's range.
    """
    out: list[float] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        try:
            v = float(part)
        except ValueError:
            raise ValueError(f"--{field_name}: {part!r} is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"--{field_name}: {part!r} is not a finite number")
        if field_name in AXES:
            _, lo, hi, hi_ok = AXES[field_name]
            if not (lo <= v <= hi if hi_ok else lo <= v < hi):
                raise ValueError(f"--{field_name}: {part} is outside [{lo}, {hi}{']' if hi_ok else ')'}")
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError(f"--{field_name}: no values given")
    return out


def format_value(v: float) -> str:
    """Shortest plain form of a grid value: ``0.1 -> "0.1"``, ``1.0 -> "1"``, ``0.6667 -> "0.6667"``."""
    s = format(float(v), "g")
    return "0" if s == "-0" else s


def expand_grid(axes: dict[str, Sequence[float]]) -> list[dict[str, float]]:
    """All combinations of the axes' values, first axis slowest: ``{"a": [1, 2], "b": [3]} ->
    [{"a": 1, "b": 3}, {"a": 2, "b": 3}]``. An axis with no values is an error."""
    names = list(axes)
    for n in names:
        if not axes[n]:
            raise ValueError(f"sweep axis {n!r} has no values")
    return [dict(zip(names, combo)) for combo in itertools.product(*(axes[n] for n in names))]


def point_name(values: dict[str, float]) -> str:
    """Folder / run name of a grid point: ``{"irrelevance_ratio": 0.1, "masking_row_prob": 0.67}
    -> "irr0.1-mask0.67"`` (axes outside :data:`AXES` use their field name as prefix)."""
    parts = []
    for k, v in values.items():
        prefix = AXES[k][0] if k in AXES else k
        parts.append(f"{prefix}{format_value(v)}")
    return "-".join(parts)


@dataclass(frozen=True)
class SweepPoint:
    """One grid point.

    Attributes:
        name: folder and wandb run name, e.g. ``irr0.1-mask0.67``.
        values: the swept recipe fields and their values at this point.
        output_dir: ``<sweep_dir>/<name>``.
    """

    name: str
    values: dict[str, float]
    output_dir: Path


@dataclass
class SweepSpec:
    """What to sweep and how to train and evaluate each point.

    Attributes:
        recipe: the recipe YAML.
        axes: swept recipe fields and their values, in the order given (first axis slowest).
        sweep_dir: parent folder of the points' folders; its name is the sweep (wandb group) name.
        overrides: further recipe overrides passed to every training (``["--max_steps", "100"]``).
        benchmarks: ``--benchmarks`` for ``hammer-train evaluate`` (its default when ``None``).
        limit: ``--limit`` for ``hammer-train evaluate`` (its default when ``None``).
        eval_args: further arguments for ``hammer-train evaluate``.
        accelerate_config: ``--config_file`` for ``accelerate launch`` in printed commands.
        model: the base model for evaluation; read from the overrides or the recipe when ``None``.
    """

    recipe: str
    axes: dict[str, list[float]]
    sweep_dir: Path
    overrides: list[str] = field(default_factory=list)
    benchmarks: str | None = None
    limit: int | None = None
    eval_args: list[str] = field(default_factory=list)
    accelerate_config: str | None = None
    model: str | None = None

    @property
    def name(self) -> str:
        """The sweep's name (the folder name of ``sweep_dir``), used as the wandb run group."""
        return Path(self.sweep_dir).resolve().name

    def points(self) -> list[SweepPoint]:
        """The grid points, first axis slowest."""
        out = []
        for values in expand_grid(self.axes):
            name = point_name(values)
            out.append(SweepPoint(name=name, values=values, output_dir=Path(self.sweep_dir) / name))
        return out

    def recipe_value(self, key: str) -> str | None:
        """A recipe field as a string: the last ``--key`` among the overrides, else the recipe's
        YAML value, else ``None``."""
        found = _override_value(self.overrides, key)
        if found is not None:
            return found
        import yaml

        path = Path(self.recipe)
        try:
            data = yaml.safe_load(path.read_text()) if path.is_file() else None
        except yaml.YAMLError:
            data = None
        value = data.get(key) if isinstance(data, dict) else None
        return None if value is None else str(value)

    def base_model(self) -> str:
        """The model to evaluate the adapters on: :attr:`model`, else ``--model_name_or_path``
        among the overrides, else the recipe's ``model_name_or_path``.

        Raises:
            ValueError: none of them names a model.
        """
        model = self.model or self.recipe_value("model_name_or_path")
        if model:
            return model
        raise ValueError(f"no model_name_or_path in {self.recipe!r} or the overrides; pass --model")


def _override_value(overrides: Sequence[str], key: str) -> str | None:
    """The value of ``--key V`` or ``--key=V`` in an override list (last one wins)."""
    value = None
    for i, tok in enumerate(overrides):
        if tok == f"--{key}" and i + 1 < len(overrides):
            value = overrides[i + 1]
        elif tok.startswith(f"--{key}="):
            value = tok.split("=", 1)[1]
    return value


# --------------------------------------------------------------------------- done-detection


def read_json_or_none(path: str | Path) -> Any:
    """The parsed JSON file at ``path``, or ``None`` when it is missing or not valid JSON (a point
    still running, or killed while writing). Never raises for those two cases."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def point_status(folder: str | Path) -> str:
    """Where a point stands: ``"done"`` (``adapter_model.safetensors`` and a readable
    ``results.json``), ``"trained"`` (adapter only: evaluation still to run) or ``"todo"``."""
    folder = Path(folder)
    if not (folder / ADAPTER_FILE).is_file():
        return "todo"
    return "done" if isinstance(read_json_or_none(folder / RESULTS_FILE), dict) else "trained"


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Step:
    """One process to run for a point: ``stage`` is ``"train"`` or ``"evaluate"``."""

    stage: str
    argv: list[str]


CLI_MODULE = "hammer_train.cli"
"""The module ``python -m`` and ``accelerate launch -m`` run for a point's training and evaluation."""


def _script(command: str, printed: bool) -> list[str]:
    """The head of a ``hammer-train`` command: ``sys.executable -m hammer_train.cli COMMAND`` for
    local runs (the interpreter running the sweep, so the same install), ``hammer-train COMMAND``
    for printed lines (the installed command)."""
    return ["hammer-train", command] if printed else [sys.executable, "-m", CLI_MODULE, command]


def train_arguments(spec: SweepSpec, point: SweepPoint) -> list[str]:
    """The recipe arguments of a point's training: the recipe, the extra overrides, then
    ``--output_dir``, the swept fields and ``--run_name`` (later flags win in the recipe parser)."""
    argv = [str(spec.recipe), *spec.overrides, "--output_dir", str(point.output_dir)]
    for k, v in point.values.items():
        argv += [f"--{k}", format_value(v)]
    return [*argv, "--run_name", point.name]


def train_command(spec: SweepSpec, point: SweepPoint, launcher: str = "python") -> list[str]:
    """The training command of a point.

    Args:
        launcher: ``"python"``: ``sys.executable -m hammer_train.cli train ...`` (local runs);
            ``"accelerate"``: ``accelerate launch [--config_file F] -m hammer_train.cli train ...``
            (printed commands, one process per GPU as the accelerate config says).

    Returns:
        argv: the launcher, then :func:`train_arguments`.
    """
    if launcher == "python":
        head = _script("train", printed=False)
    elif launcher == "accelerate":
        head = ["accelerate", "launch"]
        if spec.accelerate_config:
            head += ["--config_file", spec.accelerate_config]
        head += ["-m", CLI_MODULE, "train"]
    else:
        raise ValueError(f"launcher must be 'python' or 'accelerate', got {launcher!r}")
    return [*head, *train_arguments(spec, point)]


def evaluate_command(spec: SweepSpec, point: SweepPoint, printed: bool = False) -> list[str]:
    """The evaluation command of a point: ``hammer-train evaluate MODEL --adapter DIR
    [--prompt_style native] [--benchmarks B] [--limit N] [eval_args] --output DIR/results.json``
    (``--prompt_style native`` when the recipe trains with it).

    Args:
        printed: ``False``: run as ``sys.executable -m hammer_train.cli evaluate`` (local runs);
            ``True``: ``hammer-train evaluate`` (printed commands).
    """
    argv = _script("evaluate", printed)
    argv += [spec.base_model(), "--adapter", str(point.output_dir)]
    if spec.recipe_value("prompt_style") == "native" and "--prompt_style" not in spec.eval_args:
        argv += ["--prompt_style", "native"]  # evaluate as trained
    if spec.benchmarks:
        argv += ["--benchmarks", spec.benchmarks]
    if spec.limit is not None:
        argv += ["--limit", str(spec.limit)]
    argv += [*spec.eval_args, "--output", str(point.output_dir / RESULTS_FILE)]
    return argv


def point_steps(spec: SweepSpec, point: SweepPoint, status: str | None = None, printed: bool = False) -> list[Step]:
    """What is left to run for a point: train + evaluate (``todo``), evaluate (``trained``) or
    nothing (``done``). ``printed=True`` builds the scheduler form (``accelerate launch -m
    hammer_train.cli train``, ``hammer-train evaluate``)."""
    status = status or point_status(point.output_dir)
    steps = []
    if status == "todo":
        steps.append(Step("train", train_command(spec, point, "accelerate" if printed else "python")))
    if status in ("todo", "trained"):
        steps.append(Step("evaluate", evaluate_command(spec, point, printed=printed)))
    return steps


def shell_line(spec: SweepSpec, point: SweepPoint) -> str:
    """One shell line for a point, for a scheduler: ``WANDB_RUN_GROUP=<sweep> accelerate launch
    -m hammer_train.cli train ... && hammer-train evaluate ...``; a finished point gives a
    ``# done:`` comment (so a Slurm array's line numbers stay the grid's)."""
    steps = point_steps(spec, point, printed=True)
    if not steps:
        return f"# done: {point.name} ({point.output_dir})"
    parts = []
    for step in steps:
        cmd = shlex.join(step.argv)
        if step.stage == "train":
            cmd = f"WANDB_RUN_GROUP={shlex.quote(spec.name)} {cmd}"
        parts.append(cmd)
    return " && ".join(parts)


# --------------------------------------------------------------------------- running

Runner = Callable[[SweepPoint, Sequence[Step], dict[str, str]], int]
"""``runner(point, steps, env) -> exit status``: run the steps in order with ``env`` (the full
environment), stop at the first failure."""


def subprocess_runner(point: SweepPoint, steps: Sequence[Step], env: dict[str, str]) -> int:
    """Run each step as a fresh process, streaming its output to stdout and appending it to
    ``<point>/sweep.log``; stops at the first step that fails and returns its exit status."""
    point.output_dir.mkdir(parents=True, exist_ok=True)
    with open(point.output_dir / LOG_FILE, "a", encoding="utf-8") as log:
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
    """What :func:`run_sweep` did: point names skipped as finished, run successfully, failed
    (``name -> exit status``)."""

    skipped: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=dict)


def _settings(spec: SweepSpec) -> dict[str, Any]:
    """What decides a point's training and evaluation besides its swept values."""
    return {
        "recipe": str(spec.recipe),
        "overrides": list(spec.overrides),
        "benchmarks": spec.benchmarks,
        "limit": spec.limit,
        "eval_args": list(spec.eval_args),
    }


def read_manifest(sweep_dir: str | Path) -> dict[str, Any]:
    """The folder's ``sweep.json``: ``{"name", "points": {point: values}, "sweeps": [{"recipe",
    "overrides", "benchmarks", "limit", "eval_args", "axes", "points": [point, ...]}]}``, one
    ``sweeps`` entry per set of settings that ran points here (a masking ablation and an
    irrelevance sweep can share a folder). A manifest of the older one-sweep layout is read as one
    entry; no file gives an empty manifest.

    Raises:
        ValueError: ``sweep.json`` exists but is not a manifest (the path is named).
    """
    path = Path(sweep_dir) / MANIFEST_FILE
    if not path.is_file():
        return {"name": Path(sweep_dir).resolve().name, "points": {}, "sweeps": []}
    data = read_json_or_none(path)
    if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
        raise ValueError(f"{path}: not a sweep manifest (no 'points' object); fix or delete it")
    if "sweeps" not in data:  # one sweep per folder, as written before several could share it
        old = {k: data.get(k) for k in ("recipe", "overrides", "benchmarks", "limit", "eval_args")}
        data = {
            "name": data.get("name"),
            "points": data["points"],
            "sweeps": [{**old, "points": list(data["points"])}],
        }
    return data


def _write_manifest(spec: SweepSpec, points: Sequence[SweepPoint], log: Callable[[str], None] | None = None) -> None:
    """Add ``points`` to the folder's manifest (:func:`read_manifest`) under ``spec``'s settings.

    A point already recorded under other settings keeps them when it is finished (it will not
    run again, so its results are theirs; ``log`` says so), and moves to ``spec``'s entry when it
    is not (it will run with ``spec``). Entries left without points are dropped; each entry's
    ``axes`` are the values of its points. Written atomically (a temporary file renamed).
    """
    sweep_dir = Path(spec.sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(sweep_dir)
    manifest["name"] = spec.name
    entries: list[dict[str, Any]] = manifest["sweeps"]
    settings = _settings(spec)
    entry = next((e for e in entries if {k: e.get(k) for k in settings} == settings), None)
    if entry is None:
        entry = {**settings, "points": []}
        entries.append(entry)
    for p in points:
        owner = next((e for e in entries if p.name in e["points"]), None)
        if owner is not None and owner is not entry:
            if point_status(p.output_dir) == "done":
                if log:
                    other = {k: owner.get(k) for k in settings if owner.get(k) != settings[k]}
                    log(f"[sweep] {p.name}: finished earlier with other settings {other}; kept, not run again")
                continue
            owner["points"].remove(p.name)
        if p.name not in entry["points"]:
            entry["points"].append(p.name)
        manifest["points"][p.name] = p.values
    manifest["sweeps"] = [e for e in entries if e["points"]]
    for e in manifest["sweeps"]:
        axes: dict[str, list[float]] = {}
        for name in e["points"]:
            for k, v in manifest["points"][name].items():
                values = axes.setdefault(k, [])
                if v not in values:
                    values.append(v)
        e["axes"] = axes
    tmp = sweep_dir / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(sweep_dir / MANIFEST_FILE)


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
    _write_manifest(spec, points, log)
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
    paths = write_report(spec)
    log(
        f"[sweep] {len(outcome.ran)} run, {len(outcome.skipped)} skipped, {len(outcome.failed)} failed; "
        f"report: {', '.join(str(p) for p in paths.values())}"
    )
    return outcome


# --------------------------------------------------------------------------- collection


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


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
        achieved = _num(report["irrelevance"].get("achieved_ratio"))
    loss = None
    history = read_json_or_none(folder / "train_log.json")
    if isinstance(history, list):
        for entry in history:
            if isinstance(entry, dict):
                v = _num(entry.get("loss"))
                if v is not None:
                    loss = v
        if loss is None:  # only the end-of-training summary was logged
            for entry in history:
                if isinstance(entry, dict) and _num(entry.get("train_loss")) is not None:
                    loss = _num(entry["train_loss"])
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
    ``final_loss`` (last logged training loss, ``train_log.json``), then
    :meth:`~hammer_train.results.Results.summary` of ``results.json`` (``call_accuracy``,
    ``irrelevance_accuracy``, ``B.api_f1``...; ``None`` where unknown) and ``error`` for a
    ``results.json`` that cannot be read."""
    rows = []
    for point in report_points(spec):
        row: dict[str, Any] = {"point": point.name, **point.values, "status": point_status(point.output_dir)}
        row.update(_train_facts(point.output_dir))
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


def markdown_table(rows: Sequence[dict[str, Any]], axes: Sequence[str] = tuple(AXES), title: str | None = None) -> str:
    """The collected rows as a Markdown table (:func:`hammer_train.tables.markdown_table`: scores
    to 3 decimals, the swept ``axes`` as typed, ``-`` where unknown), with the best call and
    irrelevance accuracy in bold and a line on how they are computed."""
    columns = [
        tables.Column(
            c,
            lambda r, c=c: r.get(c),
            fmt=_axis_cell if c in axes else None,
            bold_max=c in ("call_accuracy", "irrelevance_accuracy"),
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
    """Record ``spec``'s points in the folder's ``sweep.json`` (:func:`_write_manifest`), then
    collect every point recorded there (:func:`collect`) and write ``results.csv``,
    ``results.md`` and ``irrelevance_sweep.png`` into the sweep folder. So several sweeps run into
    one folder (the masking ablation runs three) leave one manifest and one report that describe
    all of their points, not only the last sweep's.

    Returns:
        ``{"csv": path, "md": path, "png": path}``.

    Raises:
        ValueError: an unreadable ``sweep.json`` (see :func:`read_manifest`).
    """
    sweep_dir = Path(spec.sweep_dir)
    _write_manifest(spec, spec.points())
    manifest = read_manifest(sweep_dir)
    rows = collect(spec)
    axes: list[str] = []
    for values in manifest["points"].values():
        axes += [k for k in values if k not in axes]
    x_axis = "irrelevance_ratio" if "irrelevance_ratio" in axes else axes[0]
    recipes = ", ".join(dict.fromkeys(str(e["recipe"]) for e in manifest["sweeps"]))
    return {
        "csv": write_csv(rows, sweep_dir / CSV_FILE),
        "md": _write_text(sweep_dir / MD_FILE, markdown_table(rows, axes, title=f"Sweep {spec.name}: {recipes}")),
        "png": plot_sweep(rows, sweep_dir / PNG_FILE, x_axis=x_axis, title=f"{spec.name}"),
    }


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
