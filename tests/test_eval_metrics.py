"""Hand-checked cases for the call parser and the Hammer / strict / irrelevance scores.

Expected numbers are worked out by hand from the rules in DESIGN.md ("Evaluation exactly as the
Hammer authors score it"); hammer_f1 reproduces the authors' evaluation/evaluate.py quirks.
"""

from __future__ import annotations

import json

import pytest

from hammer_train.evaluation import (
    hammer_f1,
    hammer_parse,
    irrelevance_accuracy,
    normalize_value,
    parse_calls,
    strict_f1,
    summarize,
)


def call(name, **args):
    return {"name": name, "arguments": args}


def js(*calls):
    return json.dumps(list(calls))


def counters(res):
    keys = ("gold_calls", "pred_calls", "correct_calls", "gold_args", "pred_args", "correct_args")
    return tuple(res[k] for k in keys)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text, calls",
    [
        ('[{"name": "f", "arguments": {"a": 1}}]', [call("f", a=1)]),
        ('```json\n[{"name": "f", "arguments": {"a": 1}}]\n```', [call("f", a=1)]),
        ('Here you go:\n```json\n[{"name": "f", "arguments": {}}]\n```\nHope it helps!', [call("f")]),
        ('```\n[{"name": "f", "arguments": {"a": 1}}]\n```', [call("f", a=1)]),
        ('{"name": "f", "arguments": {"a": 1}}', [call("f", a=1)]),
        ('{"tool": "f", "parameters": {"a": 1}}', [call("f", a=1)]),
        ('{"tool_calls": [{"name": "f", "parameters": {"a": 1}}]}', [call("f", a=1)]),
        (
            '[{"type": "function", "function": {"name": "f", "arguments": "{\\"a\\": 1}"}}]',
            [call("f", a=1)],
        ),
        ('[f(a=1), g(b="x")]', [call("f", a=1), call("g", b="x")]),
        ("f(a=1, b=[1, 2], c={'k': None}, d=True)", [call("f", a=1, b=[1, 2], c={"k": None}, d=True)]),
        ("math.hypot(x=3, y=-4.5)", [call("math.hypot", x=3, y=-4.5)]),
        ("```python\n[f(a=(1, 2))]\n```", [call("f", a=[1, 2])]),
        ("[{'name': 'f', 'arguments': {'a': 'x'}}]", [call("f", a="x")]),
        ('<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>', [call("f", a=1)]),
        ("[]", []),
        ("```json\n[]\n```", []),
        ("null", []),
    ],
)
def test_parse_calls_accepts(text, calls):
    res = parse_calls(text)
    assert res.error is None and res.calls == calls


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("Sorry, I cannot help with that.", "no JSON"),
        ("f(1)", "positional"),
        ("f(a=x)", "not a literal"),
        ('f(a=__import__("os").system("echo pwned"))', "not a literal"),
        ("5", "int"),
        ('[{"arguments": {"a": 1}}]', "name"),
        ('[{"name": "f", "arguments": [1]}]', "list"),
    ],
)
def test_parse_calls_format_errors_are_returned(text, fragment):
    res = parse_calls(text)
    assert res.calls is None and fragment in res.error


def test_parse_keeps_raw_object():
    assert parse_calls('{"name": "f", "arguments": {}}').raw == {"name": "f", "arguments": {}}


def test_hammer_parse_follows_the_reference():
    assert hammer_parse('```json\n[{"name": "f", "arguments": {}}]\n```').calls == [call("f")]
    assert hammer_parse('{"tool_calls": [{"name": "f", "arguments": {}}]}').calls == [call("f")]
    assert hammer_parse('{"tool_calls": null}').calls == []
    # a bare null fails the reference's `"tool_calls" in dic` test before its None check
    assert hammer_parse("null").calls is None
    # a single object decodes but is not a list: a format error for Hammer's scorer
    res = hammer_parse('{"name": "f", "arguments": {}}')
    assert res.calls is None and res.raw == {"name": "f", "arguments": {}}
    # prose around a fence and Python calls are format errors for Hammer
    assert hammer_parse("Sure:\n```json\n[]\n```").calls is None
    assert hammer_parse("[f(a=1)]").calls is None


# --------------------------------------------------------------------------- hammer_f1


def test_exact_match():
    res = hammer_f1([js(call("f", a=1, b="x"))], [[call("f", a=1, b="x")]])
    assert counters(res) == (1, 1, 1, 2, 2, 2)
    assert res["api_f1"] == res["args_f1"] == 1.0
    s = strict_f1([js(call("f", a=1, b="x"))], [[call("f", a=1, b="x")]])
    assert s["api_f1"] == s["args_f1"] == s["exact_call_f1"] == s["row_exact_accuracy"] == 1.0


def test_wrong_argument_value():
    res = hammer_f1([js(call("f", a=2, b="x"))], [[call("f", a=1, b="x")]])
    assert counters(res) == (1, 1, 1, 2, 2, 1)
    assert res["api_f1"] == 1.0 and res["args_precision"] == res["args_recall"] == 0.5
    s = strict_f1([js(call("f", a=2, b="x"))], [[call("f", a=1, b="x")]])
    assert (s["correct_calls"], s["correct_args"], s["exact_calls"]) == (1, 1, 0)
    assert s["row_exact_accuracy"] == 0.0


def test_missing_call():
    res = hammer_f1([js(call("f", a=1))], [[call("f", a=1), call("g", b=2)]])
    assert counters(res) == (2, 1, 1, 2, 1, 1)
    assert (res["api_precision"], res["api_recall"]) == (1.0, 0.5)


def test_extra_call():
    res = hammer_f1([js(call("f", a=1), call("g", b=2))], [[call("f", a=1)]])
    assert counters(res) == (1, 2, 1, 1, 2, 1)
    assert (res["api_precision"], res["api_recall"]) == (0.5, 1.0)


def test_refusal_against_a_call_and_call_against_refusal():
    # [] adds nothing to Hammer's counters, even against a gold call
    res = hammer_f1(["[]"], [[call("f", a=1)]])
    assert counters(res) == (1, 0, 0, 1, 0, 0) and res["api_f1"] == 0.0
    res = hammer_f1([js(call("f", a=1))], [[]])
    assert counters(res) == (0, 1, 0, 0, 1, 0)
    # a correct refusal is invisible to Hammer's F1 ...
    assert counters(hammer_f1(["[]"], [[]])) == (0, 0, 0, 0, 0, 0)
    # ... but is one correct pseudo-call for strict_f1
    s = strict_f1(["[]", "[]", js(call("f", a=1))], [[], [call("f", a=1)], []])
    assert (s["gold_calls"], s["pred_calls"], s["correct_calls"]) == (3, 3, 1)
    assert s["row_exact_accuracy"] == pytest.approx(1 / 3)


def test_type_equivalent_values():
    # Hammer compares str(gold) == str(pred): 5 == "5", True == "True", but 5 != 5.0
    g = [[call("f", n=5, flag=True, x=5)]]
    res = hammer_f1([js(call("f", n="5", flag="True", x=5.0))], g)
    assert res["correct_args"] == 2
    # strict compares JSON values: "5" != 5, "True" != True, 5 == 5.0
    s = strict_f1([js(call("f", n="5", flag="True", x=5.0))], g)
    assert s["correct_args"] == 1
    assert normalize_value(5) == normalize_value(5.0) != normalize_value("5")
    assert normalize_value(True) != normalize_value(1)
    assert normalize_value({"b": [1.0], "a": "X"}) == normalize_value({"a": "X", "b": [1]})


def test_empty_string_arguments_are_not_counted_but_none_is():
    res = hammer_f1([js(call("f", b=1, c=None))], [[call("f", a="", b=1, c=None)]])
    assert (res["gold_args"], res["pred_args"], res["correct_args"]) == (2, 2, 2)


def test_format_error_counts_one_predicted_call():
    res = hammer_f1(["Sorry, no idea", '{"name": "f", "arguments": {"a": 1}}'], [[call("f", a=1)], [call("f", a=1)]])
    assert counters(res) == (2, 2, 0, 2, 0, 0) and res["format_errors"] == 2
    # the lenient parser reads the single object as one call
    s = strict_f1(["Sorry, no idea", '{"name": "f", "arguments": {"a": 1}}'], [[call("f", a=1)], [call("f", a=1)]])
    assert (s["gold_calls"], s["pred_calls"], s["correct_calls"], s["format_errors"]) == (2, 2, 1, 1)


def test_malformed_call_in_list_is_a_format_error():
    # the reference crashes on a call without "arguments"; we count the row as a format error
    res = hammer_f1([json.dumps([{"name": "f"}])], [[call("f")]])
    assert counters(res) == (1, 1, 0, 0, 0, 0) and res["format_errors"] == 1
    # a call without "name" is scored as the reference does: its arguments count, it matches nothing
    res = hammer_f1([json.dumps([{"arguments": {"a": 1}}])], [[call("f", a=1)]])
    assert counters(res) == (1, 1, 0, 1, 1, 0)


def test_duplicate_call_gives_recall_two():
    res = hammer_f1([js(call("f", a=1), call("f", a=1))], [[call("f", a=1)]])
    assert counters(res) == (1, 2, 2, 1, 2, 2)
    assert res["api_recall"] == 2.0 and res["api_precision"] == 1.0 and res["args_recall"] == 2.0
    s = strict_f1([js(call("f", a=1), call("f", a=1))], [[call("f", a=1)]])
    assert (s["api_recall"], s["api_precision"]) == (1.0, 0.5)


def test_zero_argument_calls_score_one_hit():
    preds = [js(call("f")), js(call("g", a=1))]
    golds = [[call("f")], [call("g", a=1)]]
    res = hammer_f1(preds, golds)
    assert counters(res) == (2, 2, 2, 1, 1, 2)
    assert res["args_precision"] == res["args_recall"] == 2.0  # the inflation quirk
    s = strict_f1(preds, golds)
    assert s["args_f1"] == 1.0 and s["exact_calls"] == 2


def test_hits_come_from_first_gold_call_of_that_name_with_a_hit():
    golds = [[call("f", a=1, b=1), call("f", a=1, b=2)]]
    preds = [js(call("f", a=1, b=2))]
    res = hammer_f1(preds, golds)
    assert res["correct_args"] == 1  # first f with >= 1 hit is f(a=1, b=1): 1 hit, not 2
    assert strict_f1(preds, golds)["correct_args"] == 2
    # no hit in the first gold f: the next one is used
    assert hammer_f1([js(call("f", a=2))], [[call("f", a=1), call("f", a=2)]])["correct_args"] == 1


def test_strict_matching_is_one_to_one_and_order_free():
    golds = [[call("f", a=1), call("f", a=2), call("g")]]
    s = strict_f1([js(call("g"), call("f", a=2), call("f", a=1))], golds)
    assert (s["correct_calls"], s["correct_args"], s["exact_calls"], s["row_exact_accuracy"]) == (3, 2, 3, 1.0)
    # the best assignment, not the first: pred f(a=1,b=2) must pair with gold f(a=1,b=2)
    golds = [[call("f", a=1, b=1), call("f", a=1, b=2)]]
    s = strict_f1([js(call("f", a=1, b=2), call("f", a=1, b=1))], golds)
    assert s["exact_calls"] == 2


def test_gold_answers_in_tool_parameters_shape():
    golds = [[{"tool": "f", "parameters": {"a": 1}}]]
    assert hammer_f1([js(call("f", a=1))], golds)["args_f1"] == 1.0
    assert strict_f1([js(call("f", a=1))], golds)["args_f1"] == 1.0


def test_python_call_style_and_fenced_prose():
    golds = [[call("f", a=1)], [call("g", b="x")]]
    preds = ["[f(a=1)]", 'Calling it now:\n```json\n[{"name": "g", "arguments": {"b": "x"}}]\n```\nDone.']
    assert hammer_f1(preds, golds)["format_errors"] == 2  # the authors' parser reads neither
    s = strict_f1(preds, golds)
    assert s["format_errors"] == 0 and s["row_exact_accuracy"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        '```get_weather(city="Paris")```',  # a one-line fence: the call is not a language tag
        '```\nget_weather(city="Paris")\n```',
        '```python\nget_weather(city="Paris")\n```',
        '```json [{"name": "get_weather", "arguments": {"city": "Paris"}}]```',
        '```[{"name": "get_weather", "arguments": {"city": "Paris"}}]```',
    ],
)
def test_fenced_calls_with_and_without_language_tag(text):
    assert parse_calls(text).calls == [{"name": "get_weather", "arguments": {"city": "Paris"}}]


def test_irrelevance_accuracy():
    preds = ["[]", "oops", js(call("f")), js(call("f")), "[]", "oops"]
    golds = [[], [], [], [call("f")], [call("f")], [call("f")]]
    res = irrelevance_accuracy(preds, golds)
    assert res["irrelevance_n"] == 3 and res["irrelevance_accuracy"] == pytest.approx(1 / 3)
    assert res["relevance_n"] == 3 and res["relevance_rate"] == pytest.approx(1 / 3)
    assert irrelevance_accuracy(["[]"], [[call("f")]])["irrelevance_accuracy"] is None


def test_summarize_is_json_able():
    out = summarize([js(call("f", a=1)), "[]", "junk"], [[call("f", a=1)], [], [call("g")]])
    assert out["n"] == 3 and out["format_errors"] == 1
    assert out["hammer"]["api_precision"] == 0.5  # the format error counts one predicted call
    assert out["strict"]["correct_calls"] == 2
    assert out["irrelevance"]["irrelevance_accuracy"] == 1.0
    json.dumps(out)


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        hammer_f1(["[]"], [])
    with pytest.raises(ValueError):
        strict_f1([], [[]])


def test_empty_list_inside_prose_is_not_a_refusal():
    from hammer_train.evaluation.parse import parse_calls

    assert parse_calls("def f():\n    return []").calls is None
    assert parse_calls("I will output an empty list '[]' if nothing fits").calls is None
    assert parse_calls("```\n[]\n```").calls == []
    assert parse_calls("[]").calls == []
