"""Record the real BFCL AST checker's verdicts on made-up predictions, for tests/test_bfcl_ast.py.

Runs ONLY in a separate environment with the full ``bfcl-eval`` (its checker imports every model
handler, DESIGN.md "BFCL checker")::

    python3 -m venv /tmp/bfcl-venv
    /tmp/bfcl-venv/bin/pip install bfcl-eval==2026.3.23 soundfile
    /tmp/bfcl-venv/bin/python scripts/dev/record_bfcl_verdicts.py

For each Python AST category it takes a few rows (32 for simple / multiple, 12-16 for the longer
parallel ones) spread evenly over the file, builds several
predictions per row from the ground truth (the first alternatives, the last ones, a wrong value,
a missing required argument, an unknown argument, a wrong name, int for float and float for int,
string case / punctuation variants, list and dict edits, a dropped, swapped or duplicated call
for parallel rows, ...), runs ``bfcl_eval.eval_checker.ast_eval.ast_checker`` on each and writes
one JSON line per case: ``category``, ``id``, ``case``, ``prediction`` (``[{"name", "arguments"}]``),
``valid``, ``error_type`` and, for the few cases checked as an ``underscore_to_dot`` model, the
flag.  Functions and possible answers are not copied: the test reads them by id from the data that
ships with ``bfcl-eval``.  A checker exception is recorded as ``valid: null`` with
``error_type: "exception:<name>"``.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

from bfcl_eval.constants.enums import Language
from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
from bfcl_eval.utils import load_dataset_entry, load_ground_truth_entry


# category -> (rows, calls whose arguments get edited); parallel rows are long, so fewer of them
CATEGORIES = {
    "simple_python": (32, 1),
    "multiple": (32, 1),
    "parallel": (16, 1),
    "parallel_multiple": (16, 1),
    "live_simple": (32, 1),
    "live_multiple": (32, 1),
    "live_parallel": (12, 1),
    "live_parallel_multiple": (12, 1),
}
PROMPT_MODEL = "MadeAgents/Hammer2.1-7b"  # underscore_to_dot=False, like every prompting model
OMIT = object()


def dot_model() -> str:
    """A model key with ``underscore_to_dot=True`` that survives BFCL's "_" -> "/" un-escaping."""
    for key, cfg in MODEL_CONFIG_MAPPING.items():
        if cfg.underscore_to_dot and "_" not in key:
            return key
    raise SystemExit("no underscore_to_dot model found")


# --------------------------------------------------------------------------- ground truth -> calls


def pick(alts, last=False):
    """First (or last) alternative that is not the optional marker "", else OMIT."""
    xs = [a for a in alts if a != ""] if isinstance(alts, list) else [alts]
    if not xs:
        return OMIT
    return xs[-1] if last else xs[0]


def collapse(value, last=False):
    """A dict alternative holds alternatives per key: choose one per key (one level, as BFCL)."""
    if isinstance(value, dict):
        out = {}
        for k, alts in value.items():
            v = pick(alts, last)
            if v is not OMIT:
                out[k] = v
        return out
    if isinstance(value, list) and value and all(isinstance(d, dict) for d in value):
        return [collapse(d, last) for d in value]
    return value


def truth_calls(gt, last=False):
    calls = []
    for entry in gt:
        ((name, params),) = entry.items()
        args = {}
        for p, alts in params.items():
            v = pick(alts, last)
            if v is not OMIT:
                args[p] = collapse(v, last)
        calls.append({"name": name, "arguments": args})
    return calls


def changed(v):
    """A value of the same type that no alternative is likely to hold."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + 7
    if isinstance(v, float):
        return v + 0.37
    if isinstance(v, str):
        return v + "zq"
    if isinstance(v, list):
        return v + v[:1] if v else ["zq"]
    if isinstance(v, dict):
        return {**v, "zq": 1}
    return "zq"


NO_EDIT = object()  # a value edit that does not apply to this value


def _set_argument(p, f):
    """An edit of a call: argument ``p`` becomes ``f(its value)``; ``False`` where ``f`` returns NO_EDIT."""

    def apply(call):
        new = f(call["arguments"][p])
        if new is NO_EDIT:
            return False
        call["arguments"][p] = new
        return None

    return apply


def _drop_first_key_of_first(items):
    if not items[0]:
        return NO_EDIT
    k0 = next(iter(items[0]))
    return [{k: x for k, x in items[0].items() if k != k0}, *items[1:]]


def _str_edits(v, is_first):
    yield "str_upper", str.upper
    yield "str_punct", lambda s: " " + s.replace(" ", "- _") + ".*^/,"
    if '"' in v:
        yield "str_quote", lambda s: s.replace('"', "'")
    if is_first:
        yield "str_tab", lambda s: s + "\t"


def _list_edits(v):
    yield "list_reversed", lambda x: x[::-1]
    yield "list_empty", lambda _: []
    yield "list_upper", lambda x: [i.upper() if isinstance(i, str) else i for i in x]
    yield "list_as_scalar", lambda x: x[0] if x else "x"
    if v and not all(isinstance(i, str) for i in v):
        yield "list_items_as_str", lambda x: [str(i) for i in x]
    elif v:
        yield "list_items_as_int", lambda x: [len(i) for i in x]
    if v and all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        yield "list_int_to_float", lambda x: [float(i) for i in x]
    if v and all(isinstance(i, float) and i.is_integer() for i in v):
        yield "list_float_to_int", lambda x: [int(i) for i in x]
    if v and all(isinstance(i, dict) for i in v):
        yield "list_dict_drop_key", _drop_first_key_of_first


def _dict_edits(v):
    k0 = next(iter(v))
    yield "dict_drop_key", lambda d: {k: x for k, x in d.items() if k != k0}
    yield "dict_extra_key", lambda d: {**d, "zq": 1}
    if isinstance(v[k0], str):
        yield "dict_value_upper", lambda d: {**d, k0: d[k0].upper()}
        yield "dict_value_wrong", lambda d: {**d, k0: d[k0] + "zq"}


def value_edits(v, is_first):
    """(case name, value -> value) pairs that fit the type of ``v``: numbers as other number types,
    string case / punctuation, list and dict edits, an empty container as ``""``."""
    if isinstance(v, float) and v.is_integer():
        yield "int_for_float", int
    if isinstance(v, int) and not isinstance(v, bool):
        yield "float_for_int", float
        yield "str_for_int", str
        if v in (0, 1):
            yield "bool_for_int", bool
    if isinstance(v, bool):
        yield "int_for_bool", int
    if isinstance(v, str):
        yield from _str_edits(v, is_first)
    if isinstance(v, list):
        yield from _list_edits(v)
    if isinstance(v, dict) and v:
        yield from _dict_edits(v)
    if v == [] or v == {}:
        yield "empty_container", lambda _: ""


def call_edits(call, funcs):
    """(case name, edit of a call) pairs: its name, which arguments it has, and their values (one
    argument per (schema type, value type), the first one also set to null)."""
    spec = {f["name"]: f for f in funcs}.get(call["name"], {"parameters": {"properties": {}, "required": []}})
    props = spec["parameters"].get("properties", {})
    required = spec["parameters"].get("required", [])
    yield "wrong_name", lambda c: c.update(name=c["name"] + "_v2")
    if "." in call["name"]:
        yield "dot_to_underscore", lambda c: c.update(name=c["name"].replace(".", "_"))
    others = [f["name"] for f in funcs if f["name"] != call["name"]]
    if others:
        yield "other_function", lambda c, o=others[0]: c.update(name=o)
    yield "extra_param", lambda c: c["arguments"].update(zq_unknown=1)
    for p in [p for p in call["arguments"] if p in props and p not in required][:1]:
        yield f"drop_optional_{p}", lambda c, p=p: c["arguments"].pop(p)
    for p in [p for p in required if p in call["arguments"]][:1]:
        yield f"missing_required_{p}", lambda c, p=p: c["arguments"].pop(p)
    seen_types = set()
    first = next(iter(call["arguments"]), None)
    for p, v in call["arguments"].items():
        key = (props.get(p, {}).get("type"), type(v).__name__)
        if key in seen_types:
            continue
        seen_types.add(key)
        yield f"wrong_value_{p}", _set_argument(p, changed)
        if len(seen_types) == 1:
            yield f"null_{p}", _set_argument(p, lambda _: None)
        for name, f in value_edits(v, p == first):
            yield f"{name}_{p}", _set_argument(p, f)


def variants(row, gt, funcs, edited_calls):
    """Yield (case, prediction) pairs for one row; per-argument edits on the first ``edited_calls``
    calls (a prediction is ``None`` where an edit does not apply)."""
    base = truth_calls(gt)
    yield "truth", base
    last = truth_calls(gt, last=True)
    if last != base:
        yield "truth_last_alternatives", last
    yield "empty", []
    for i, call in enumerate(base[:edited_calls]):
        for name, edit in call_edits(call, funcs):
            calls = copy.deepcopy(base)
            yield f"c{i}_{name}", None if edit(calls[i]) is False else calls
    if len(base) > 1:
        yield "drop_last_call", base[:-1]
        yield "reversed_calls", base[::-1]
        yield "rotated_calls", base[1:] + base[:1]
    yield "duplicate_first_call", base + base[:1]


def to_bfcl(calls):
    return [{c["name"]: c["arguments"]} for c in calls]


def verdict(funcs, pred, truth, cat, model):
    """The checker's ``(valid, error_type)``; a checker exception is ``(None, "exception:<name>")``."""
    try:
        r = ast_checker(
            copy.deepcopy(funcs),
            to_bfcl(copy.deepcopy(pred)),
            copy.deepcopy(truth),
            Language.PYTHON,
            cat,
            model.replace("/", "_"),
        )
        return bool(r["valid"]), (None if r["valid"] else r.get("error_type"))
    except Exception as e:  # noqa: BLE001 - the checker's crash is a verdict too
        return None, f"exception:{type(e).__name__}"


def row_lines(cat, row, truth, edited_calls, dot):
    """The fixture lines of one row: each distinct prediction, checked as a prompting model (and
    as an ``underscore_to_dot`` model for the truth and the dotted-name case of dotted tools)."""
    funcs, seen, lines = row["function"], set(), []
    dotted = any("." in f["name"] for f in funcs)
    for case, pred in variants(row, truth, funcs, edited_calls):
        key = json.dumps(pred, sort_keys=True)
        if pred is None or key in seen:
            continue
        seen.add(key)
        models = [(PROMPT_MODEL, False)]
        if dotted and case in ("truth", "c0_dot_to_underscore"):
            models.append((dot, True))
        for model, u2d in models:
            valid, err = verdict(funcs, pred, truth, cat, model)
            line = {
                "category": cat,
                "id": row["id"],
                "case": case,
                "prediction": pred,
                "valid": valid,
                "error_type": err,
            }
            if u2d:
                line["underscore_to_dot"] = True
            lines.append(line)
    return lines


def category_lines(cat, n_rows, edited_calls, dot):
    """The fixture lines of ``n_rows`` rows spread evenly over a category's file."""
    prompts = load_dataset_entry(cat, include_prereq=False, include_language_specific_hint=False)
    answers = load_ground_truth_entry(cat)
    assert len(prompts) == len(answers)
    step = max(1, len(prompts) // n_rows)
    lines = []
    for k in list(range(0, len(prompts), step))[:n_rows]:
        assert prompts[k]["id"] == answers[k]["id"]
        lines += row_lines(cat, prompts[k], answers[k]["ground_truth"], edited_calls, dot)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--rows", type=int, default=None, help="rows per category, spread evenly over the file (default: per category)"
    )
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "tests/fixtures/bfcl_verdicts.jsonl"))
    args = ap.parse_args()
    dot = dot_model()
    lines = []
    for cat, (n_rows, edited_calls) in CATEGORIES.items():
        lines += category_lines(cat, args.rows or n_rows, edited_calls, dot)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    n_valid = sum(1 for x in lines if x["valid"])
    n_exc = sum(1 for x in lines if x["valid"] is None)
    print(
        f"wrote {len(lines)} cases ({n_valid} valid, {n_exc} checker exceptions) to {out} ({out.stat().st_size} bytes)"
    )


if __name__ == "__main__":
    main()
