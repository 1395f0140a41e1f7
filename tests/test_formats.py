"""Readers: real files (../shared/data, bfcl-eval) read with every row accounted for, and bad rows
named by row and field (strict) or counted by reason (lenient)."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from conftest import SHARED_DATA, requires_bfcl, requires_shared

from hammer_train.formats import READERS, ReadResult, load_records, read_source
from hammer_train.formats.bfcl import bfcl_data_dir, read_bfcl
from hammer_train.formats.hammer_eval import read_hammer_eval
from hammer_train.formats.openai import read_openai
from hammer_train.formats.sharegpt import read_sharegpt
from hammer_train.formats.xlam import read_xlam
from hammer_train.masking import MaskingConfig, mask_example
from hammer_train.prompts import hammer_user_content, render_query
from hammer_train.schema import DataError, Example, Tool, ToolCall


GLAIVE = SHARED_DATA / "glaive_toolcall_en_demo.json"
SEALTOOL = SHARED_DATA / "hammer_eval" / "sealtool.json"
APIBANK = SHARED_DATA / "hammer_eval" / "apibank_l1.json"

BFCL_CATEGORIES = [
    "simple_python",
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
]


def accounted(r: ReadResult) -> bool:
    return len(r.examples) + sum(r.dropped.values()) == r.candidates and len(r.ids) == len(r.examples)


# ------------------------------------------------------------------------------ real: Glaive


@requires_shared
def test_glaive_every_conversation_accounted():
    raw = json.loads(GLAIVE.read_text())
    n_call_turns = sum(t["from"] == "function_call" for r in raw for t in r["conversations"])
    r = read_source("sharegpt", str(GLAIVE))
    assert r.rows_read == len(raw) == 300
    assert accounted(r)
    kinds = Counter(e.kind for e in r)
    # 153 conversations call a tool (211 call turns), 38 offer tools without calling, 109 are chat
    assert r.dropped["no_tools_no_call"] == 109
    assert kinds["no_call"] == 38
    assert kinds["call"] + r.n_dropped - 109 == n_call_turns == 211
    assert r.candidates == 211 + 38 + 109
    # the one drop is a real slip: a list passed for a "number" parameter
    assert r.dropped["argument_type"] == 1
    assert "row 259, field 'conversations[3].value[0].arguments.calories_per_item'" in r.errors[0]
    lenient = read_sharegpt(raw, validate=False)
    assert len({e.row for e in lenient if e.kind == "call"}) == 153
    assert lenient.warnings == Counter(argument_type=1)


@requires_shared
def test_glaive_query_shapes():
    r = read_source("sharegpt", str(GLAIVE))
    first = r.examples[0]
    assert first.source == "glaive_toolcall_en_demo" and first.row == 0 and r.ids[0] == "0:3"
    assert [m["role"] for m in first.query] == ["user", "assistant", "user"]
    assert first.answers == [ToolCall("search_recipes", {"ingredients": ["chicken", "bell peppers", "rice"]})]
    single = next(e for e in r if isinstance(e.query, str))
    assert single.query.strip()
    # a later call in a conversation sees the earlier call and its result in its history
    later = next(e for e in r if isinstance(e.query, list) and any("tool_calls" in m for m in e.query))
    call_msg = next(m for m in later.query if "tool_calls" in m)
    i = later.query.index(call_msg)
    assert call_msg["role"] == "assistant" and isinstance(call_msg["tool_calls"][0]["arguments"], dict)
    assert later.query[i + 1]["role"] == "tool"
    no_call = next(e for e in r if e.kind == "no_call")
    assert no_call.answers == [] and no_call.tools and isinstance(no_call.query, str)


# ------------------------------------------------------------------------ real: Hammer eval sets


@requires_shared
def test_sealtool_row_round_trips():
    records = json.loads(SEALTOOL.read_text())
    r = read_hammer_eval(records, source="sealtool")
    ex = r.examples[0]
    assert ex.query == "Retrieve information about postmodern theory."
    assert [t.name for t in ex.tools] == [
        "getPostmodernTheory",
        "getFeministTheory",
        "getStructuralFunctionalismTheory",
        "getPoliticalPsychologyTheory",
        "getConflictTheory",
    ]
    assert ex.answers == [ToolCall("getPostmodernTheory", {})]
    assert (ex.source, ex.row, ex.kind) == ("sealtool", 0, "call")
    assert Example.from_storage(json.loads(json.dumps(ex.to_dict()))) == ex
    # the tool-level "required" list of Seal-Tools is honoured
    net = r.examples[1].tool("calculateNetIncome")
    assert {p.name: p.required for p in net.parameters} == {"revenue": True, "expenses": True, "tax_rate": False}
    # gold kept as released ("40.7" for a float), the failed check counted, not hidden
    assert r.examples[1].answers[0].arguments == {"revenue": 0.2907590418481535, "expenses": "40.7"}
    assert r.warnings == Counter(argument_type=55)


@requires_shared
@pytest.mark.parametrize(
    "path, rows, strict_drops",
    [
        (SEALTOOL, 294, Counter(argument_type=55)),
        (APIBANK, 399, Counter(argument_type=28, missing_required_argument=8, unknown_argument=8)),
    ],
)
def test_hammer_eval_every_row_accounted(path, rows, strict_drops):
    kept_all = read_source("hammer_eval", str(path))
    assert kept_all.rows_read == rows and len(kept_all) == rows and not kept_all.dropped
    assert kept_all.warnings == strict_drops
    checked = read_source("hammer_eval", str(path), validate=True)
    assert accounted(checked) and checked.candidates == rows
    assert checked.dropped == strict_drops


@requires_shared
def test_apibank_keeps_roles():
    r = read_source("hammer_eval", str(APIBANK))
    roles = Counter(m["role"] for e in r for m in e.query)
    assert set(roles) == {"user", "agent", "assistant", "tool"}
    assert r.examples[0].query[-1]["content"].endswith("Generate API Request:")
    assert r.examples[0].answers[0].name == "ModifyRegistration"
    # the 269 earlier calls, stored as fenced JSON text, become tool_calls: rendered as
    # "API-Request: [f(a=...)]->result" lines and renamed along with the tools when masked
    history = [m for e in r for m in e.query if m["role"] == "assistant"]
    assert len(history) == 269 and all(m["tool_calls"] and m["content"] == "" for m in history)
    assert "history_call_not_parsed" not in r.warnings
    ex = r.examples[1]
    assert 'API-Request: [ModifyRegistration(appointment_id="34567890", ' in render_query(ex.query)
    masked = mask_example(ex, MaskingConfig(row_prob=1.0, default_prob=0.0), random.Random(0)).example
    rendered = hammer_user_content(masked)
    assert "ModifyRegistration" not in rendered and "appointment_id" not in rendered


def test_xlam_parameter_named_properties_is_not_json_schema():
    xlam = Tool.from_dict(
        {
            "name": "set_props",
            "parameters": {
                "properties": {"type": "dict", "description": "Properties to set."},
                "id": {"type": "int", "description": "Id."},
            },
        }
    )
    assert xlam.layout == "xlam" and [p.name for p in xlam.parameters] == ["properties", "id"]
    # JSON schema without "type", even with properties named "type" and "description"
    schema = Tool.from_dict(
        {
            "name": "f",
            "parameters": {
                "properties": {"type": {"type": "string"}, "description": {"type": "string"}},
                "required": ["type"],
            },
        }
    )
    assert schema.layout == "openai" and {p.name: p.required for p in schema.parameters} == {
        "type": True,
        "description": False,
    }


def test_render_query_keeps_text_of_a_call_turn():
    query = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [GOOD_CALL]},
        {"role": "tool", "content": "sunny"},
        {"role": "user", "content": "And London?"},
    ]
    assert render_query(query).splitlines() == [
        "User: Weather in Paris?",
        "AI: Let me check.",
        'API-Request: [get_weather(city="Paris")]->sunny',
        "User: And London?",
    ]


def test_render_query_parallel_calls_keep_every_tool_result():
    other = {"name": "get_weather", "arguments": {"city": "London"}}
    query = [
        {"role": "user", "content": "Weather in Paris and London?"},
        {"role": "assistant", "content": "", "tool_calls": [GOOD_CALL, other]},
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "rain"},
    ]
    assert render_query(query).splitlines() == [
        "User: Weather in Paris and London?",
        'API-Request: [get_weather(city="Paris"), get_weather(city="London")]->sunny',
        "API-Response: rain",
    ]


def test_hammer_eval_history_text_that_is_not_a_call_is_counted():
    row = {
        "query": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "```not json```"},
            {"role": "user", "content": "weather in Paris?"},
        ],
        "tools": [TOOL],
        "answers": [GOOD_CALL],
    }
    r = read_hammer_eval([row])
    assert len(r) == 1 and r.warnings == Counter(history_call_not_parsed=1)
    assert "row 0, field 'query[1].content'" in r.warning_messages[0]
    assert r.examples[0].query[1] == {"role": "assistant", "content": "```not json```"}


# ---------------------------------------------------------------------------------- real: BFCL


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@requires_bfcl
def test_bfcl_every_row_accounted():
    for cat in BFCL_CATEGORIES:
        r = read_bfcl(cat)
        assert accounted(r) and r.rows_read == r.candidates, cat
        assert r.rows_read == len(_jsonl(bfcl_data_dir() / f"BFCL_v4_{cat}.json")), cat
        lenient = read_bfcl(cat, validate=False)
        assert len(lenient) == lenient.rows_read and not lenient.dropped, cat  # evaluation loses no row
        assert sum(lenient.warnings.values()) == r.n_dropped, cat


@requires_bfcl
def test_bfcl_live_simple_targets():
    r = read_bfcl("live_simple")
    gold = _jsonl(bfcl_data_dir() / "possible_answer" / "BFCL_v4_live_simple.json")
    ((name, args),) = gold[0]["ground_truth"][0].items()
    ex = r.examples[0]
    assert r.ids[0] == gold[0]["id"] == "live_simple_0-0-0"
    assert ex.source == "bfcl:live_simple" and ex.row == 0 and ex.kind == "call"
    assert ex.answers == [ToolCall(name, {k: v[0] for k, v in args.items()})]
    assert isinstance(ex.query, str)
    with_system = next(e for e in r if isinstance(e.query, list))
    assert [m["role"] for m in with_system.query] == ["system", "user"]
    # ids stay aligned with the gold file after drops
    by_id = {g["id"]: g for g in gold}
    for rid, e in zip(r.ids, r.examples):
        assert [c.name for c in e.answers] == [next(iter(c)) for c in by_id[rid]["ground_truth"]]


@requires_bfcl
def test_bfcl_required_list_rendered_as_flags_in_hammer_prompt():
    # BFCL's tools are JSON schema with a tool-level "required" list; the Hammer prompt's flat
    # layout marks the required parameters "required": true (as BFCL's Hammer handler does) and
    # leaves optional ones unmarked, and reading the rendered spec back gives the same split.
    r = read_bfcl("simple_python")
    tool = r.examples[r.ids.index("simple_python_2")].tools[0]  # math.hypot: x, y required; z optional
    assert {p.name: p.required for p in tool.parameters} == {"x": True, "y": True, "z": False}
    flat = tool.to_xlam()["parameters"]
    assert {k: v.get("required") for k, v in flat.items()} == {"x": True, "y": True, "z": None}
    assert '"required": true' in hammer_user_content(r.examples[r.ids.index("simple_python_2")])
    again = Tool.from_dict(tool.to_xlam())
    assert {p.name: p.required for p in again.parameters} == {"x": True, "y": True, "z": False}
    assert again.to_xlam() == tool.to_xlam()


@requires_bfcl
def test_bfcl_required_object_parameter_flagged_over_its_nested_list():
    # parallel_29: "population" is required and is an object with its own nested required list;
    # BFCL's Hammer handler writes the flag over that list, and so do we.
    r = read_bfcl("parallel", validate=False)
    tool = r.examples[r.ids.index("parallel_29")].tool("waste_calculation.calculate")
    population = tool.parameter("population")
    assert population.required and population.extra["required"] == ["adults", "children", "singles"]
    flat = tool.to_xlam()["parameters"]
    assert flat["population"]["required"] is True
    assert Tool.from_dict(tool.to_xlam()).parameter("population").required


def test_xlam_tools_render_without_required_flags():
    # Hammer's own xLAM rows carry no flags and must render as they came.
    spec = {
        "name": "f",
        "description": "d",
        "parameters": {
            "a": {"description": "A", "type": "int", "default": 1},
            "b": {"description": "B", "type": "str"},
        },
    }
    assert Tool.from_dict(spec).to_xlam() == spec


@requires_bfcl
def test_bfcl_optional_first_alternative_is_omitted():
    r = read_bfcl("simple_python")
    i = r.ids.index("simple_python_2")  # ground truth {"x": [4], "y": [5], "z": ["", 0]}
    assert r.examples[i].answers == [ToolCall("math.hypot", {"x": 4, "y": 5})]
    i = r.ids.index("simple_python_0")  # "unit": ["units", ""]: first value kept
    assert r.examples[i].answers[0].arguments == {"base": 10, "height": 5, "unit": "units"}


@requires_bfcl
def test_bfcl_irrelevance_and_relevance_kinds():
    irr = read_bfcl("irrelevance,live_relevance")
    kinds = Counter(e.kind for e in irr)
    assert kinds == Counter(irrelevance=240, relevance=16)
    assert all(e.answers == [] for e in irr)
    no_gold = read_bfcl("live_simple", with_answers=False)
    assert len(no_gold) == 258 and all(e.answers == [] for e in no_gold)


def test_bfcl_inline_types_and_alternatives(tmp_path):
    """BFCL layout without the package: "dict" / "float" / "tuple" / "any" types, "" alternatives."""
    fn = {
        "name": "f",
        "description": "d",
        "parameters": {
            "type": "dict",
            "required": ["a", "b"],
            "properties": {
                "a": {"type": "float"},
                "b": {"type": "tuple", "items": {"type": "integer"}},
                "c": {"type": "any"},
                "d": {"type": "dict", "properties": {"x": {"type": "string"}}},
                "e": {"type": "integer"},
            },
        },
    }
    rows = [
        {"id": "t_0", "question": [[{"role": "user", "content": "q0"}]], "function": [fn]},
        {
            "id": "t_1",
            "question": [[{"role": "system", "content": "s"}, {"role": "user", "content": "q1"}]],
            "function": [fn],
        },
        {"id": "t_2", "question": [[{"role": "user", "content": "q2"}]], "function": [fn]},
    ]
    gold = [
        {
            "id": "t_0",
            "ground_truth": [{"f": {"a": [3], "b": [[1, 2]], "c": [None], "d": [{"x": "y"}], "e": ["", 4]}}],
        },
        {"id": "t_1", "ground_truth": [{"f": {"a": [2.5], "b": [[1]], "e": [1, ""]}}]},
        {"id": "t_2", "ground_truth": [{"f": {"a": ["x"], "b": [[1]]}}]},
    ]
    (tmp_path / "possible_answer").mkdir()
    (tmp_path / "BFCL_v4_live_simple.json").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "possible_answer" / "BFCL_v4_live_simple.json").write_text("\n".join(json.dumps(g) for g in gold))
    r = read_bfcl("live_simple", data_dir=tmp_path)
    assert r.ids == ["t_0", "t_1"]
    assert r.examples[0].answers == [ToolCall("f", {"a": 3, "b": [1, 2], "c": None, "d": {"x": "y"}})]
    assert r.examples[1].query == [{"role": "system", "content": "s"}, {"role": "user", "content": "q1"}]
    assert r.dropped == Counter(argument_type=1) and "row 2" in r.errors[0] and "answers[0].arguments.a" in r.errors[0]
    with pytest.raises(DataError, match=r"bfcl:live_simple, row 2, field 'answers\[0\]\.arguments\.a'"):
        read_bfcl("live_simple", data_dir=tmp_path, strict=True)
    with pytest.raises(ValueError, match="unsupported BFCL category"):
        read_bfcl("multi_turn_base", data_dir=tmp_path)


# --------------------------------------------------------------------------- bad inline input

TOOL = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "city": {"type": "str", "description": "City."},
        "days": {"type": "int", "description": "Days.", "default": 1},
    },
}
GOOD_CALL = {"name": "get_weather", "arguments": {"city": "Paris"}}

# (case, tools, answers, reason, field named in the message)
BAD = [
    ("broken_tools_json", '[{"name": "get_weather", ', [GOOD_CALL], "broken_json", "tools"),
    ("unknown_function", [TOOL], [{"name": "get_time", "arguments": {}}], "unknown_function", "answers[0].name"),
    (
        "missing_required",
        [TOOL],
        [{"name": "get_weather", "arguments": {"days": 2}}],
        "missing_required_argument",
        "answers[0].arguments.city",
    ),
    (
        "wrong_type",
        [TOOL],
        [{"name": "get_weather", "arguments": {"city": "Paris", "days": "2"}}],
        "argument_type",
        "answers[0].arguments.days",
    ),
    ("empty_tools", [], [GOOD_CALL], "empty_tools", "tools"),
    ("tool_name_not_str", [{**TOOL, "name": 7}], [GOOD_CALL], "bad_name", "tools[0].name"),
    ("call_name_not_str", [TOOL], [{"name": ["get_weather"], "arguments": {}}], "bad_name", "answers[0].name"),
]


def _xlam_rows(tools, answers):
    good = {"query": "Weather in Paris?", "tools": json.dumps([TOOL]), "answers": json.dumps([GOOD_CALL])}
    return [good, {"query": "Weather?", "tools": tools, "answers": answers}]


@pytest.mark.parametrize("case, tools, answers, reason, fld", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("reader", ["xlam", "hammer_eval_validated"])
def test_bad_rows_flat(reader, case, tools, answers, reason, fld):
    read = read_xlam if reader == "xlam" else lambda rows, **kw: read_hammer_eval(rows, validate=True, **kw)
    rows = _xlam_rows(tools, answers)
    with pytest.raises(DataError) as exc:
        read(rows, source="inline", strict=True)
    assert exc.value.reason == reason and exc.value.row == 1 and exc.value.field == fld
    assert f"inline, row 1, field '{fld}'" in str(exc.value)
    r = read(rows, source="inline")
    assert len(r) == 1 and r.dropped == Counter({reason: 1}) and accounted(r)
    assert "row 1" in r.errors[0]


@pytest.mark.parametrize("case, tools, answers, reason, fld", BAD, ids=[b[0] for b in BAD])
def test_bad_rows_sharegpt_and_openai(case, tools, answers, reason, fld):
    # ShareGPT / OpenAI put answers inside a turn: the message names that turn
    turn_fld = fld.replace("answers", "conversations[1].value")
    sg = [
        {
            "conversations": [
                {"from": "human", "value": "Weather?"},
                {"from": "function_call", "value": json.dumps(answers[0])},
            ],
            "tools": tools,
        }
    ]
    with pytest.raises(DataError) as exc:
        read_sharegpt(sg, source="inline", strict=True)
    assert exc.value.reason == reason and exc.value.row == 0 and exc.value.field == turn_fld
    r = read_sharegpt(sg, source="inline")
    assert r.dropped == Counter({reason: 1}) and accounted(r) and len(r) == 0

    oa_call = {
        "type": "function",
        "function": {"name": answers[0]["name"], "arguments": json.dumps(answers[0]["arguments"])},
    }
    oa_tools = tools if isinstance(tools, str) else [{"type": "function", "function": t} for t in tools]
    oa = [
        {
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": None, "tool_calls": [oa_call]},
            ],
            "tools": oa_tools,
        }
    ]
    with pytest.raises(DataError) as exc:
        read_openai(oa, source="inline", strict=True)
    assert exc.value.reason == reason and exc.value.row == 0
    assert exc.value.field == fld.replace("answers", "messages[1].tool_calls")
    r = read_openai(oa, source="inline")
    assert r.dropped == Counter({reason: 1}) and accounted(r)


def test_broken_call_turn_is_its_own_dropped_candidate():
    rows = [
        {
            "conversations": [
                {"from": "human", "value": "Weather?"},
                {"from": "function_call", "value": '{"name": '},
                {"from": "observation", "value": "sunny"},
                {"from": "human", "value": "Tomorrow?"},
                {"from": "function_call", "value": json.dumps(GOOD_CALL)},
            ],
            "tools": json.dumps([TOOL]),
        }
    ]
    r = read_sharegpt(rows, source="inline")
    # both call turns are candidates; the second inherits the broken history and is dropped too
    assert r.candidates == 2 and r.dropped == Counter(broken_json=2) and len(r) == 0
    with pytest.raises(DataError, match=r"row 0, field 'conversations\[1\]\.value'"):
        read_sharegpt(rows, strict=True)


def test_sharegpt_no_call_rules_and_system():
    rows = [
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}], "tools": "[]"},
        {
            "conversations": [{"from": "human", "value": "Joke?"}, {"from": "gpt", "value": "No tool for that."}],
            "tools": json.dumps([TOOL]),
            "system": "Be brief.",
        },
        {
            "conversations": [
                {"from": "human", "value": "Paris and Rome?"},
                {
                    "from": "function_call",
                    "value": json.dumps([GOOD_CALL, {"name": "get_weather", "arguments": {"city": "Rome"}}]),
                },
            ],
            "tools": json.dumps([TOOL]),
        },
    ]
    r = read_sharegpt(rows, source="inline", strict=True)  # a policy skip never raises
    assert r.dropped == Counter(no_tools_no_call=1) and accounted(r)
    no_call, parallel = r.examples
    assert no_call.kind == "no_call" and no_call.answers == []
    assert no_call.query == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Joke?"}]
    assert parallel.query == "Paris and Rome?" and [a.arguments["city"] for a in parallel.answers] == ["Paris", "Rome"]
    assert r.ids == ["1:1", "2:1"]


def test_openai_rows():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "w",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]

    def call(city):
        return {
            "id": "c",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
        }

    rows = [
        {
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [call("Paris")]},
                {"role": "tool", "name": "get_weather", "content": "sunny"},
                {"role": "assistant", "content": "Sunny."},
                {"role": "user", "content": "Rome?"},
                {"role": "assistant", "content": "", "tool_calls": [call("Rome")]},
            ],
            "tools": tools,
        },
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": "Hello"},
            ],
            "tools": json.dumps(tools),
        },
        {"messages": [{"role": "user", "content": "Hi"}], "tools": []},
    ]
    r = read_openai(rows, source="inline")
    assert accounted(r) and r.rows_read == 3 and r.dropped == Counter(no_tools_no_call=1)
    first, second, no_call = r.examples
    assert first.query == [{"role": "system", "content": "sys"}, {"role": "user", "content": "Paris?"}]
    assert first.answers == [ToolCall("get_weather", {"city": "Paris"})]
    assert second.query[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    }
    assert second.query[3] == {"role": "tool", "content": "sunny", "name": "get_weather"}
    assert second.answers == [ToolCall("get_weather", {"city": "Rome"})]
    assert no_call.kind == "no_call" and no_call.query == "Hi"
    assert r.ids == ["0:2", "0:6", "1:1"]


def test_xlam_kinds_and_ids():
    rows = [
        {"id": 17, "query": "Weather in Paris?", "tools": json.dumps([TOOL]), "answers": json.dumps([GOOD_CALL])},
        {"query": "Book a flight.", "tools": json.dumps([TOOL]), "answers": "[]"},
    ]
    r = read_xlam(rows)
    assert [e.kind for e in r] == ["call", "irrelevance"] and r.ids == ["17", "1"]
    r = read_xlam(rows, kind="irrelevance")
    assert len(r) == 1 and r.dropped == Counter(bad_field=1)
    with pytest.raises(DataError, match=r"row 0, field 'answers'"):
        read_xlam(rows, kind="irrelevance", strict=True)


# ------------------------------------------------------------------------ loading and dispatch


def test_load_records_and_read_source(tmp_path):
    rows = [
        {"query": "Weather in Paris?", "tools": [TOOL], "answers": [GOOD_CALL]},
        {"query": "Book a flight.", "tools": [TOOL], "answers": []},
    ]
    as_list = tmp_path / "xlam.json"
    as_list.write_text(json.dumps(rows))
    as_lines = tmp_path / "lines.json"
    as_lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    jsonl = tmp_path / "XLAM-7.5k-Irrelevance.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows[1:]))
    assert load_records(as_list) == load_records(as_lines) == rows
    r = read_source("xlam", str(as_list))
    assert [e.source for e in r] == ["xlam", "xlam"] and [e.kind for e in r] == ["call", "irrelevance"]
    r = read_source("xlam", str(jsonl), source="irr")
    assert [(e.source, e.kind) for e in r] == [("irr", "irrelevance")]
    with pytest.raises(FileNotFoundError):
        load_records(tmp_path / "missing.jsonl")
    with pytest.raises(KeyError):
        read_source("alpaca", str(as_list))
    with pytest.raises(TypeError):
        read_source("sharegpt", str(as_list), kind="call")
    assert set(READERS) == {"xlam", "hammer_eval", "sharegpt", "openai", "bfcl"}


@requires_bfcl
def test_bfcl_nested_alternatives_take_first_value():
    from hammer_train.formats import read_bfcl

    res = read_bfcl("simple_python", validate=False)
    idx = res.ids.index("simple_python_89")
    args = res.examples[idx].answers[0].arguments
    nested = [v for v in args.values() if isinstance(v, dict)]
    assert nested, args
    # alternatives inside the object are resolved to one value, not kept as lists
    assert all(not isinstance(x, list) for v in nested for x in v.values()), nested


@requires_bfcl
def test_bfcl_gold_list_of_objects_takes_each_first_alternative():
    """BFCL writes alternatives per key inside a list of objects too (live_simple_189-114-0):
    the gold call holds plain values, not one-element alternative lists."""
    result = read_source("bfcl", "live_simple")
    calls = [c for ex in result.examples for c in ex.answers if c.name == "extractor.extract_information"]
    people = [p for c in calls for p in c.arguments["data"]]
    assert {"name": "Chester", "age": 42} in people and {"name": "Jane", "age": 43} in people
    assert all(not isinstance(v, list) for p in people for v in p.values())
