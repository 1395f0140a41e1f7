"""Inputs of the synthesis pipeline (OpenAI / xLAM tools, OpenAPI 3, a dataset's tools), the API
definition check, reading generator replies, and the dialog mix."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import SHARED_DATA, requires_shared
from hypothesis import given
from hypothesis import strategies as st

from hammer_train.endpoint import ChatResult
from hammer_train.schema import DataError
from hammer_train.synthesis import check_api, load_tools, tools_from_dataset, tools_from_openapi
from hammer_train.synthesis.dialogs import plan_kinds
from hammer_train.synthesis.expansion import operation_applied
from hammer_train.synthesis.inputs import read_document
from hammer_train.synthesis.replies import BadReply, parse_json_reply, parse_text_reply


FIXTURES = Path(__file__).parent / "fixtures"


def test_openapi_operations_become_tools_with_refs_resolved():
    apis = load_tools(FIXTURES / "library_openapi.yaml")
    assert [a["name"] for a in apis] == ["searchBooks", "post_books_isbn_loans"]
    search, loan = apis
    assert search["description"] == "Search the catalogue. Find books by title or author."
    assert set(search["parameters"]["properties"]) == {"q", "limit"}  # the Authorization header is left out
    assert search["parameters"]["required"] == ["q"]
    assert search["returns"]["items"]["properties"]["title"] == {"type": "string"}  # $ref inlined
    assert loan["parameters"]["required"] == ["isbn", "member_id"]  # path parameter + request body
    assert loan["parameters"]["properties"]["days"]["enum"] == [7, 14, 21]
    assert loan["returns"]["properties"]["book"]["properties"]["isbn"] == {"type": "string"}
    assert loan["http"] == {"method": "POST", "path": "/books/{isbn}/loans"}
    for api in apis:
        check_api(api, strict=True)


def test_openapi_cycles_and_errors():
    doc = read_document(FIXTURES / "library_openapi.yaml")
    doc["components"]["schemas"]["Book"]["properties"]["sequel"] = {"$ref": "#/components/schemas/Book"}
    (search, _) = tools_from_openapi(doc)
    depth, node = 0, search["returns"]["items"]
    while "sequel" in node.get("properties", {}):
        node, depth = node["properties"]["sequel"], depth + 1
    assert 1 <= depth <= 9  # a self-reference is cut, not followed forever
    with pytest.raises(ValueError, match="not an OpenAPI 3 document"):
        tools_from_openapi({"swagger": "2.0", "paths": {}}, "old.json")
    doc["paths"]["/books"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {"$ref": "#/nope"}
    with pytest.raises(ValueError, match="points nowhere"):
        tools_from_openapi(doc)


@requires_shared
def test_xlam_tools_become_json_schema(tmp_path):
    rows = json.loads((SHARED_DATA / "hammer_eval" / "sealtool.json").read_text())
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(rows[1]["tools"]))
    apis = load_tools(path)
    for api in apis:
        types = {p["type"] for p in api["parameters"]["properties"].values()}
        assert types <= {"string", "integer", "number", "boolean", "array", "object"}, types  # str -> string...
        check_api(api, strict=True)
    assert [a["name"] for a in apis] == [t["name"] for t in rows[1]["tools"]]


def test_bad_tool_files_name_the_file_and_index(tmp_path):
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([{"name": "a", "description": "x"}, {"description": "no name"}]))
    with pytest.raises(DataError, match=r"tools\.json.*tools\[1\]\.name"):
        load_tools(path)
    path.write_text(json.dumps([{"name": "a", "description": "x"}, {"name": "a", "description": "y"}]))
    with pytest.raises(ValueError, match="two tools are named 'a'"):
        load_tools(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_tools(path)


@requires_shared
def test_tools_of_a_dataset():
    apis = tools_from_dataset(f"sharegpt:{SHARED_DATA / 'glaive_toolcall_en_demo.json'}")
    names = [a["name"] for a in apis]
    assert len(names) == len(set(names)) > 20
    assert "calculate_distance" in names
    with pytest.raises(ValueError, match="FORMAT:PATH"):
        tools_from_dataset("glaive.json")


def _api(**props):
    return {
        "name": "f",
        "description": "does f",
        "parameters": {"type": "object", "properties": props, "required": list(props)[:1]},
    }


@pytest.mark.parametrize(
    "api, reason",
    [
        ({"description": "d"}, "api_missing_field"),
        ({**_api(), "name": "has space"}, "bad_name"),
        ({**_api(), "description": ""}, "api_missing_field"),
        (_api(x={"type": "string"}), "api_missing_field"),  # no description
        (_api(x={"description": "x"}), "api_missing_field"),  # no type (strict)
        (_api(x={"type": "text", "description": "x"}), "api_invalid_schema"),  # not a JSON Schema type
        (_api(x={"type": "string", "description": "x", "enum": [1, 2]}), "api_invalid_schema"),
        (_api(x={"type": "integer", "description": "x", "minimum": "zero"}), "api_invalid_schema"),
        ({**_api(x={"type": "string", "description": "x"}), "returns": {"type": "frobnicate"}}, "api_invalid_schema"),
        ({**_api(), "parameters": {"x": {"type": "string", "description": "x"}}}, "api_invalid_schema"),  # xLAM
    ],
)
def test_api_definition_check_names_the_reason(api, reason):
    with pytest.raises(DataError) as info:
        check_api(api, "tools[0]", strict=True)
    assert info.value.reason == reason


def test_operations_must_show_in_the_variant():
    parent = _api(city={"type": "string", "description": "city"})
    child = json.loads(json.dumps(parent))
    assert not any(operation_applied(parent, child, op) for op in ("add_parameter", "add_constraint", "change_type"))
    child["parameters"]["properties"]["city"]["enum"] = ["Paris", "Rome"]
    assert operation_applied(parent, child, "add_constraint")
    child["parameters"]["properties"]["city"]["type"] = "array"
    assert operation_applied(parent, child, "change_type")
    child["returns"] = {"type": "object"}
    assert operation_applied(parent, child, "change_return")


def _reply(content, finish="stop", error=None):
    if error:
        return ChatResult(0, None, error, "boom")
    return ChatResult(0, {"content": content, "tool_calls": [], "finish_reason": finish})


@pytest.mark.parametrize(
    "content, value",
    [
        ('{"query": "hi"}', {"query": "hi"}),
        ('Sure!\n```json\n{"query": "hi"}\n```\nAnything else?', {"query": "hi"}),
        ('Here it is: {"query": "a {b} c"} - done', {"query": "a {b} c"}),
    ],
)
def test_json_is_read_out_of_prose_and_fences(content, value):
    assert parse_json_reply(_reply(content), dict) == value


@pytest.mark.parametrize(
    "result, reason",
    [
        (_reply(""), "empty_reply"),
        (_reply("I'm sorry, but I can't help with that."), "refusal"),
        (_reply("As an AI, I cannot browse."), "refusal"),
        (_reply("The weather is nice."), "not_json"),
        (_reply('{"query": "cut'), "not_json"),
        (_reply('{"query": "cut', finish="length"), "truncated"),
        (_reply(None, error="timeout"), "endpoint_timeout"),
        (_reply("[1, 2]"), "not_json"),  # a list where an object is wanted
    ],
)
def test_bad_replies_get_a_reason(result, reason):
    with pytest.raises(BadReply) as info:
        parse_json_reply(result, dict)
    assert info.value.reason == reason


def test_final_answer_text():
    assert parse_text_reply(_reply("  It is sunny.  ")) == "It is sunny."
    with pytest.raises(BadReply, match="truncated"):
        parse_text_reply(_reply("It is", finish="length"))


@given(
    n=st.integers(min_value=1, max_value=300),
    shares=st.lists(st.floats(min_value=0, max_value=5), min_size=4, max_size=4).filter(lambda s: sum(s) > 0.01),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_dialog_mix_follows_the_shares(n, shares, seed):
    named = dict(zip(("single", "parallel", "dependent", "irrelevance"), shares))
    kinds = plan_kinds(n, named, seed)
    counts = Counter(kinds)
    assert len(kinds) == n
    for kind, share in named.items():
        assert abs(counts[kind] - n * share / sum(shares)) < 1 + 1e-9
    assert plan_kinds(n, named, seed) == kinds  # same seed, same order
