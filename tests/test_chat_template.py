"""The Hammer chat template renders OpenAI ``messages`` + ``tools`` byte for byte as training does.

Every row of the real data (BFCL v4 live categories, Seal-Tools, API-Bank L1 with its history, the
Glaive sample), every row masked, and an irrelevance row built from every call row, are rendered
through ``prompts.to_conversation`` + the base template (what ``data.tokenize_conversation``
tokenizes) and through ``tokenizer.apply_chat_template(messages, tools=...)`` with the generated
template: the texts must be equal, with the generation prompt and with the completion. Base
templates: SmolLM2's own, and a ChatML/Qwen-style one written here (a default system prompt, a
tools branch) set on the same tokenizer; a Llama-3-style one (stripped content, BOS) on a slice.
"""

from __future__ import annotations

import copy
import json
import random
from functools import lru_cache

import pytest
from conftest import BFCL_INSTALLED, SHARED_DATA
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from jinja2 import TemplateError

from hammer_train.chat_template import (
    hammer_chat_template,
    is_hammer_template,
    save_chat_template,
    template_messages,
    template_tools,
    turn_pieces,
)
from hammer_train.formats import read_source
from hammer_train.irrelevance import make_irrelevance_example
from hammer_train.masking import MaskingConfig, mask_row
from hammer_train.prompts import to_conversation
from hammer_train.schema import DataError, Example, Tool


QWEN_STYLE = (
    "{%- if messages[0]['role'] == 'system' -%}{%- set system = messages[0]['content'] -%}"
    "{%- set rest = messages[1:] -%}{%- else -%}"
    "{%- set system = 'You are a tool-calling assistant, written for this test.' -%}{%- set rest = messages -%}"
    "{%- endif -%}"
    "{{- '<|im_start|>system\\n' + system -}}"
    "{%- if tools -%}{{- '\\n\\nTools you may call:\\n' -}}{%- for t in tools -%}{{- t | tojson + '\\n' -}}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- for m in rest -%}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' -}}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)
"""A ChatML template in the Qwen style (system turn with a default, tools in it), written for this test."""

LLAMA_STYLE = (
    "{{- bos_token -}}"
    "{%- for m in messages -%}"
    "{{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}"
)
"""Llama-3-style turns (content stripped, BOS first), written for this test."""

BFCL_LIVE = "live_simple,live_multiple,live_parallel,live_parallel_multiple,live_irrelevance,live_relevance"
SOURCES = {
    "bfcl_live": ("bfcl", BFCL_LIVE, {"validate": False}),
    "sealtool": ("hammer_eval", "hammer_eval/sealtool.json", {}),
    "apibank_l1": ("hammer_eval", "hammer_eval/apibank_l1.json", {}),
    "glaive": ("sharegpt", "glaive_toolcall_en_demo.json", {"validate": False}),
}
ROWS = {"bfcl_live": 2251, "sealtool": 294, "apibank_l1": 399, "glaive": 249}
"""Rows read from each source (all of them: nothing is dropped)."""


@lru_cache(maxsize=None)
def source_rows(name: str) -> tuple[Example, ...]:
    """Every row of a source, as read."""
    fmt, path, kw = SOURCES[name]
    if fmt == "bfcl":
        if not BFCL_INSTALLED:
            pytest.skip("the BFCL data ships in the PyPI package bfcl-eval, which is not installed")
    else:
        if not SHARED_DATA.exists():
            pytest.skip("../shared/data is absent (only in the project's own checkout; a user's clone has none)")
        path = str(SHARED_DATA / path)
    rows = read_source(fmt, path, **kw).examples
    assert len(rows) == ROWS[name]
    return tuple(rows)


@lru_cache(maxsize=None)
def masked_rows(name: str) -> tuple[Example, ...]:
    """The source's rows that the data pipeline masks (Hammer: 2/3 of rows), masked as it masks them."""
    masked = (mask_row(ex, MaskingConfig(), seed=11, row=i) for i, ex in enumerate(source_rows(name)))
    return tuple(m.example for m in masked if m.is_masked)


@lru_cache(maxsize=None)
def irrelevance_rows(name: str) -> tuple[Example, ...]:
    """An irrelevance row made from each call row of the source (donors: the source's rows)."""
    rows, rng = source_rows(name), random.Random(5)
    return tuple(x for x in (make_irrelevance_example(ex, rows, rng) for ex in rows) if x is not None)


def built_rows(name: str) -> tuple[Example, ...]:
    return masked_rows(name) + irrelevance_rows(name)


def with_template(tokenizer, template: str):
    out = copy.deepcopy(tokenizer)
    out.chat_template = template
    return out


@pytest.fixture(scope="module")
def families(smollm2_tokenizer):
    """Base tokenizer per template family, and the Hammer template built from each."""
    bases = {
        "smollm2": smollm2_tokenizer,
        "qwen_style": with_template(smollm2_tokenizer, QWEN_STYLE),
        "llama_style": with_template(smollm2_tokenizer, LLAMA_STYLE),
    }
    return {name: (tok, hammer_chat_template(tok)) for name, tok in bases.items()}


def training_text(tokenizer, example: Example, full: bool, system_prompt="You are a helpful assistant.") -> str:
    """The text ``data.tokenize_conversation`` tokenizes: the prompt with the generation prompt, or
    the whole conversation."""
    conv = to_conversation(example, "hammer", system_prompt)
    messages = conv["prompt"] + (conv["completion"] if full else [])
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=not full)


def served_text(tokenizer, template: str, example: Example, full: bool) -> str:
    return tokenizer.apply_chat_template(
        template_messages(example, with_answers=full),
        tools=template_tools(example),
        chat_template=template,
        tokenize=False,
        add_generation_prompt=not full,
    )


def assert_same(tokenizer, template, rows, full: bool) -> None:
    for ex in rows:
        want, got = training_text(tokenizer, ex, full), served_text(tokenizer, template, ex, full)
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            pytest.fail(
                f"{ex.source} row {ex.row} differs at char {at}:\nwant {want[at - 80 : at + 80]!r}\n"
                f"got  {got[at - 80 : at + 80]!r}"
            )


# ----------------------------------------------------------------------------- the real data


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_row_renders_as_trained_smollm2(families, source):
    tokenizer, template = families["smollm2"]
    rows = source_rows(source) + built_rows(source)
    assert_same(tokenizer, template, rows, full=False)
    assert_same(tokenizer, template, rows, full=True)


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_real_row_renders_as_trained_qwen_style(families, source):
    # the template body is the same for every base; the base gives the pieces around the turns
    tokenizer, template = families["qwen_style"]
    assert_same(tokenizer, template, source_rows(source), full=False)
    assert_same(tokenizer, template, source_rows(source), full=True)


def test_llama_style_stripped_turns(families):
    tokenizer, template = families["llama_style"]
    assert turn_pieces(tokenizer)["user_trim"] and turn_pieces(tokenizer)["assistant_trim"]
    for source in SOURCES:
        rows = source_rows(source) + built_rows(source)
        rows = rows[:: max(1, len(rows) // 150)]
        assert_same(tokenizer, template, rows, full=False)
        assert_same(tokenizer, template, rows, full=True)


def test_the_real_rows_cover_every_case():
    rows = [ex for s in SOURCES for ex in source_rows(s) + built_rows(s)]
    kinds = {
        "parallel calls": any(len(ex.answers) > 1 for ex in rows),
        "history with tool calls and results": any(
            isinstance(ex.query, list)
            and any(m.get("tool_calls") for m in ex.query)
            and any(m["role"] == "tool" for m in ex.query)
            for ex in rows
        ),
        "system message in the query": any(
            isinstance(ex.query, list) and ex.query[0]["role"] == "system" for ex in rows
        ),
        "a one-message history": any(isinstance(ex.query, list) and len(ex.query) == 1 for ex in rows),
        "xLAM tools": any(t.layout == "xlam" for ex in rows for t in ex.tools),
        "JSON-schema tools with required parameters": any(
            t.layout == "openai" and any(p.required for p in t.parameters) for ex in rows for t in ex.tools
        ),
        "no tools": any(not ex.tools for ex in rows),
        "irrelevance rows": sum(len(irrelevance_rows(s)) for s in SOURCES) > 1500,
        "masked rows": sum(len(masked_rows(s)) for s in SOURCES) > 1500,
    }
    assert all(kinds.values()), kinds


# ------------------------------------------------------------------------- property test

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["", " ", "a\nb", 'say "hi"', "back\\slash", "tab\there", "ünï ✓ 😀", "</s>", "{{ x }}", "[END OF QUERY]"]
)
names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=10
).filter(str.strip)
scalars = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False) | text
json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(text, c, max_size=3), max_leaves=6
)
types = st.sampled_from(
    ["string", "integer", "number", "boolean", "array", "object", "str", "int, optional", "dict", "any"]
)


@st.composite
def parameter_specs(draw, schema: bool):
    spec = {}
    for key in draw(
        st.permutations(["description", "type", "default", "enum", "items", "properties", "required", "x"])
    ):
        if not draw(st.booleans()):
            continue
        if key == "description":
            spec[key] = draw(text | json_values)
        elif key == "type":
            spec[key] = draw(types | st.none() | st.lists(types, min_size=1, max_size=2))
        elif key == "default":
            spec[key] = draw(json_values)
        elif key == "enum":
            spec[key] = draw(st.lists(scalars, max_size=3))
        elif key == "items":
            spec[key] = {"type": draw(types)}
        elif key == "properties":
            spec[key] = draw(st.dictionaries(names, st.fixed_dictionaries({"type": types}), max_size=2))
        elif key == "required":
            spec[key] = draw(st.lists(names, max_size=2) if schema else st.booleans())
        else:
            spec[draw(names)] = draw(json_values)
    return spec


@st.composite
def tool_specs(draw):
    schema = draw(st.booleans())
    params = draw(st.dictionaries(names, parameter_specs(schema), max_size=4))
    spec = {"name": draw(names)}
    if draw(st.booleans()):
        spec["description"] = draw(text | json_values)
    if schema:
        required = draw(st.lists(st.sampled_from(sorted(params) or ["zz"]), max_size=3, unique=True))
        spec["parameters"] = {"type": draw(st.sampled_from(["object", "dict"])), "properties": params}
        if required or draw(st.booleans()):
            spec["parameters"]["required"] = required
    else:
        spec["parameters"] = params
        if draw(st.booleans()):
            spec["required"] = draw(st.lists(names, max_size=2))  # Seal-Tools' tool-level list: not rendered
    return {"type": "function", "function": spec} if draw(st.booleans()) else spec  # as OpenAI wraps, or flat


calls = st.fixed_dictionaries({"name": names, "arguments": st.dictionaries(text, json_values, max_size=3)})
roles = st.sampled_from(["user", "assistant", "agent", "tool", "system", "observation", "human", "gpt", "critic"])


@st.composite
def messages(draw):
    out = []
    for _ in range(draw(st.integers(1, 5))):
        m = {"role": draw(roles), "content": draw(text | st.none())}
        if m["role"] in ("assistant", "agent") and draw(st.booleans()):
            m["tool_calls"] = draw(st.lists(calls, min_size=1, max_size=2))
        out.append(m)
    return out


@st.composite
def examples(draw):
    tools = draw(st.lists(tool_specs(), max_size=3, unique_by=lambda t: t.get("function", t)["name"]))
    query = draw(text.filter(str.strip) | messages())
    answers = draw(st.lists(calls, max_size=2))
    try:
        return Example.from_raw(query, tools, answers, validate=False), tools
    except DataError:  # a flat spec with a parameter named "properties" reads as JSON schema; refused there
        reject()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(examples())
def test_generated_rows_render_as_trained(families, example_and_specs):
    example, specs = example_and_specs
    tokenizer, template = families["smollm2"]
    for full in (False, True):
        want = training_text(tokenizer, example, full)
        assert served_text(tokenizer, template, example, full) == want
        # the client's own specs (either layout, wrapped or flat) render as Tool.from_dict reads them
        served = tokenizer.apply_chat_template(
            template_messages(example, with_answers=full),
            tools=specs,
            chat_template=template,
            tokenize=False,
            add_generation_prompt=not full,
        )
        assert served == want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["name", "description", "parameters", "type", "function"]), json_values))
def test_a_spec_the_schema_refuses_is_refused(families, spec):
    tokenizer, template = families["smollm2"]
    try:
        want = json.dumps([Tool.from_dict(spec).to_xlam()], ensure_ascii=False)
    except DataError:
        with pytest.raises(TemplateError, match="hammer chat template: tools\\[0\\]"):
            tokenizer.apply_chat_template(
                [{"role": "user", "content": "q"}], tools=[spec], chat_template=template, tokenize=False
            )
        return
    got = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}], tools=[spec], chat_template=template, tokenize=False
    )
    assert "[BEGIN OF AVAILABLE TOOLS]\n" + want + "\n[END OF AVAILABLE TOOLS]" in got


# --------------------------------------------------------------------- requests and saving


def test_client_request_and_answer(families):
    tokenizer, template = families["smollm2"]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18 C"},
        {"role": "user", "content": "And Rome?"},
    ]
    text = tokenizer.apply_chat_template(
        history, tools=tools, chat_template=template, tokenize=False, add_generation_prompt=True
    )
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert (
        '[{"name": "get_weather", "description": "Weather", "parameters": {"city": {"description": "", '
        '"type": "string", "required": true}}}]'
    ) in text
    assert (
        "[BEGIN OF QUERY]\nSystem: Be brief.\nUser: Weather in Paris?\nAPI-Request: "
        '[get_weather(city="Paris")]->18 C\nUser: And Rome?\n[END OF QUERY]\n\n<|im_end|>\n'
    ) in text
    assert text.endswith("<|im_start|>assistant\n")
    answered = history + [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}],
        }
    ]
    full = tokenizer.apply_chat_template(answered, tools=tools, chat_template=template, tokenize=False)
    assert full == text + '```\n[{"name": "get_weather", "arguments": {"city": "Rome"}}]\n```<|im_end|>\n'
    refused = tokenizer.apply_chat_template(
        history + [{"role": "assistant", "content": "No idea."}], tools=tools, chat_template=template, tokenize=False
    )
    assert refused == text + "```\n[]\n```<|im_end|>\n"
    string_args = copy.deepcopy(answered)
    string_args[-1]["tool_calls"][0]["function"]["arguments"] = '{"city": "Rome"}'
    with pytest.raises(TemplateError, match="arguments must be an object"):
        tokenizer.apply_chat_template(string_args, tools=tools, chat_template=template, tokenize=False)


def test_save_chat_template_writes_both_places(families, tmp_path):
    from transformers import AutoTokenizer

    tokenizer, template = families["smollm2"]
    tokenizer.save_pretrained(tmp_path)
    assert "chat_template" not in json.loads((tmp_path / "tokenizer_config.json").read_text())  # what 5.x saves
    assert save_chat_template(tokenizer, tmp_path) == template
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["chat_template"] == (tmp_path / "chat_template.jinja").read_text(encoding="utf-8") == template
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert is_hammer_template(loaded.chat_template) and loaded.chat_template == template
    ex = source_rows("sealtool")[0] if SHARED_DATA.exists() else None
    if ex is not None:
        assert loaded.apply_chat_template(
            template_messages(ex), tools=template_tools(ex), tokenize=False, add_generation_prompt=True
        ) == training_text(tokenizer, ex, full=False)
    # a tokenizer that already carries the Hammer template (merged/ after the adapter) is written as it is
    assert save_chat_template(loaded, tmp_path) == template
    assert hammer_chat_template(loaded) == template  # rebuilt from the pieces stored in its first line
    with pytest.raises(ValueError, match="Hammer chat template for the system prompt"):
        hammer_chat_template(loaded, system_prompt="Another one.")
    with pytest.raises(FileNotFoundError, match="save_pretrained"):
        save_chat_template(tokenizer, tmp_path / "missing")


def test_other_system_prompt_and_none(smollm2_tokenizer):
    ex = Example.from_raw(
        "Add 2 and 3",
        [{"name": "add", "description": "Sum", "parameters": {"a": {"type": "int"}}}],
        [{"name": "add", "arguments": {"a": 2}}],
        validate=False,
    )
    for system in ("Tu es un assistant.", None):
        template = hammer_chat_template(smollm2_tokenizer, system_prompt=system)
        for full in (False, True):
            assert served_text(smollm2_tokenizer, template, ex, full) == training_text(
                smollm2_tokenizer, ex, full, system_prompt=system
            )
    assert "named SmolLM" in served_text(smollm2_tokenizer, template, ex, False)  # None: the base's default


@pytest.mark.parametrize(
    "base, message",
    [
        ("{% for m in messages %}{{ m['content'] + m['content'] }}{% endfor %}", "not write the user text once"),
        ("{% for m in messages %}{{ m['content'] | upper }}{% endfor %}", "not write the user text once"),
        ("{% for m in messages %}{{ m['content'] | replace(' ', '_') }}{% endfor %}", "beyond stripping"),
    ],
)
def test_a_base_template_of_another_shape_is_refused(smollm2_tokenizer, base, message):
    with pytest.raises(ValueError, match=message):
        hammer_chat_template(with_template(smollm2_tokenizer, base))
