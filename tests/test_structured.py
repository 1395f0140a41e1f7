"""Structured outputs (``hammer-train evaluate --structured_outputs``): the answer grammar accepts
every training target and rejects the syntax errors small models make; the tools grammar accepts the
benchmark's gold answers and rejects unknown functions, unknown or repeated parameter names;
generation under them with the real SmolLM2 stays inside the grammar."""

from __future__ import annotations

import importlib.util
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hammer_train.prompts import format_answers
from hammer_train.schema import ToolCall


pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llguidance") is None,
    reason="llguidance (the structured extra) is not installed: pip install 'hammer-train[structured]'",
)


@pytest.fixture(scope="module")
def constraint(smollm2_tokenizer):
    from hammer_train.evaluation.generate import stop_token_ids
    from hammer_train.evaluation.structured import GrammarConstraint

    return GrammarConstraint(smollm2_tokenizer, stop_token_ids(smollm2_tokenizer), len(smollm2_tokenizer))


def _accepted(constraint, tokenizer, text: str, grammar: str | None = None) -> tuple[bool, bool]:
    """(every token of ``text`` allowed in order, the grammar complete after them); default
    grammar: the answer grammar."""
    from llguidance import LLMatcher

    from hammer_train.evaluation.structured import answer_grammar

    matcher = LLMatcher(constraint.ll_tokenizer, grammar or answer_grammar())
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    n = matcher.validate_tokens(ids)
    if n < len(ids):
        return False, False
    assert matcher.consume_tokens(ids)
    return True, matcher.is_accepting()


_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(-1e6, 1e6, allow_nan=False)
    | st.text(string.printable + "éü中", max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(string.ascii_letters, max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_call = st.builds(
    ToolCall,
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,20}", fullmatch=True),
    arguments=st.dictionaries(st.text(string.ascii_letters + "_", min_size=1, max_size=8), _value, max_size=4),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(_call, max_size=3))
def test_every_training_target_is_in_the_grammar(constraint, smollm2_tokenizer, answers):
    text = format_answers(answers)  # exactly what training teaches, refusals ([]) included
    assert _accepted(constraint, smollm2_tokenizer, text) == (True, True)


@pytest.mark.parametrize(
    "text",
    [
        '```\n[{"name": "f", "arguments": {"time": 10:30}}]\n```',  # unquoted value
        '```\n[[{"name": "f", "arguments": {}}]\n```',  # nesting opened twice, closed once
        '```\n[{"name": "f", "arguments": {"health_data": {\'a\': 1}}}]\n```',  # Python quotes
        '```\n[{"name": "f"}]\n```',  # no arguments
        '```\n[{"name": "f", "arguments": "{}"}]\n```',  # arguments as a JSON string
        '```\n[{"function": "f", "arguments": {}}]\n```',  # another call shape
        "I cannot help with that.",  # prose
    ],
)
def test_syntax_errors_are_outside_the_grammar(constraint, smollm2_tokenizer, text):
    assert _accepted(constraint, smollm2_tokenizer, text) == (False, False)


def test_unfinished_answer_is_not_complete(constraint, smollm2_tokenizer):
    assert _accepted(constraint, smollm2_tokenizer, '```\n[{"name": "f", "arguments": {"a": 1}}') == (True, False)


def test_tools_grammar_holds_the_gold_answers(shared_data, constraint, smollm2_tokenizer):
    """The gold answers of Seal-Tools and API-Bank (parameter names as the tool lists them) are
    inside their row's tools grammar; the same answers under another row's tools are not."""
    from hammer_train.evaluation.benchmarks import load_benchmark
    from hammer_train.evaluation.structured import answer_grammar, tools_schema

    for name in ("sealtool", "apibank_l1"):
        bench = load_benchmark(name, limit=12, data_dir=shared_data / "hammer_eval")
        for i, (example, gold) in enumerate(zip(bench.examples, bench.golds, strict=True)):
            order = {t.name: [p.name for p in t.parameters] for t in example.tools}
            calls = [
                ToolCall(c["name"], {k: c["arguments"][k] for k in order[c["name"]] if k in c["arguments"]})
                for c in gold
            ]
            text = format_answers(calls)
            assert _accepted(constraint, smollm2_tokenizer, text, answer_grammar(tools_schema(example.tools))) == (
                True,
                True,
            ), (name, i, text)
            other = bench.examples[(i + 1) % len(bench)].tools
            if calls and not {c.name for c in calls} <= {t.name for t in other}:
                assert not _accepted(constraint, smollm2_tokenizer, text, answer_grammar(tools_schema(other)))[0]


def _tool(name: str, *params: str):
    from hammer_train.schema import Tool

    props = {p: {"type": "string", "description": ""} for p in params}
    return Tool.from_dict({"name": name, "description": "", "parameters": {"type": "object", "properties": props}})


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ('```\n[{"name": "f", "arguments": {"a": 1, "b": "x"}}]\n```', True),
        ('```\n[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {"c": [1]}}]\n```', True),
        ("```\n[]\n```", True),  # refusing stays possible
        ('```\n[{"name": "h", "arguments": {}}]\n```', False),  # a function not in the list
        ('```\n[{"name": "f", "arguments": {"c": 1}}]\n```', False),  # another function's parameter
        ('```\n[{"name": "f", "arguments": {"a": 1, "a": 1}}]\n```', False),  # a repeated key: the loops
        ('```\n[{"name": "f", "arguments": {"b": "x", "a": 1}}]\n```', False),  # not in the listed order
    ],
)
def test_tools_grammar_rules(constraint, smollm2_tokenizer, text, inside):
    from hammer_train.evaluation.structured import answer_grammar, tools_schema

    grammar = answer_grammar(tools_schema([_tool("f", "a", "b"), _tool("g", "c")]))
    assert _accepted(constraint, smollm2_tokenizer, text, grammar) == (inside, inside)


def test_empty_tool_list_allows_only_refusal(constraint, smollm2_tokenizer):
    from hammer_train.evaluation.structured import answer_grammar, tools_schema

    grammar = answer_grammar(tools_schema([]))
    assert _accepted(constraint, smollm2_tokenizer, "```\n[]\n```", grammar) == (True, True)
    assert not _accepted(constraint, smollm2_tokenizer, '```\n[{"name": "f", "arguments": {}}]\n```', grammar)[0]


def test_structured_renderer_pairs_prompts_with_their_tools():
    """Each rendered prompt gets its row's grammar: compiled for llguidance in process, or with
    ``grammar=answer_lark`` (what ``--backend vllm`` puts in each prompt's ``SamplingParams``)
    the Lark text of that same grammar."""
    from llguidance import LLMatcher

    from hammer_train.evaluation.generate import plain_renderer
    from hammer_train.evaluation.structured import answer_grammar, answer_lark, structured_renderer, tools_schema
    from hammer_train.schema import Example

    rows = [
        Example(query="q1", tools=[_tool("f", "a")], answers=[]),
        Example(query="q2", tools=[_tool("g")], answers=[]),
    ]
    render, grammar_fn = structured_renderer(plain_renderer(), "tools")
    prompts = [render(r) for r in rows]
    assert [grammar_fn(p) for p in prompts] == [answer_grammar(tools_schema(r.tools)) for r in rows]
    render, lark_fn = structured_renderer(plain_renderer(), "tools", grammar=answer_lark)
    assert [LLMatcher.grammar_from_lark(lark_fn(render(r))) for r in rows] == [grammar_fn(p) for p in prompts]
    render, grammar_fn = structured_renderer(plain_renderer(), "answer")
    assert grammar_fn(render(rows[0])) == answer_grammar()
    render, lark_fn = structured_renderer(plain_renderer(), "answer", grammar=answer_lark)
    assert lark_fn(render(rows[0])) == lark_fn(render(rows[1])) == answer_lark()
    with pytest.raises(ValueError, match="mode must be one of"):
        structured_renderer(plain_renderer(), "json")


@pytest.mark.slow
def test_smollm2_generates_inside_the_grammar(shared_data, smollm2_path, constraint, smollm2_tokenizer):
    """The untrained SmolLM2 does not write the fenced format on its own; under the grammar every
    output is a prefix of a valid answer, and those that ended before the token limit parse."""
    from hammer_train.evaluation.benchmarks import load_benchmark
    from hammer_train.evaluation.generate import chat_renderer, generate
    from hammer_train.evaluation.parse import hammer_parse
    from hammer_train.evaluation.structured import answer_grammar, tools_schema
    from hammer_train.modeling import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(smollm2_path)
    render = chat_renderer(tok, "hammer")
    prompts = [render(e) for e in load_benchmark("sealtool", limit=4, data_dir=shared_data / "hammer_eval").examples]
    free = generate(model, tok, prompts, batch_size=4, max_new_tokens=48)
    grammars = [answer_grammar()] * len(prompts)
    constrained = generate(model, tok, prompts, batch_size=4, max_new_tokens=48, grammars=grammars)
    assert free != constrained
    for text in constrained:
        assert _accepted(constraint, smollm2_tokenizer, text)[0], text
        if len(tok(text, add_special_tokens=False)["input_ids"]) < 44:  # ended by the grammar, not the limit
            assert hammer_parse(text).ok, text
    complete = [t for t in constrained if hammer_parse(t).ok]
    assert complete, constrained
    assert all(isinstance(json.loads(t.strip("`\n")), list) for t in complete)
    # tools mode: every complete answer calls the row's own functions with their parameter names
    rows = load_benchmark("sealtool", limit=4, data_dir=shared_data / "hammer_eval").examples
    grammars = [answer_grammar(tools_schema(r.tools)) for r in rows]
    for row, text in zip(rows, generate(model, tok, prompts, batch_size=4, max_new_tokens=48, grammars=grammars)):
        calls = hammer_parse(text).calls
        for call in calls or []:
            tool = row.tool(call["name"])
            assert tool is not None and set(call["arguments"]) <= {p.name for p in tool.parameters}, text


def test_vllm_request_field_is_the_in_process_grammar_as_lark():
    """What a vLLM request carries (Lark text) compiles to the very grammar the in-process
    constraint uses, from Tool objects or from the request's own tool dicts (OpenAI-wrapped or
    flat); a nameless tool dict is a DataError naming its position."""
    from llguidance import LLMatcher

    from hammer_train.errors import DataError
    from hammer_train.evaluation.structured import answer_grammar, tools_schema, vllm_structured_outputs
    from hammer_train.serve import vllm_command

    tools = [_tool("f", "a", "b"), _tool("g")]
    wire = [tools[0].to_openai(), tools[1].to_xlam()]  # OpenAI-wrapped, flat xLAM
    field = vllm_structured_outputs(wire)
    assert field == vllm_structured_outputs(tools) and list(field) == ["structured_outputs"]
    lark = field["structured_outputs"]["grammar"]
    assert LLMatcher.grammar_from_lark(lark) == answer_grammar(tools_schema(tools))
    answer = vllm_structured_outputs(tools, "answer")["structured_outputs"]["grammar"]
    assert LLMatcher.grammar_from_lark(answer) == answer_grammar()
    with pytest.raises(DataError, match="tool name") as err:
        vllm_structured_outputs([wire[1], {"description": "no name"}])
    assert err.value.field == "tools[1].name"
    with pytest.raises(ValueError, match="mode must be one of"):
        vllm_structured_outputs(tools, "json")
    cmd = vllm_command("python", "model")
    assert cmd[cmd.index("--structured-outputs-config") + 1] == '{"backend": "guidance"}'
    assert "--structured-outputs-config" not in vllm_command("python", "model", structured_outputs_backend=None)
