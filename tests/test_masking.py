"""Property tests for function masking (hammer_train.masking), on real Seal-Tools rows and on
hypothesis-generated tools."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hammer_train.masking import (
    DEFAULT_ALPHABET,
    InverseMap,
    MaskingConfig,
    mask_dataset_rows,
    mask_example,
    mask_row,
    row_rng,
    unmask_calls,
)
from hammer_train.schema import MISSING, DataError, Example, Parameter, Tool, ToolCall, validate_example


SEALTOOL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hammer_eval" / "sealtool.json"
requires_sealtool = pytest.mark.skipif(
    not SEALTOOL.exists(), reason="../shared/data is absent (only in the project's checkout)"
)

HYP = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------- helpers


def typed(x):
    """A comparable form that tells 1, 1.0, True and "1" apart."""
    if isinstance(x, dict):
        return ("dict", tuple((k, typed(v)) for k, v in x.items()))
    if isinstance(x, list):
        return ("list", tuple(typed(v) for v in x))
    return (type(x).__name__, x)


def calls_as_dicts(calls):
    return [{"name": c.name, "arguments": dict(c.arguments)} for c in calls]


def real_names(ex: Example) -> set[str]:
    out = set()
    for t in ex.tools:
        out.add(t.name)
        out.update(p.name for p in t.parameters)
    return out


def _check_no_real_names(ex: Example, masked: Example):
    """No real function or parameter name survives as a name, in the tools or the answers."""
    real = real_names(ex)
    for t in masked.tools:
        assert t.name not in real
        for p in t.parameters:
            assert p.name not in real
    for c in masked.answers:
        assert c.name not in real
        for k in c.arguments:
            assert k not in real


def _check_name_shapes(ex: Example, masked: Example, config: MaskingConfig):
    """Names unique in the row, of the configured lengths and alphabet; descriptions and tool count kept."""
    names = [t.name for t in masked.tools] + [p.name for t in masked.tools for p in t.parameters]
    assert len(names) == len(set(names))
    alpha = set(config.alphabet)
    for t in masked.tools:
        lo, hi = config.function_name_length
        assert lo <= len(t.name) <= hi and set(t.name) <= alpha
        for p in t.parameters:
            lo, hi = config.parameter_name_length
            assert lo <= len(p.name) <= hi and set(p.name) <= alpha
    assert sorted(t.description for t in masked.tools) == sorted(t.description for t in ex.tools)
    assert len(masked.tools) == len(ex.tools)


def _check_inverse(ex: Example, m):
    """The inverse restores the answers exactly (names, keys, default values, types), also after a
    JSON round trip of the inverse."""
    masked = m.example
    restored = unmask_calls(calls_as_dicts(masked.answers), m.inverse)
    assert typed(restored) == typed(calls_as_dicts(ex.answers))
    inv2 = InverseMap.from_dict(json.loads(json.dumps(m.inverse.to_dict())))
    assert typed(unmask_calls(calls_as_dicts(masked.answers), inv2)) == typed(calls_as_dicts(ex.answers))


def _check_types_kept(ex: Example, m):
    """Every default and answer value keeps its JSON type (bools stay bools); parameter types and
    required flags are kept; a value inside its enum stays inside the masked enum."""
    masked = m.example
    by_masked = {t.name: t for t in masked.tools}
    inv_fn = m.inverse.functions
    for t in masked.tools:
        real_t = ex.tool(inv_fn.get(t.name, t.name))
        pinv = m.inverse.parameters.get(real_t.name, {})
        for p in t.parameters:
            rp = real_t.parameter(pinv.get(p.name, p.name))
            assert type(p.default) is type(rp.default)
            assert p.type == rp.type and p.required == rp.required
    for mc, rc in zip(masked.answers, ex.answers):
        masked_tool = by_masked[mc.name]
        for (mk, mv), (rk, rv) in zip(mc.arguments.items(), rc.arguments.items()):
            rp = ex.tool(rc.name).parameter(rk)
            if rp is not None and "enum" in rp.extra and rv in rp.extra["enum"]:
                assert mv in masked_tool.parameter(mk).extra["enum"]
        assert [type(v) for v in mc.arguments.values()] == [type(v) for v in rc.arguments.values()]


def check_masked(ex: Example, config: MaskingConfig, rng_seed: int = 0):
    """Mask ``ex`` with every kind on and check the core properties; return the MaskedExample."""
    before = json.dumps(ex.to_dict(), sort_keys=True, default=repr)
    m = mask_example(ex, config, random.Random(rng_seed))
    assert json.dumps(ex.to_dict(), sort_keys=True, default=repr) == before, "input mutated"
    _check_no_real_names(ex, m.example)
    _check_name_shapes(ex, m.example, config)
    _check_inverse(ex, m)
    # masked answers still validate against masked tools
    validate_example(m.example)
    _check_types_kept(ex, m)
    return m


# ----------------------------------------------------------------------------------- real rows


def load_sealtool() -> list[Example]:
    rows = json.loads(SEALTOOL.read_text())
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(Example.from_raw(row["query"], row["tools"], row["answers"], source="sealtool", row=i))
        except DataError:
            continue
    return out


@requires_sealtool
def test_sealtool_rows_properties():
    exs = load_sealtool()
    assert len(exs) > 100
    cfg = MaskingConfig()
    for i, ex in enumerate(exs):
        m = check_masked(ex, cfg, rng_seed=i)
        assert {"function", "parameter"} <= m.masked_kinds or not any(t.parameters for t in ex.tools)


@requires_sealtool
def test_sealtool_dataset_determinism_and_dynamic():
    exs = load_sealtool()[:60]
    cfg = MaskingConfig(row_prob=1.0, dynamic=True)
    a = mask_dataset_rows(exs, cfg, seed=7, epoch=0)
    b = mask_dataset_rows(exs, cfg, seed=7, epoch=0)
    assert [m.example.to_dict() for m in a] == [m.example.to_dict() for m in b]
    assert [m.inverse.to_dict() for m in a] == [m.inverse.to_dict() for m in b]
    c = mask_dataset_rows(exs, cfg, seed=7, epoch=1)
    for ma, mc in zip(a, c):
        assert set(ma.inverse.functions) != set(mc.inverse.functions)
    # without dynamic the epoch is ignored
    static = MaskingConfig(row_prob=1.0)
    s0 = mask_dataset_rows(exs, static, seed=7, epoch=0)
    s3 = mask_dataset_rows(exs, static, seed=7, epoch=3)
    assert [m.example.to_dict() for m in s0] == [m.example.to_dict() for m in s3]


@requires_sealtool
def test_sealtool_row_prob_extremes():
    exs = load_sealtool()[:50]
    none = mask_dataset_rows(exs, MaskingConfig(row_prob=0.0), seed=1)
    assert all(m.example is ex and not m.is_masked and m.inverse.is_empty() for m, ex in zip(none, exs))
    every = mask_dataset_rows(exs, MaskingConfig(row_prob=1.0), seed=1)
    assert all("function" in m.masked_kinds for m in every)
    assert all(m.example.tools[0].name not in real_names(ex) for m, ex in zip(every, exs))


def test_row_share_about_two_thirds():
    ex = make_row()
    out = mask_dataset_rows([ex] * 3000, MaskingConfig(), seed=3)
    share = sum(m.is_masked for m in out) / len(out)
    assert abs(share - 2 / 3) < 0.04


# ----------------------------------------------------------------------------------- generated tools

_ident = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
_word = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6)
_TYPES = {
    "str": _word,
    "int": st.integers(-50, 50),
    "float": st.floats(-100, 100, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3)),
    "bool": st.booleans(),
}


@st.composite
def examples(draw):
    n_tools = draw(st.integers(1, 4))
    fnames = draw(st.lists(_ident, min_size=n_tools, max_size=n_tools, unique=True))
    tools = []
    for fname in fnames:
        pnames = draw(st.lists(_ident, min_size=0, max_size=4, unique=True))
        params = []
        for pname in pnames:
            ptype = draw(st.sampled_from(sorted(_TYPES)))
            default = draw(st.one_of(st.just(MISSING), _TYPES[ptype]))
            extra = {}
            if ptype == "str" and draw(st.booleans()):  # allowed values, as JSON-schema tools list them
                extra["enum"] = draw(st.lists(_word, min_size=1, max_size=3, unique=True))
                if default is not MISSING and default not in extra["enum"]:
                    extra["enum"].append(default)
            params.append(
                Parameter(
                    pname,
                    ptype,
                    f"the {pname} (default {default!r})",
                    default,
                    draw(st.booleans()) and default is MISSING,
                    extra,
                )
            )
        tools.append(Tool(fname, f"does {fname}", params))
    answers = []
    for t in draw(st.lists(st.sampled_from(tools), max_size=3)):
        args = {}
        for p in t.parameters:
            choice = draw(st.sampled_from(["default", "other", "skip"]))
            if p.required or choice != "skip":
                if choice == "default" and p.default is not MISSING:
                    args[p.name] = p.default
                elif "enum" in p.extra:
                    args[p.name] = draw(st.sampled_from(p.extra["enum"]))
                else:
                    args[p.name] = draw(_TYPES[p.type])
        answers.append(ToolCall(t.name, args))
    words = draw(
        st.lists(
            st.one_of(_word, st.sampled_from([str(v) for c in answers for v in c.arguments.values()] or ["x"])),
            min_size=1,
            max_size=8,
        )
    )
    return Example(query=" ".join(words), tools=tools, answers=answers, source="gen", row=0)


@HYP
@given(examples(), st.integers(0, 2**32))
def test_generated_properties(ex, seed):
    validate_example(ex)
    check_masked(ex, MaskingConfig(), seed)


@HYP
@given(examples(), st.integers(0, 1000), st.integers(0, 1000))
def test_generated_determinism(ex, seed, row):
    cfg = MaskingConfig(row_prob=1.0)
    a = mask_example(ex, cfg, row_rng(seed, row, 0))
    b = mask_example(ex, cfg, row_rng(seed, row, 0))
    assert a.example.to_dict() == b.example.to_dict()
    assert a.inverse.to_dict() == b.inverse.to_dict()
    assert a.masked_kinds == b.masked_kinds


@HYP
@given(
    examples(),
    st.integers(0, 2**32),
    st.sampled_from([(1, 3), (2, 2), (6, 20)]),
    st.sampled_from(["ab", "xyz._", DEFAULT_ALPHABET]),
)
def test_generated_lengths_and_alphabet(ex, seed, length, alphabet):
    cfg = MaskingConfig(function_name_length=length, parameter_name_length=length, alphabet=alphabet)
    try:
        check_masked(ex, cfg, seed)
    except ValueError as err:  # name space exhausted for a tiny alphabet / length: a clear error
        assert "unique masked name" in str(err)
        assert len(set(alphabet)) ** length[1] < 200


@HYP
@given(examples(), st.integers(0, 2**32), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_generated_kinds_switchable(ex, seed, fn, par, de, shuffle):
    cfg = MaskingConfig(
        function_prob=float(fn), parameter_prob=float(par), default_prob=float(de), shuffle_tools=shuffle
    )
    m = mask_example(ex, cfg, random.Random(seed))
    masked = m.example
    names = {t.name for t in masked.tools}
    if not fn:
        assert names == {t.name for t in ex.tools} and "function" not in m.masked_kinds
    else:
        assert not names & {t.name for t in ex.tools}
    if not par:
        assert "parameter" not in m.masked_kinds
        for t in masked.tools:
            real = ex.tool(m.inverse.unmask_name(t.name))
            assert [p.name for p in t.parameters] == [p.name for p in real.parameters]
    if not de:
        assert "default" not in m.masked_kinds and not m.inverse.values
    if not shuffle:
        assert [m.inverse.unmask_name(t.name) for t in masked.tools] == [t.name for t in ex.tools]
    assert typed(unmask_calls(calls_as_dicts(masked.answers), m.inverse)) == typed(calls_as_dicts(ex.answers))
    validate_example(masked)


# ----------------------------------------------------------------------------------- defaults, explicit


def make_row(query="Show the top 10 results for page 1.", default=1, ptype="int", value=None, desc=None):
    value = default if value is None else value
    tool = Tool(
        "search_items",
        "Search the catalogue.",
        [
            Parameter("page", ptype, desc if desc is not None else f"Page number, default {default}.", default),
            Parameter("query", "str", "What to look for.", MISSING, True),
        ],
    )
    other = Tool("get_weather", "Weather for a city.", [Parameter("city", "str", "City name.", "London")])
    return Example(
        query=query, tools=[tool, other], answers=[ToolCall("search_items", {"page": value, "query": "shoes"})]
    )


def masked_defaults(ex, seed=0):
    cfg = MaskingConfig(function_prob=0.0, parameter_prob=0.0, shuffle_tools=False)
    m = mask_example(ex, cfg, random.Random(seed))
    return m, m.example.tools[0].parameters[0], m.example.answers[0].arguments["page"]


@pytest.mark.parametrize("seed", range(20))
def test_int_default_whole_token(seed):
    ex = make_row()
    m, p, v = masked_defaults(ex, seed)
    assert type(p.default) is int and 2 <= p.default <= 5 and v == p.default and type(v) is int
    q = m.example.query
    assert q == f"Show the top 10 results for page {p.default}."  # "10" untouched, "1." replaced
    assert p.description == f"Page number, default {p.default}."
    assert m.inverse.values == {"search_items": {"page": [[p.default, 1]]}}


@pytest.mark.parametrize(
    "query",
    [
        "top 10 results",
        "v1.5 or 1.5 or 2.1",
        "rows 11, 21 and 100",
        "page -1 on 2020-01-05",
        "1,000 items",
        "x1 1x 1_a a_1",
        "1st place",
    ],
)
def test_int_default_never_partial(query):
    m, p, v = masked_defaults(make_row(query=query))
    assert p.default != 1 and v == p.default
    assert m.example.query == query


def test_int_default_standalone_tokens_replaced():
    m, p, _ = masked_defaults(make_row(query="1 item, (1) or 1% and page=1"))
    d = p.default
    assert m.example.query == f"{d} item, ({d}) or {d}% and page={d}"


def test_string_default_case_variants():
    ex = make_row(
        query="Find shoes in London; LONDON, london, but not Londoner or LondonTown.",
        default="London",
        ptype="str",
        desc="City, default London.",
    )
    m, p, v = masked_defaults(ex)
    new = p.default
    assert isinstance(new, str) and len(new) == 5 and new.isalnum() and v == new
    assert m.example.query == f"Find shoes in {new}; {new.upper()}, {new.lower()}, but not Londoner or LondonTown."
    assert p.description == f"City, default {new}."
    assert (
        unmask_calls([{"name": "search_items", "arguments": {"page": new}}], m.inverse)[0]["arguments"]["page"]
        == "London"
    )


def test_bool_default_negated_not_float():
    ex = make_row(query="Use safe mode true please", default=True, ptype="bool")
    m, p, v = masked_defaults(ex)
    assert p.default is False and v is False
    assert m.example.query == "Use safe mode false please"
    restored = unmask_calls(calls_as_dicts(m.example.answers), m.inverse)
    assert restored[0]["arguments"]["page"] is True


@pytest.mark.parametrize("seed", range(10))
def test_float_default_decimals(seed):
    ex = make_row(query="at 46.95828 or 46.958281", default=46.95828, ptype="float")
    m, p, v = masked_defaults(ex, seed)
    assert type(p.default) is float and 46.95828 < p.default <= 47.95828
    assert p.default == round(p.default, 5) and v == p.default
    assert m.example.query == f"at {p.default!r} or 46.958281"


def test_string_spelled_number_default_keeps_types():
    """xLAM stores many numeric defaults as strings: "10" (spec) vs 10 (answer) are one value."""
    ex = make_row(query="give me 10 rows", default="10", ptype="int", value=10)
    m, p, v = masked_defaults(ex)
    assert type(p.default) is str and type(v) is int and p.default == str(v) and 11 <= v <= 14
    assert m.example.query == f"give me {v} rows"
    assert typed(unmask_calls(calls_as_dicts(m.example.answers), m.inverse)) == typed(calls_as_dicts(ex.answers))


def test_unused_default_untouched():
    ex = make_row(value=7)  # the answer does not use the default 1
    m, p, v = masked_defaults(ex)
    assert p.default == 1 and v == 7 and m.example.query == ex.query and "default" not in m.masked_kinds


@pytest.mark.parametrize("other", [10, "10", [3, 10], {"size": 10}])
def test_default_shared_with_another_argument_stays(other):
    # "limit" defaults to 10 and "page" is also 10: the query's "10" backs both arguments, so
    # replacing it would leave "page" unsupported; the default stays unmasked in this row
    tool = Tool(
        "list_news",
        "News items.",
        [Parameter("limit", "int", "How many, default 10.", 10), Parameter("page", None, "Page.", MISSING, True)],
    )
    ex = Example(
        query="Get 10 news items from page 10",
        tools=[tool],
        answers=[ToolCall("list_news", {"limit": 10, "page": other})],
    )
    m = mask_example(ex, MaskingConfig(function_prob=0.0, parameter_prob=0.0), random.Random(0))
    assert m.example.query == ex.query and m.example.answers == ex.answers
    assert "default" not in m.masked_kinds and m.inverse.values == {}
    ex = Example(
        query="Get 10 news items from page 3",
        tools=[tool],  # nothing else passes 10
        answers=[ToolCall("list_news", {"limit": 10, "page": 3})],
    )
    m = mask_example(ex, MaskingConfig(function_prob=0.0, parameter_prob=0.0), random.Random(0))
    new = m.example.answers[0].arguments["limit"]
    assert new != 10 and m.example.query == f"Get {new} news items from page 3"


def test_default_skips_lists_none_empty():
    for default in ([1, 2], {"a": 1}, None, ""):
        tool = Tool("f", "d", [Parameter("x", None, "x", default)])
        ex = Example(query="q", tools=[tool], answers=[ToolCall("f", {"x": default})])
        m = mask_example(ex, MaskingConfig(), random.Random(0))
        assert m.example.answers[0].arguments[next(iter(m.example.answers[0].arguments))] == default
        assert "default" not in m.masked_kinds


def test_fresh_value_avoids_other_answer_values():
    # default 1 used once; another call passes 2..5, so the fresh int must be none of them
    tool = Tool("f", "d", [Parameter("n", "int", "n", 1)])
    answers = [ToolCall("f", {"n": 1})] + [ToolCall("f", {"n": k}) for k in (2, 3, 4, 5)]
    ex = Example(query="q", tools=[tool], answers=answers)
    for seed in range(20):
        m = mask_example(ex, MaskingConfig(), random.Random(seed))
        vals = [c.arguments[next(iter(c.arguments))] for c in m.example.answers]
        assert vals[0] not in (2, 3, 4, 5) and vals[1:] == [2, 3, 4, 5]
        assert typed(unmask_calls(calls_as_dicts(m.example.answers), m.inverse)) == typed(calls_as_dicts(answers))


def test_multi_turn_history_renamed():
    tool = Tool(
        "get_weather",
        "Weather.",
        [Parameter("city", "str", "City, default Paris.", "Paris"), Parameter("days", "int", "Days.", 3)],
    )
    query = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "content": "sunny in Paris"},
        {"role": "user", "content": "And for 3 days in Paris?"},
    ]
    ex = Example(query=query, tools=[tool], answers=[ToolCall("get_weather", {"city": "Paris", "days": 3})])
    m = mask_example(ex, MaskingConfig(), random.Random(5))
    fn = next(iter(m.inverse.functions))
    pinv = {r: k for k, r in m.inverse.parameters["get_weather"].items()}
    new_city = m.example.tools[0].parameters[0].default
    hist = m.example.query[1]["tool_calls"][0]
    assert hist == {"name": fn, "arguments": {pinv["city"]: new_city}}
    assert m.example.query[0]["content"] == f"Weather in {new_city}?"
    assert m.example.query[2]["content"] == "sunny in Paris"  # tool output untouched
    new_days = m.example.answers[0].arguments[pinv["days"]]
    assert m.example.query[3]["content"] == f"And for {new_days} days in {new_city}?"
    assert ex.query[1]["tool_calls"][0] == {"name": "get_weather", "arguments": {"city": "Paris"}}  # not mutated


def test_unmask_unknown_left_alone():
    inv = InverseMap(functions={"Xy12a": "f"}, parameters={"f": {"ab12": "x"}})
    calls = [
        {"name": "Xy12a", "arguments": {"ab12": 1, "zz": 2}},
        {"name": "nope", "arguments": {"ab12": 1}},
        "junk",
        {"name": "Xy12a", "arguments": "bad"},
    ]
    assert unmask_calls(calls, inv) == [
        {"name": "f", "arguments": {"x": 1, "zz": 2}},
        {"name": "nope", "arguments": {"ab12": 1}},
        "junk",
        {"name": "f", "arguments": "bad"},
    ]


def test_config_validation():
    for kwargs, fld in [
        ({"row_prob": 1.5}, "row_prob"),
        ({"function_prob": -0.1}, "function_prob"),
        ({"parameter_prob": 2}, "parameter_prob"),
        ({"default_prob": float("nan")}, "default_prob"),
        ({"function_name_length": (0, 3)}, "function_name_length"),
        ({"parameter_name_length": (5, 4)}, "parameter_name_length"),
        ({"alphabet": "a"}, "alphabet"),
    ]:
        with pytest.raises(ValueError, match=fld):
            MaskingConfig(**kwargs)


def test_row_rng_stable():
    # fixed values: the seed derivation must never change between runs or Python processes
    assert row_rng(0, 0, 0).random() == row_rng(0, 0, 0).random()
    assert row_rng(1, 2, 3).random() != row_rng(1, 2, 4).random()
    assert row_rng(12, 5, 0).getrandbits(32) == random.Random(
        int.from_bytes(__import__("hashlib").blake2b(b"12:5:0", digest_size=8).digest(), "little")
    ).getrandbits(32)


def test_enum_default_replaced_in_enum():
    """JSON-schema tools list allowed values: a masked default must stay inside the masked enum."""
    p = Parameter(
        "unit", "string", "Unit: celsius or fahrenheit.", "fahrenheit", False, {"enum": ["celsius", "fahrenheit"]}
    )
    tool = Tool("get_weather", "Weather.", [Parameter("city", "string", "City.", MISSING, True), p], layout="openai")
    ex = Example(
        query="Weather in Riga in fahrenheit",
        tools=[tool],
        answers=[ToolCall("get_weather", {"city": "Riga", "unit": "fahrenheit"})],
    )
    for seed in range(10):
        m = mask_example(ex, MaskingConfig(), random.Random(seed))
        mp = m.example.tools[0].parameters[1]
        new = mp.default
        assert mp.extra["enum"] == ["celsius", new] and new not in ("celsius", "fahrenheit")
        assert new in m.example.answers[0].arguments.values()
        assert m.example.query == f"Weather in Riga in {new}"  # the original spelling maps to the value itself
        assert mp.description == f"Unit: celsius or {new}."
    assert p.extra == {"enum": ["celsius", "fahrenheit"]}  # input untouched


def test_mask_row_matches_dataset_rows():
    """mask_row takes the epoch as given (static copy index or training epoch);
    mask_dataset_rows applies the dynamic rule (epoch 0 unless dynamic) before calling it."""
    rows = [make_row(), make_row(query="page 1 please"), make_row(default="London", ptype="str")] * 5
    for cfg in (MaskingConfig(), MaskingConfig(dynamic=True)):
        for epoch in (0, 2):
            full = mask_dataset_rows(rows, cfg, seed=4, epoch=epoch)
            e = epoch if cfg.dynamic else 0
            for i, ex in enumerate(rows):
                one = mask_row(ex, cfg, 4, i, e)
                assert one.example.to_dict() == full[i].example.to_dict()
                assert one.inverse.to_dict() == full[i].inverse.to_dict() and one.masked_kinds == full[i].masked_kinds
