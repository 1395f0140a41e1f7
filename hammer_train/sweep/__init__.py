"""Irrelevance / masking sweeps: one training plus one evaluation per grid point, then a table and
figures of call accuracy and irrelevance accuracy against the irrelevance share (the trade-off the
Hammer paper sweeps, arXiv 2410.04587: more ``[]`` rows raise refusal accuracy and lower call
accuracy; about 10% was best there), and of the same metrics during training when the recipe logs
them (``tool_call_eval: true``).

    hammer-train sweep smollm2-135m --irrelevance_ratio 0,0.05,0.1,0.2,0.3 \\
        --masking_row_prob 0,0.67,1.0 --benchmarks sealtool,bfcl_irrelevance --limit 50

Each point gets its own folder, ``<sweep_dir>/irr0.1-mask0.67/``, holding what ``hammer-train
train`` writes (adapter, ``data_report.json``, ``train_log.json``) plus ``results.json`` from
``hammer-train evaluate`` and ``sweep.log``. wandb runs are grouped by the sweep name
(``WANDB_RUN_GROUP``) and named after the point (``--run_name``). A point whose folder has
``adapter_model.safetensors`` and a readable ``results.json`` is finished and never run again; one
with only the adapter is only evaluated.

Launchers (``hammer-train sweep --launcher ...``), all running the same two commands per point
(:mod:`.commands`) into the same folders:

* ``local`` (default, :mod:`.local`): the points one after another on this machine, each step in a
  fresh process; ``--print_commands`` prints one shell line per point instead (finished points as
  ``# done:`` comments, so line numbers stay the grid's);
* ``slurm`` (:mod:`.submitit_launcher`): one submitit job per point (a Slurm job array), waited for
  or collected later;
* ``wandb`` (:mod:`.wandb_launcher`): a W&B ``method: grid`` sweep file for ``wandb agent`` on any
  number of machines, each agent run being a one-point local sweep.

After the runs (or with ``--collect_only``) every point of the folder's manifest (``sweep.json``,
:mod:`.manifest`) is collected into ``results.csv``, ``results.md``, ``irrelevance_sweep.png`` and,
when curves were logged, ``training_curves.png`` (:mod:`.report`, :mod:`.curves`).

Everything here is plain functions over :class:`SweepSpec` / :class:`SweepPoint`; the command
(:mod:`hammer_train.cli.sweep`) parses its arguments into a spec and calls them. The local
launcher's processes are started by a *runner* (:func:`subprocess_runner` by default) that tests
replace. The submitit launcher imports ``submitit`` only when used.
"""

from .commands import FORMS, Step, evaluate_command, point_steps, shell_line, train_arguments, train_command
from .curves import CURVE_KEYS, Curve, curve_summary, plot_training_curves, read_curve
from .local import Runner, SweepOutcome, run_sweep, subprocess_runner
from .manifest import read_manifest, write_manifest
from .report import collect, markdown_table, plot_sweep, point_results, report_points, write_csv, write_report
from .spec import (
    AXES,
    CLI_MODULE,
    SweepPoint,
    SweepSpec,
    expand_grid,
    format_value,
    parse_values,
    point_name,
    point_status,
    read_json_or_none,
)
from .wandb_launcher import log_point_to_wandb, wandb_sweep_config, write_wandb_sweep


__all__ = [
    "AXES",
    "CLI_MODULE",
    "CURVE_KEYS",
    "FORMS",
    "Curve",
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
    "train_arguments",
    "train_command",
    "evaluate_command",
    "point_steps",
    "shell_line",
    "subprocess_runner",
    "run_sweep",
    "read_manifest",
    "write_manifest",
    "point_results",
    "report_points",
    "collect",
    "write_csv",
    "markdown_table",
    "plot_sweep",
    "write_report",
    "read_curve",
    "curve_summary",
    "plot_training_curves",
    "wandb_sweep_config",
    "write_wandb_sweep",
    "log_point_to_wandb",
]
