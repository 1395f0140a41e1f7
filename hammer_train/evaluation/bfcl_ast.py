"""BFCL's AST accuracy without BFCL's dependencies.

Our own checker that follows the rules of ``bfcl_eval.eval_checker.ast_eval.ast_checker``
(PyPI ``bfcl-eval`` 2026.3.23, Python categories only).  Importing the real one pulls in every
model handler (docs/design.md, "BFCL checker"), so this module re-implements its rules from a reading
of that source and is tested against verdicts recorded from the real checker
(``tests/fixtures/bfcl_verdicts.jsonl``, made by ``scripts/dev/record_bfcl_verdicts.py``).

The rules, as BFCL applies them (quirks included, since agreement is the point):

* **simple** (``simple_python``, ``live_simple``): exactly one call, checked against the *first*
  function and the first ground-truth entry.  **multiple**: exactly as many calls as ground-truth
  entries (always one), checked against the function named by the ground truth.  **parallel** /
  **parallel_multiple** (and the ``live_`` ones): the same number of calls as ground-truth
  entries; each ground-truth entry, in order, takes the first still-unmatched call that passes the
  simple check (greedy, order-free).  **irrelevance**: correct when there is no call (a parse
  failure counts as no call); **relevance** (``live_relevance``): correct when there is one.
* one call: the name must equal the function's name (with ``underscore_to_dot`` the expected
  name has "." replaced by "_", as BFCL does for OpenAI-style function-calling models; Hammer and
  prompting models keep dots); every ``required`` parameter present; every given argument is a
  declared parameter *and* appears in the ground truth; each value passes the type check and the
  value check; every ground-truth parameter not given must list ``""`` (optional).
* types: ``string``/``any`` -> str, ``integer`` -> int, ``float`` -> float, ``boolean`` -> bool,
  ``array``/``tuple`` -> list, ``dict`` -> dict, compared with ``type(v) is T`` (so ``True`` is
  not an int).  An int is accepted for a float parameter.  When the ground truth's first
  non-``""`` alternative has another type than the declared one, the value is a "variable": a
  value of the ground truth's type passes the type check and is then compared raw.  Arrays check
  their items' types one level deep against each list alternative (an optional ``""`` alternative
  makes any list pass); no int-to-float relaxation for items.
* values: strings are compared after :func:`standardize_string` (remove spaces and ``,./-_*^``,
  lowercase, ``'`` -> ``"``) against the string alternatives; lists element-wise with only their
  top-level strings standardized (an optional ``""`` alternative also accepts ``[]``); dicts key by
  key against each dict alternative, each key's value standardized if a string and looked up in
  that key's alternatives, absent keys allowed only when they list ``""``; lists of dicts pair
  dicts in order; anything else by Python ``in`` (so ``5.0`` matches ``5``).  Nested values
  deeper than that are compared with plain ``==`` (BFCL does not recurse further).

Errors are BFCL's ``error_type`` codes (``"simple_function_checker:wrong_func_name"``,
``"value_error:string"``, ...), so a verdict can be compared with BFCL's one for one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .parse import parse_calls


__all__ = ["standardize_string", "ast_check", "bfcl_ast_accuracy", "category_kind"]

_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = ("array", "tuple")
_STRIP = re.compile(r"[ ,./\-_*^]")

Verdict = tuple[bool, "str | None"]


def standardize_string(s: str) -> str:
    """BFCL's string normalization: drop spaces and ``, . / - _ * ^``, lowercase, ``'`` -> ``"``."""
    return _STRIP.sub("", s).lower().replace("'", '"')


def _std(v: Any) -> Any:
    return standardize_string(v) if type(v) is str else v


def category_kind(category: str) -> str:
    """Map a BFCL category name to its checker: ``simple``, ``multiple``, ``parallel``,
    ``irrelevance`` or ``relevance``.

    Accepts names with or without the ``BFCL_v4_`` prefix (``simple_python``, ``live_multiple``,
    ``parallel_multiple``, ``live_irrelevance``, ...).

    Raises:
        ValueError: a Java / JavaScript category or one that is not AST-scored (multi-turn,
            memory, web search, format sensitivity).
    """
    c = re.sub(r"^BFCL_v\d+_", "", category)
    if any(x in c for x in ("java", "multi_turn", "memory", "web_search", "format_sensitivity")):
        raise ValueError(f"category {category!r} is not supported (Python AST categories only)")
    if "irrelevance" in c:
        return "irrelevance"
    if "relevance" in c:
        return "relevance"
    if "parallel" in c:
        return "parallel"
    if "multiple" in c:
        return "multiple"
    return "simple"


# --------------------------------------------------------------------------- type check


def _first_type(alternatives: Sequence) -> type | None:
    for a in alternatives:
        if a != "":
            return type(a)
    return None


def _type_check(
    value: Any, alternatives: Sequence, expected: type, nested: type | None
) -> tuple[bool, bool, str | None]:
    """Return (valid, is_variable, error_type) following BFCL's type rules."""
    gt_type = _first_type(alternatives)
    is_variable = gt_type is not None and gt_type is not expected
    error = None
    if type(value) is expected:
        if nested is None:
            return True, is_variable, None
        for alt in alternatives:
            if type(alt) is list and not all(_type_check(x, alt, nested, None)[0] for x in value):
                continue
            return True, is_variable, None
        error = "type_error:nested"
    if gt_type is not None and type(value) is gt_type:
        return error is None, True, error
    return False, is_variable, "type_error:simple"


# --------------------------------------------------------------------------- value checks


def _string_ok(value: str, alternatives: Sequence) -> bool:
    return _std(value) in [standardize_string(a) for a in alternatives if type(a) is str]


def _seq(alt: Any) -> list:
    # BFCL indexes each alternative as a sequence; "" (optional) is an empty one
    return [_std(x) for x in alt] if isinstance(alt, (list, str)) else [alt]


def _list_ok(value: list, alternatives: Sequence) -> bool:
    return [_std(x) for x in value] in [_seq(a) for a in alternatives]


def _dict_check(value: Any, alternatives: Sequence) -> Verdict:
    result: Verdict = (False, "dict_checker:unclear")
    if not isinstance(value, dict):
        return (False, "value_error:dict_key")
    for alt in alternatives:
        if alt == "":
            continue
        error = None
        for k, v in value.items():
            if k not in alt:
                error = "value_error:dict_key"
                break
            if _std(v) not in [_std(a) for a in alt[k]]:
                error = "value_error:dict_value"
                break
        for k, v in alt.items():
            if k not in value and "" not in v:
                error = "value_error:dict_key"
                break
        if error is None:
            return (True, None)
        result = (False, error)
    return result


def _list_dict_check(value: list, alternatives: Sequence) -> Verdict:
    result: Verdict = (False, "list_dict_checker:unclear")
    for alt in alternatives:
        if len(value) != len(alt):
            result = (False, "value_error:list_dict_count")
            continue
        ok = True
        for d, a in zip(value, alt):  # noqa: B905 - lengths checked above
            result = _dict_check(d, [a])
            if not result[0]:
                ok = False
                break
        if ok:
            return (True, None)
    return result


# --------------------------------------------------------------------------- one call


def _check_call(spec: dict, call: dict, answer: dict, underscore_to_dot: bool) -> Verdict:
    """Check one call ``{"name", "arguments"}`` against one ground-truth entry ``{name: {param: [alternatives]}}``."""
    expected_name = spec["name"].replace(".", "_") if underscore_to_dot and "." in spec["name"] else spec["name"]
    if call["name"] != expected_name:
        return (False, "simple_function_checker:wrong_func_name")
    gold = next(iter(answer.values()))
    args = call["arguments"]
    props = spec["parameters"]["properties"]
    for p in spec["parameters"].get("required", []):
        if p not in args:
            return (False, "simple_function_checker:missing_required")
    for p, value in args.items():
        if p not in props or p not in gold:
            return (False, "simple_function_checker:unexpected_param")
        declared = props[p]["type"]
        if declared not in _PY_TYPES:
            raise ValueError(f"parameter {p!r} of {spec['name']!r} has unsupported type {declared!r}")
        expected = _PY_TYPES[declared]
        nested = _PY_TYPES[props[p]["items"]["type"]] if declared in _NESTED else None
        if declared == "float" and type(value) is int:
            value = float(value)
        alts = gold[p]
        ok, is_variable, error = _type_check(value, alts, expected, nested)
        if not ok:
            return (False, error)
        if not is_variable:
            if expected is dict:
                verdict = _dict_check(value, alts)
            elif expected is list and nested is dict:
                verdict = _list_dict_check(value, alts)
            elif expected is str:
                verdict = (True, None) if _string_ok(value, alts) else (False, "value_error:string")
            elif expected is list:
                verdict = (True, None) if _list_ok(value, alts) else (False, "value_error:list/tuple")
            else:
                verdict = None
            if verdict is not None:
                if not verdict[0]:
                    return verdict
                continue
        if value not in alts:
            return (False, "value_error:others")
    for p, alts in gold.items():
        if p not in args and "" not in alts:
            return (False, "simple_function_checker:missing_optional")
    return (True, None)


def _find_spec(functions: list[dict], name: str) -> dict:
    for f in functions:
        if f["name"] == name:
            return f
    raise ValueError(f"ground truth names {name!r}, which is not among the functions")


# --------------------------------------------------------------------------- public API


def ast_check(
    category: str,
    functions: list[dict],
    prediction: list[dict] | None,
    possible_answer: list[dict] | None,
    *,
    underscore_to_dot: bool = False,
) -> Verdict:
    """Check one BFCL row the way BFCL's AST checker does.

    Args:
        category: BFCL category, e.g. ``"simple_python"``, ``"live_multiple"``, ``"parallel"``,
            ``"irrelevance"`` (see :func:`category_kind`).
        functions: the row's ``function`` list (BFCL JSON-schema specs with ``parameters.properties``
            and ``parameters.required``).
        prediction: the model's calls as ``[{"name": str, "arguments": dict}, ...]``; ``None`` for a
            parse failure.
        possible_answer: the row's ``ground_truth``: ``[{func_name: {param: [alternatives]}}, ...]``
            where ``""`` among the alternatives marks an optional parameter.  Unused for
            (ir)relevance.
        underscore_to_dot: compare against function names with "." replaced by "_" (BFCL's
            ``underscore_to_dot`` models); off for Hammer and prompting models.

    Returns:
        ``(valid, error_type)``; ``error_type`` is BFCL's code, ``None`` when valid.  A parse failure
        is ``"ast_decoder:decoder_failed"``, a call that is not ``{"name": str, "arguments": dict}``
        ``"ast_decoder:decoder_wrong_output_format"``; for irrelevance a call is
        ``"irrelevance_error:decoder_success"``, for relevance no call is
        ``"relevance_error:decoder_failed"``.

    Raises:
        ValueError: unsupported category, a parameter type BFCL does not know, or a ground truth
            naming a function that is not in ``functions`` (BFCL itself crashes on those).
    """
    kind = category_kind(category)
    if kind in ("irrelevance", "relevance"):
        has_call = bool(prediction)
        if kind == "irrelevance":
            return (True, None) if not has_call else (False, "irrelevance_error:decoder_success")
        return (True, None) if has_call else (False, "relevance_error:decoder_failed")
    decoder_error = _decoder_error(prediction)
    if decoder_error is not None:
        return (False, decoder_error)
    answers = possible_answer or []
    if kind == "simple":
        if len(prediction) != 1:
            return (False, "simple_function_checker:wrong_count")
        return _check_call(functions[0], prediction[0], answers[0], underscore_to_dot)
    if len(prediction) != len(answers):
        checker = "parallel_function_checker_no_order" if kind == "parallel" else "multiple_function_checker"
        return (False, f"{checker}:wrong_count")
    if kind == "multiple":
        spec = _find_spec(functions, next(iter(answers[0])))
        return _check_call(spec, prediction[0], answers[0], underscore_to_dot)
    return _check_parallel(functions, prediction, answers, underscore_to_dot)


def _decoder_error(prediction: Any) -> str | None:
    """BFCL's decoder error code for a prediction that is not a list of ``{"name": str,
    "arguments": dict}`` calls (``None``: a parse failure), else ``None``."""
    if prediction is None:
        return "ast_decoder:decoder_failed"
    if not isinstance(prediction, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("arguments"), dict)
        for c in prediction
    ):
        return "ast_decoder:decoder_wrong_output_format"
    return None


def _check_parallel(
    functions: list[dict], prediction: list[dict], answers: list[dict], underscore_to_dot: bool
) -> Verdict:
    """BFCL's no-order parallel check: each answer, in turn, takes the first unmatched call that
    passes it; an answer without one fails the row."""
    matched: set[int] = set()
    for answer in answers:
        spec = _find_spec(functions, next(iter(answer)))
        for i, call in enumerate(prediction):
            if i not in matched and _check_call(spec, call, answer, underscore_to_dot)[0]:
                matched.add(i)
                break
        else:
            return (False, "parallel_function_checker_no_order:cannot_find_match")
    return (True, None)


def bfcl_ast_accuracy(
    categories: Sequence[str],
    functions: Sequence[list[dict]],
    predictions: Sequence[list[dict] | str | None],
    possible_answers: Sequence[list[dict] | None],
    *,
    underscore_to_dot: bool = False,
) -> dict:
    """Aggregate :func:`ast_check` over rows, per category.

    Args:
        categories, functions, possible_answers: per row, as for :func:`ast_check`.
        predictions: per row, parsed calls, ``None`` for a parse failure, or the raw generated text
            (parsed with :func:`~.parse.parse_calls`).
        underscore_to_dot: see :func:`ast_check`.

    Returns:
        ``{"categories": {cat: {"n", "correct", "accuracy", "errors": {error_type: count}}},
        "n", "correct", "accuracy" (over all rows), "mean_category_accuracy"}``; JSON-able.

    Raises:
        ValueError: the sequences differ in length, or as :func:`ast_check`.
    """
    if not (len(categories) == len(functions) == len(predictions) == len(possible_answers)):
        raise ValueError("categories, functions, predictions and possible_answers differ in length")
    per: dict[str, dict] = {}
    for cat, funcs, pred, gold in zip(categories, functions, predictions, possible_answers, strict=True):
        if isinstance(pred, str):
            pred = parse_calls(pred).calls
        ok, err = ast_check(cat, funcs, pred, gold, underscore_to_dot=underscore_to_dot)
        s = per.setdefault(cat, {"n": 0, "correct": 0, "errors": Counter()})
        s["n"] += 1
        s["correct"] += ok
        if err:
            s["errors"][err] += 1
    out_cats = {
        c: {"n": s["n"], "correct": s["correct"], "accuracy": s["correct"] / s["n"], "errors": dict(s["errors"])}
        for c, s in per.items()
    }
    n = sum(s["n"] for s in per.values())
    correct = sum(s["correct"] for s in per.values())
    return {
        "categories": out_cats,
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "mean_category_accuracy": sum(s["accuracy"] for s in out_cats.values()) / len(out_cats) if out_cats else 0.0,
    }
