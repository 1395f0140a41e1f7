"""What a sweep is: the grid of recipe values, the points' names and folders, and where a point
stands (todo / trained / done) from the files in its folder."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


__all__ = [
    "AXES",
    "ADAPTER_FILE",
    "RESULTS_FILE",
    "LOG_FILE",
    "CSV_FILE",
    "MD_FILE",
    "PNG_FILE",
    "CURVES_PNG_FILE",
    "MANIFEST_FILE",
    "CLI_MODULE",
    "SweepPoint",
    "SweepSpec",
    "parse_values",
    "format_value",
    "expand_grid",
    "point_name",
    "point_status",
    "read_json_or_none",
    "finite_number",
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
CURVES_PNG_FILE = "training_curves.png"
MANIFEST_FILE = "sweep.json"

CLI_MODULE = "hammer_train.cli"
"""The module ``python -m`` and ``accelerate launch -m`` run for a point's training and evaluation."""


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
        accelerate_config: ``--config_file`` for ``accelerate launch`` (printed commands, Slurm
            jobs, and local runs when given).
        model: the base model for evaluation; read from the overrides or the recipe when ``None``.
        cli_module: the module run with ``python -m`` / ``accelerate launch -m`` for training and
            evaluation (:data:`CLI_MODULE`; a site wrapper with the same ``train`` / ``evaluate``
            commands may replace it). Printed commands always use ``hammer-train``.
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
    cli_module: str = CLI_MODULE

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


def read_json_or_none(path: str | Path) -> Any:
    """The parsed JSON file at ``path``, or ``None`` when it is missing or not valid JSON (a point
    still running, or killed while writing). Never raises for those two cases."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def finite_number(x: Any) -> float | None:
    """``x`` as a float when it is a finite int or float (not a bool), else ``None``: how numbers
    are read from the JSON files a point leaves."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def point_status(folder: str | Path) -> str:
    """Where a point stands: ``"done"`` (``adapter_model.safetensors`` and a readable
    ``results.json``), ``"trained"`` (adapter only: evaluation still to run) or ``"todo"``."""
    folder = Path(folder)
    if not (folder / ADAPTER_FILE).is_file():
        return "todo"
    return "done" if isinstance(read_json_or_none(folder / RESULTS_FILE), dict) else "trained"
