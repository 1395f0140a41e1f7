"""The recipes shipped inside the package (``hammer_train/recipes/*.yaml``), found by name.

A recipe is addressed either by path (``my/recipe.yaml``) or by the name of a shipped one
(``smollm2-135m``, the file name without ``.yaml``), so that an installed ``hammer-train train
smollm2-135m`` works from any folder. In a checkout, ``recipes/`` at the repository root is a link to
the same folder, so ``recipes/hammer7b.yaml`` keeps working there. ``hammer-train recipes`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


__all__ = ["RECIPES_DIR", "RecipeInfo", "list_recipes", "shipped_recipe", "resolve_recipe"]

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
"""Folder of the shipped recipe files (package data, installed with the wheel)."""

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RecipeInfo:
    """One shipped recipe.

    Attributes:
        name: what ``hammer-train train NAME`` accepts (file name without ``.yaml``).
        path: the YAML file.
        model: its ``model_name_or_path`` (``""`` when it has none).
        description: its first comment line, without the ``#``.
    """

    name: str
    path: Path
    model: str
    description: str


def _files() -> list[Path]:
    return sorted(RECIPES_DIR.glob("*.yaml"), key=lambda p: p.stem)


def _describe(path: Path) -> RecipeInfo:
    import yaml

    text = path.read_text(encoding="utf-8")
    first = next((line for line in text.splitlines() if line.strip()), "")
    description = first.lstrip("#").strip() if first.lstrip().startswith("#") else ""
    data = yaml.safe_load(text)
    model = data.get("model_name_or_path", "") if isinstance(data, dict) else ""
    return RecipeInfo(name=path.stem, path=path, model=str(model or ""), description=description)


def list_recipes() -> list[RecipeInfo]:
    """The shipped recipes, sorted by name."""
    return [_describe(p) for p in _files()]


def _names() -> str:
    return ", ".join(p.stem for p in _files())


def shipped_recipe(name: str) -> Path:
    """The file of the shipped recipe ``name`` (``smollm2-135m`` or ``smollm2-135m.yaml``).

    Raises:
        hammer_train.config.RecipeError: no shipped recipe has that name; the message lists them.
    """
    stem = name[: -len(Path(name).suffix)] if Path(name).suffix in _SUFFIXES else name
    path = RECIPES_DIR / f"{stem}.yaml"
    if "/" in stem or "\\" in stem or not path.is_file():
        from .config import RecipeError

        raise RecipeError(f"{name!r} is not a shipped recipe ({_names()})")
    return path


def resolve_recipe(name_or_path: str | Path) -> Path:
    """The recipe file ``name_or_path`` designates: an existing file as given, else the shipped
    recipe of that name (:func:`shipped_recipe`).

    Raises:
        hammer_train.config.RecipeError: neither an existing file nor a shipped recipe's name; the
            message names the argument and lists the shipped names.
    """
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    from .config import RecipeError

    try:
        return shipped_recipe(str(name_or_path))
    except RecipeError:
        raise RecipeError(
            f"recipe file {str(name_or_path)!r} does not exist, and it is not a shipped recipe ({_names()})"
        ) from None
