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


def variants(row, gt, funcs, edited_calls):
    """Yield (case, prediction) pairs for one row; per-argument edits on the first ``edited_calls`` calls."""
    base = truth_calls(gt)
    yield "truth", base
    last = truth_calls(gt, last=True)
    if last != base:
        yield "truth_last_alternatives", last
    yield "empty", []
    specs = {f["name"]: f for f in funcs}

    def edit(i, fn):
        calls = copy.deepcopy(base)
        if fn(calls[i]) is False:
            return None
        return calls

    for i, call in enumerate(base[:edited_calls]):
        spec = specs.get(call["name"], {"parameters": {"properties": {}, "required": []}})
        props = spec["parameters"].get("properties", {})
        required = spec["parameters"].get("required", [])
        tag = f"c{i}"
        yield f"{tag}_wrong_name", edit(i, lambda c: c.update(name=c["name"] + "_v2"))
        if "." in call["name"]:
            yield f"{tag}_dot_to_underscore", edit(i, lambda c: c.update(name=c["name"].replace(".", "_")))
        others = [f["name"] for f in funcs if f["name"] != call["name"]]
        if others:
            yield f"{tag}_other_function", edit(i, lambda c, o=others[0]: c.update(name=o))
        yield f"{tag}_extra_param", edit(i, lambda c: c["arguments"].update(zq_unknown=1))
        for p in call["arguments"]:
            if p in props and p not in required:
                yield f"{tag}_drop_optional_{p}", edit(i, lambda c, p=p: c["arguments"].pop(p))
                break
        for p in required:
            if p in call["arguments"]:
                yield f"{tag}_missing_required_{p}", edit(i, lambda c, p=p: c["arguments"].pop(p))
                break
        seen_types = set()
        for p, v in call["arguments"].items():
            ptype = props.get(p, {}).get("type")
            key = (ptype, type(v).__name__)
            first = key not in seen_types
            seen_types.add(key)
            if not first:
                continue
            yield (
                f"{tag}_wrong_value_{p}",
                edit(i, lambda c, p=p: c["arguments"].__setitem__(p, changed(c["arguments"][p]))),
            )
            if len(seen_types) == 1:
                yield f"{tag}_null_{p}", edit(i, lambda c, p=p: c["arguments"].__setitem__(p, None))
            if isinstance(v, float) and not isinstance(v, bool) and v.is_integer():
                yield (
                    f"{tag}_int_for_float_{p}",
                    edit(i, lambda c, p=p: c["arguments"].__setitem__(p, int(c["arguments"][p]))),
                )
            if isinstance(v, int) and not isinstance(v, bool):
                yield (
                    f"{tag}_float_for_int_{p}",
                    edit(i, lambda c, p=p: c["arguments"].__setitem__(p, float(c["arguments"][p]))),
                )
                yield (
                    f"{tag}_str_for_int_{p}",
                    edit(i, lambda c, p=p: c["arguments"].__setitem__(p, str(c["arguments"][p]))),
                )
                if v in (0, 1):
                    yield (
                        f"{tag}_bool_for_int_{p}",
                        edit(i, lambda c, p=p: c["arguments"].__setitem__(p, bool(c["arguments"][p]))),
                    )
            if isinstance(v, bool):
                yield (
                    f"{tag}_int_for_bool_{p}",
                    edit(i, lambda c, p=p: c["arguments"].__setitem__(p, int(c["arguments"][p]))),
                )
            if isinstance(v, str):
                for name, f in [
                    ("upper", str.upper),
                    ("punct", lambda s: " " + s.replace(" ", "- _") + ".*^/,"),
                    ("quote", lambda s: s.replace('"', "'")),
                    ("tab", lambda s: s + "\t"),
                ]:
                    if name == "quote" and '"' not in v:
                        continue
                    if name == "tab" and p != next(iter(call["arguments"])):
                        continue
                    yield (
                        f"{tag}_str_{name}_{p}",
                        edit(i, lambda c, p=p, f=f: c["arguments"].__setitem__(p, f(c["arguments"][p]))),
                    )
            if isinstance(v, list):
                yield (
                    f"{tag}_list_reversed_{p}",
                    edit(i, lambda c, p=p: c["arguments"].__setitem__(p, c["arguments"][p][::-1])),
                )
                yield f"{tag}_list_empty_{p}", edit(i, lambda c, p=p: c["arguments"].__setitem__(p, []))
                yield (
                    f"{tag}_list_upper_{p}",
                    edit(
                        i,
                        lambda c, p=p: c["arguments"].__setitem__(
                            p, [x.upper() if isinstance(x, str) else x for x in c["arguments"][p]]
                        ),
                    ),
                )
                yield (
                    f"{tag}_list_as_scalar_{p}",
                    edit(
                        i,
                        lambda c, p=p: c["arguments"].__setitem__(
                            p, c["arguments"][p][0] if c["arguments"][p] else "x"
                        ),
                    ),
                )
                if v and not all(isinstance(x, str) for x in v):
                    yield (
                        f"{tag}_list_items_as_str_{p}",
                        edit(i, lambda c, p=p: c["arguments"].__setitem__(p, [str(x) for x in c["arguments"][p]])),
                    )
                elif v:
                    yield (
                        f"{tag}_list_items_as_int_{p}",
                        edit(i, lambda c, p=p: c["arguments"].__setitem__(p, [len(x) for x in c["arguments"][p]])),
                    )
                if v and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                    yield (
                        f"{tag}_list_int_to_float_{p}",
                        edit(i, lambda c, p=p: c["arguments"].__setitem__(p, [float(x) for x in c["arguments"][p]])),
                    )
                if v and all(isinstance(x, float) and x.is_integer() for x in v):
                    yield (
                        f"{tag}_list_float_to_int_{p}",
                        edit(i, lambda c, p=p: c["arguments"].__setitem__(p, [int(x) for x in c["arguments"][p]])),
                    )
                if v and all(isinstance(x, dict) for x in v):
                    yield (
                        f"{tag}_list_dict_drop_key_{p}",
                        edit(
                            i,
                            lambda c, p=p: (
                                c["arguments"][p][0].pop(next(iter(c["arguments"][p][0])))
                                if c["arguments"][p][0]
                                else False
                            ),
                        ),
                    )
            if isinstance(v, dict) and v:
                k0 = next(iter(v))
                yield f"{tag}_dict_drop_key_{p}", edit(i, lambda c, p=p, k0=k0: c["arguments"][p].pop(k0))
                yield f"{tag}_dict_extra_key_{p}", edit(i, lambda c, p=p: c["arguments"][p].update(zq=1))
                if isinstance(v[k0], str):
                    yield (
                        f"{tag}_dict_value_upper_{p}",
                        edit(
                            i, lambda c, p=p, k0=k0: c["arguments"][p].__setitem__(k0, c["arguments"][p][k0].upper())
                        ),
                    )
                    yield (
                        f"{tag}_dict_value_wrong_{p}",
                        edit(i, lambda c, p=p, k0=k0: c["arguments"][p].__setitem__(k0, c["arguments"][p][k0] + "zq")),
                    )
            if v == [] or v == {}:
                yield f"{tag}_empty_container_{p}", edit(i, lambda c, p=p: c["arguments"].__setitem__(p, ""))

    if len(base) > 1:
        yield "drop_last_call", base[:-1]
        yield "reversed_calls", base[::-1]
        yield "rotated_calls", base[1:] + base[:1]
    yield "duplicate_first_call", base + base[:1]


def to_bfcl(calls):
    return [{c["name"]: c["arguments"]} for c in calls]


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
        n_rows = args.rows or n_rows
        prompts = load_dataset_entry(cat, include_prereq=False, include_language_specific_hint=False)
        answers = load_ground_truth_entry(cat)
        assert len(prompts) == len(answers)
        n = len(prompts)
        step = max(1, n // n_rows)
        idx = list(range(0, n, step))[:n_rows]
        for k in idx:
            row, gt = prompts[k], answers[k]
            assert row["id"] == gt["id"]
            funcs, truth = row["function"], gt["ground_truth"]
            seen = set()
            dotted = any("." in f["name"] for f in funcs)
            for case, pred in variants(row, truth, funcs, edited_calls):
                if pred is None:
                    continue
                key = json.dumps(pred, sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                models = [(PROMPT_MODEL, False)]
                if dotted and case in ("truth", "c0_dot_to_underscore"):
                    models.append((dot, True))
                for model, u2d in models:
                    try:
                        r = ast_checker(
                            copy.deepcopy(funcs),
                            to_bfcl(copy.deepcopy(pred)),
                            copy.deepcopy(truth),
                            Language.PYTHON,
                            cat,
                            model.replace("/", "_"),
                        )
                        valid, err = bool(r["valid"]), (None if r["valid"] else r.get("error_type"))
                    except Exception as e:  # noqa: BLE001 - the checker's crash is a verdict too
                        valid, err = None, f"exception:{type(e).__name__}"
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
