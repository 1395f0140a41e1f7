"""Our BFCL AST checker against verdicts recorded from BFCL's own checker (bfcl-eval 2026.3.23).

The fixture is made by ``scripts/dev/record_bfcl_verdicts.py`` in a separate environment with the
full ``bfcl-eval``; here only its data files are needed (``pip install --no-deps
bfcl-eval==2026.3.23``), found without importing the package.
"""

from __future__ import annotations

import collections
import importlib.util
import json
from pathlib import Path

import pytest

from hammer_train.evaluation.bfcl_ast import ast_check, bfcl_ast_accuracy, category_kind, standardize_string


FIXTURE = Path(__file__).parent / "fixtures" / "bfcl_verdicts.jsonl"


def _bfcl_data_dir() -> Path | None:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "data"
    return d if (d / "possible_answer").is_dir() else None


@pytest.fixture(scope="module")
def bfcl_rows():
    data = _bfcl_data_dir()
    if data is None:
        pytest.skip("bfcl-eval data not installed (pip install --no-deps bfcl-eval==2026.3.23)")
    cases = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    wanted = collections.defaultdict(set)
    for c in cases:
        wanted[c["category"]].add(c["id"])
    functions, answers = {}, {}
    for cat, ids in wanted.items():
        for line in (data / f"BFCL_v4_{cat}.json").read_text().splitlines():
            row = json.loads(line)
            if row["id"] in ids:
                functions[row["id"]] = row["function"]
        for line in (data / "possible_answer" / f"BFCL_v4_{cat}.json").read_text().splitlines():
            row = json.loads(line)
            if row["id"] in ids:
                answers[row["id"]] = row["ground_truth"]
    return cases, functions, answers


def test_agrees_with_every_recorded_bfcl_verdict(bfcl_rows):
    cases, functions, answers = bfcl_rows
    assert len(cases) > 2000
    disagreements = []
    for c in cases:
        got = ast_check(
            c["category"],
            functions[c["id"]],
            c["prediction"],
            answers[c["id"]],
            underscore_to_dot=c.get("underscore_to_dot", False),
        )
        if got != (c["valid"], c["error_type"]):
            disagreements.append((c["id"], c["case"], got, (c["valid"], c["error_type"])))
    assert not disagreements, f"{len(disagreements)}/{len(cases)} disagree, e.g. {disagreements[:5]}"


def test_accuracy_aggregates_per_category(bfcl_rows):
    cases, functions, answers = bfcl_rows
    subset = [c for c in cases if c["category"] in ("simple_python", "parallel") and not c.get("underscore_to_dot")]
    res = bfcl_ast_accuracy(
        [c["category"] for c in subset],
        [functions[c["id"]] for c in subset],
        [c["prediction"] for c in subset],
        [answers[c["id"]] for c in subset],
    )
    for cat in ("simple_python", "parallel"):
        rows = [c for c in subset if c["category"] == cat]
        assert res["categories"][cat]["n"] == len(rows)
        assert res["categories"][cat]["correct"] == sum(bool(c["valid"]) for c in rows)
    assert res["n"] == len(subset)
    json.dumps(res)


# --------------------------------------------------------------------------- hand-written rules

FUNCS = [
    {
        "name": "math.hypot",
        "description": "",
        "parameters": {
            "type": "dict",
            "properties": {
                "x": {"type": "float", "description": ""},
                "unit": {"type": "string", "description": ""},
                "tags": {"type": "array", "items": {"type": "string"}, "description": ""},
            },
            "required": ["x"],
        },
    }
]
GT = [{"math.hypot": {"x": [4.0], "unit": ["New York", ""], "tags": [["a b"], ""]}}]


def _call(**args):
    return [{"name": "math.hypot", "arguments": args}]


def test_standardize_string():
    assert standardize_string("New York, N.Y.") == "newyorkny"
    assert standardize_string("it's a_b-c/d*e^f") == 'it"sabcdef'


@pytest.mark.parametrize(
    "pred, verdict",
    [
        (_call(x=4), (True, None)),  # int accepted for a float parameter
        (_call(x=4.0, unit="new-york"), (True, None)),  # strings standardized
        (_call(x=4.0, unit="Boston"), (False, "value_error:string")),
        (_call(x=4.0, tags=["A-B"]), (True, None)),  # list items standardized
        (_call(x=4.0, tags=[]), (True, None)),  # BFCL quirk: [] matches the optional "" alternative
        (
            _call(x=4.0, tags=[1]),
            (False, "value_error:list/tuple"),
        ),  # item types pass (the "" alternative), values do not
        (_call(x="4"), (False, "type_error:simple")),
        (_call(unit="New York"), (False, "simple_function_checker:missing_required")),
        (_call(x=4.0, y=1), (False, "simple_function_checker:unexpected_param")),
        ([{"name": "math_hypot", "arguments": {"x": 4.0}}], (False, "simple_function_checker:wrong_func_name")),
        ([], (False, "simple_function_checker:wrong_count")),
        (None, (False, "ast_decoder:decoder_failed")),
        ([{"name": "math.hypot", "arguments": "x=4"}], (False, "ast_decoder:decoder_wrong_output_format")),
    ],
)
def test_simple_rules(pred, verdict):
    assert ast_check("simple_python", FUNCS, pred, GT) == verdict


def test_underscore_to_dot_models_expect_underscores():
    pred = [{"name": "math_hypot", "arguments": {"x": 4.0}}]
    assert ast_check("simple_python", FUNCS, pred, GT, underscore_to_dot=True) == (True, None)
    assert ast_check("simple_python", FUNCS, _call(x=4.0), GT, underscore_to_dot=True)[0] is False


def test_parallel_ignores_order_but_not_count():
    gt = [{"math.hypot": {"x": [1.0]}}, {"math.hypot": {"x": [2.0]}}]
    a, b = _call(x=1.0)[0], _call(x=2.0)[0]
    assert ast_check("parallel", FUNCS, [b, a], gt) == (True, None)
    assert ast_check("parallel", FUNCS, [a], gt) == (False, "parallel_function_checker_no_order:wrong_count")
    assert ast_check("parallel", FUNCS, [a, a], gt) == (False, "parallel_function_checker_no_order:cannot_find_match")


@pytest.mark.parametrize(
    "pred, ok",
    [(None, True), ([], True), (_call(x=1.0), False)],
)
def test_irrelevance_and_relevance(pred, ok):
    assert ast_check("irrelevance", FUNCS, pred, None)[0] is ok
    assert ast_check("live_irrelevance", FUNCS, pred, None)[0] is ok
    assert ast_check("live_relevance", FUNCS, pred, None)[0] is (not ok)


def test_category_kinds():
    assert category_kind("BFCL_v4_live_parallel_multiple") == "parallel"
    assert category_kind("live_multiple") == "multiple"
    assert category_kind("live_simple") == "simple"
    with pytest.raises(ValueError):
        category_kind("simple_java")
    with pytest.raises(ValueError):
        category_kind("multi_turn_base")
