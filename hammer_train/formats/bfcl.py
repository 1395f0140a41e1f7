"""Reader for the Berkeley Function Calling Leaderboard (BFCL v4) single-turn categories.

The data ships inside the PyPI package ``bfcl-eval`` (``bfcl_eval/data``), found here without
importing the package (its ``__init__`` pulls heavy dependencies). Files are JSON lines:

* ``BFCL_v4_<category>.json``: ``{"id", "question": [[{"role", "content"}, ...], ...],
  "function": [JSON-schema specs]}`` (top-level parameter type ``"dict"``; types such as
  ``"integer"``, ``"float"``, ``"tuple"``, ``"any"``, which the schema maps to JSON-schema kinds
  or leaves unchecked);
* ``possible_answer/BFCL_v4_<category>.json``: ``{"id", "ground_truth": [{"<func>": {"<arg>":
  [alternative, ...]}}, ...]}``, where ``""`` among the alternatives means the argument may be
  omitted. Irrelevance categories have no such file (the answer is no call), nor does
  ``live_relevance`` (any call counts as correct).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ..schema import DataError
from ._common import MAX_MESSAGES, ReadResult, build_example, check_messages, simplify_query
from ._files import SourceError, read_json_lines


__all__ = ["read_bfcl", "bfcl_data_dir", "CATEGORIES", "IRRELEVANCE_CATEGORIES"]

CATEGORIES = (
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
)
"""Categories this reader supports (the single-turn ones; multi-turn, memory, web search and
format-sensitivity categories have other layouts)."""

IRRELEVANCE_CATEGORIES = ("irrelevance", "live_irrelevance")
_ALIASES = {"simple": "simple_python", "java": "simple_java", "javascript": "simple_javascript"}


def bfcl_data_dir() -> Path:
    """The ``data`` folder of the installed ``bfcl-eval`` package, located without importing it.

    Raises:
        FileNotFoundError: ``bfcl-eval`` is not installed (``pip install --no-deps bfcl-eval``).
    """
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the BFCL data needs the package bfcl-eval: pip install --no-deps bfcl-eval")
    path = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not path.is_dir():
        raise FileNotFoundError(f"bfcl-eval is installed but has no data folder at {path}")
    return path


def _first_alternative(value: Any) -> Any:
    """Inside an object-valued answer BFCL lists alternatives per key too
    (``{"department": ["Science"], "school": ["", "x"]}``): take the first of each, leave out keys
    whose first alternative is ``""``. Recursively: a chosen value that is itself an object, or a
    list of objects (``[{"name": ["Chester"], "age": [42]}, ...]``, BFCL live_simple_189-114-0),
    has its alternatives resolved the same way."""
    if isinstance(value, list):
        return [_first_alternative(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, alts in value.items():
        if isinstance(alts, list) and alts:
            if alts[0] != "":
                out[key] = _first_alternative(alts[0])
        else:
            out[key] = alts
    return out


def _target(ground_truth: Any) -> tuple[list[dict[str, Any]], list[DataError]]:
    """The gold calls: the first acceptable value of every argument; an argument whose first
    alternative is ``""`` (may be omitted) is left out. An argument with *no* alternative (``[]``,
    a BFCL data slip: live_simple rows 106 and 112) is left out too and reported as a problem."""
    if not isinstance(ground_truth, list):
        raise DataError("bad_field", "ground_truth must be a list", field="ground_truth")
    calls, problems = [], []
    for j, entry in enumerate(ground_truth):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise DataError(
                "bad_field", "a ground-truth call must be {name: {arg: [alternatives]}}", field=f"ground_truth[{j}]"
            )
        ((name, args),) = entry.items()
        if not isinstance(args, dict):
            raise DataError("bad_field", "ground-truth arguments must be an object", field=f"ground_truth[{j}].{name}")
        target = {}
        for arg, alts in args.items():
            if not isinstance(alts, list):
                raise DataError("bad_field", "alternatives must be a list", field=f"ground_truth[{j}].{name}.{arg}")
            if not alts:
                problems.append(
                    DataError(
                        "no_acceptable_value",
                        "the argument has no acceptable value",
                        field=f"ground_truth[{j}].{name}.{arg}",
                    )
                )
            elif alts[0] != "":
                target[arg] = _first_alternative(alts[0])
        calls.append({"name": name, "arguments": target})
    return calls, problems


def _read_answers(category: str, data_dir: Path, strict: bool, result: ReadResult) -> dict[str, Any]:
    """The category's ground truth by id; a broken answer line is raised (``strict``) or noted in ``errors``."""
    gold_rows = read_json_lines(data_dir / "possible_answer" / f"BFCL_v4_{category}.json")
    # A broken answer line leaves its row without gold (dropped as no_ground_truth); say why.
    for err in gold_rows.problems:
        if strict:
            raise err
        if len(result.errors) < MAX_MESSAGES:
            result.errors.append(str(err))
    return {a["id"]: a.get("ground_truth") for a in gold_rows if isinstance(a, dict) and "id" in a}


def _question_messages(rec: dict[str, Any], i: int, source: str) -> list[Any]:
    """The row's ``question`` turns flattened into one checked message list."""
    question = rec.get("question")
    if not isinstance(question, list) or not all(isinstance(t, list) for t in question):
        raise DataError(
            "bad_field",
            "question must be a list of turns (lists of messages)",
            row=i,
            field="question",
            source=source,
        )
    messages = [dict(m) if isinstance(m, dict) else m for turn in question for m in turn]
    try:
        check_messages(messages, "question")
    except DataError as err:
        raise err.located(row=i, source=source) from None
    return messages


def _row_gold(
    answers: dict[str, Any], rid: str, i: int, source: str, validate: bool, result: ReadResult
) -> tuple[list[dict[str, Any]], list[DataError]]:
    """The row's gold calls and problems; a problem is raised (``validate``) or warned once per row."""
    if rid not in answers:
        raise DataError("no_ground_truth", f"no possible answer for id {rid!r}", row=i, field="id", source=source)
    try:
        gold, problems = _target(answers[rid])
    except DataError as err:
        raise err.located(row=i, source=source) from None
    if problems:
        if validate:
            raise problems[0].located(row=i, source=source)
        result.warn(problems[0].located(row=i, source=source))  # one warning per row
    return gold, problems


def _read_category(category: str, data_dir: Path, strict: bool, with_answers: bool, validate: bool) -> ReadResult:
    """One BFCL category as a :class:`ReadResult` (see :func:`read_bfcl`)."""
    source = f"bfcl:{category}"
    rows = read_json_lines(data_dir / f"BFCL_v4_{category}.json")
    answers: dict[str, Any] = {}
    no_gold = category in IRRELEVANCE_CATEGORIES or category == "live_relevance"
    result = ReadResult()
    if with_answers and not no_gold:
        answers = _read_answers(category, data_dir, strict, result)
    for err in rows.problems:  # a question line that is not UTF-8 or not JSON: a dropped row
        result.rows_read += 1
        result.reject(err, strict)
    if category in IRRELEVANCE_CATEGORIES:
        kind = "irrelevance"
    elif category == "live_relevance":
        kind = "relevance"
    else:
        kind = "call"
    for i, rec in enumerate(rows):
        result.rows_read += 1
        rid = str(rec.get("id", i))
        try:
            messages = _question_messages(rec, i, source)
            gold: list[dict[str, Any]] = []
            problems: list[DataError] = []
            if with_answers and not no_gold:
                gold, problems = _row_gold(answers, rid, i, source, validate, result)
            ex = build_example(
                simplify_query(messages),
                rec.get("function"),
                gold,
                source=source,
                row=i,
                kind=kind,
                validate=validate,
                result=None if problems else result,
            )
        except DataError as err:
            result.reject(err, strict)
            continue
        result.keep(ex, rid)
    return result


def read_bfcl(
    category: str | list[str],
    data_dir: str | Path | None = None,
    strict: bool = False,
    with_answers: bool = True,
    validate: bool = True,
) -> ReadResult:
    """Read BFCL v4 single-turn categories into examples, one per question.

    The query is the flattened ``question``: a lone user message becomes its string, anything else
    (system + user, multi-turn live_irrelevance rows) a list of ``{"role", "content"}``. Each gold
    call takes the first acceptable value of every argument, and an argument whose first
    alternative is ``""`` is omitted (BFCL's own convention: the argument is optional). Scoring
    against *all* alternatives needs the BFCL id: ``ReadResult.ids`` holds it (parallel to
    ``examples``); ``Example.source`` is ``"bfcl:<category>"`` and ``Example.row`` the line index.

    ``kind``: ``"irrelevance"`` with answers ``[]`` for irrelevance categories; ``"relevance"``
    with answers ``[]`` for ``live_relevance`` (no gold exists: any valid call is correct, so these
    rows are for evaluation only, never training targets); ``"call"`` otherwise.

    Args:
        category: a category name (see :data:`CATEGORIES`; ``"simple"`` means ``simple_python``),
            a comma-separated list of them, or a list.
        data_dir: folder holding the BFCL files; defaults to :func:`bfcl_data_dir`.
        strict: raise the first :class:`DataError` instead of dropping the row.
        with_answers: read the gold; ``False`` gives answers ``[]`` everywhere (queries and tools
            only, e.g. to generate predictions).
        validate: run the semantic checks on the gold (see
            :func:`~hammer_train.formats._common.build_example`) and drop failing rows (right for
            training). For evaluation pass ``False``: every row is kept (failed checks, an
            argument without any acceptable value, and live_irrelevance rows with no tools are
            counted in ``warnings``), so that scores cover the whole category.

    Returns:
        :class:`ReadResult` over all categories, in the order given.

    Raises:
        SourceError: an unsupported category (a ``ValueError``).
        FileNotFoundError: no BFCL data (``bfcl-eval`` not installed, or a wrong ``data_dir``).
        DataError: only when ``strict``; names source, row and field, or for a line of a BFCL file
            that is not UTF-8 or not JSON, the file and the line. Without ``strict`` such a line is
            dropped and counted (``not_utf8`` / ``broken_json_line``); a broken line of the answer
            file leaves its row without gold (dropped as ``no_ground_truth``, the line's message in
            ``errors``).
    """
    names = category.split(",") if isinstance(category, str) else list(category)
    names = [_ALIASES.get(n.strip(), n.strip()) for n in names if n.strip()]
    for n in names:
        if n not in CATEGORIES:
            raise SourceError(f"unsupported BFCL category {n!r}; supported: {', '.join(CATEGORIES)}")
    root = Path(data_dir) if data_dir is not None else bfcl_data_dir()
    result = ReadResult()
    for n in names:
        result.merge(_read_category(n, root, strict, with_answers, validate))
    return result
