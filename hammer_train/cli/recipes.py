"""List the recipes shipped with the package, or print one.

    hammer-train recipes                       name, model and description of each
    hammer-train recipes smollm2-135m          the recipe's YAML (e.g. > my-recipe.yaml, then edit it)

A shipped recipe is used by name anywhere a recipe is expected: ``hammer-train train smollm2-135m``.
"""

from __future__ import annotations

import argparse

from ._common import user_errors


__all__ = ["make_parser", "main"]

PROG = "hammer-train recipes"


def make_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The ``hammer-train recipes`` argument parser."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("name", nargs="?", help="print this shipped recipe's YAML")
    p.add_argument("--paths", action="store_true", help="also print each recipe's file")
    return p


@user_errors
def main(argv: list[str] | None = None) -> int:
    """``hammer-train recipes``: 0, or 2 for an unknown name (one line)."""
    from ..shipped_recipes import list_recipes, shipped_recipe

    args = make_parser().parse_args(argv)
    if args.name:
        print(shipped_recipe(args.name).read_text(encoding="utf-8"), end="")
        return 0
    recipes = list_recipes()
    width = max(len(r.name) for r in recipes)
    model_width = max(len(r.model) for r in recipes)
    for r in recipes:
        line = f"{r.name:{width}}  {r.model:{model_width}}  {r.description}"
        print(line + (f"\n{'':{width}}  {r.path}" if args.paths else ""))
    return 0
