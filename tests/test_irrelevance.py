"""Tests for building and mixing irrelevance rows (hammer_train.irrelevance)."""

from __future__ import annotations

import json
import random

import pytest

from hammer_train.irrelevance import (
    IrrelevanceReport,
    make_irrelevance_example,
    mix_irrelevance,
    target_irrelevance_count,
)
from hammer_train.schema import Example, Parameter, Tool, ToolCall


def call_rows(n: int, seed: int = 0) -> list[Example]:
    """n call rows; every third row offers only the function it calls (needs donors)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        k = 1 if i % 3 == 0 else rng.randint(2, 4)
        tools = [Tool(f"fn_{i}_{j}", f"does thing {j} of row {i}", [Parameter("x", "int", "x", 1)]) for j in range(k)]
        called = tools[: 1 + (i % 2 if k > 2 else 0)]
        rows.append(
            Example(
                query=f"query {i}",
                tools=tools,
                answers=[ToolCall(t.name, {"x": i}) for t in called],
                source="gen",
                row=i,
            )
        )
    return rows


def no_call_rows(n: int, start: int = 10_000) -> list[Example]:
    return [
        Example(
            query=f"chit-chat {i}",
            tools=[Tool(f"nc_{i}", "d")],
            answers=[],
            source="real",
            row=start + i,
            kind="no_call",
        )
        for i in range(n)
    ]


def external_rows(n: int, start: int = 20_000) -> list[Example]:
    return [
        Example(
            query=f"irrelevant {i}",
            tools=[Tool(f"ext_{i}", "d")],
            answers=[],
            source="ext",
            row=start + i,
            kind="irrelevance",
        )
        for i in range(n)
    ]


def share(rows):
    return sum(1 for r in rows if not r.answers) / len(rows)


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("n", [1, 2, 7, 10, 33, 100, 457])
def test_exact_share_built(ratio, n):
    rows = call_rows(n)
    out, rep = mix_irrelevance(rows, ratio, seed=1)
    n_empty = sum(1 for r in out if not r.answers)
    assert n_empty == round(ratio * n / (1 - ratio)) == rep.n_target
    assert abs(n_empty - ratio * len(out)) <= 1  # exact to within one row
    assert rep.shortfall == 0 and rep.n_call == n and rep.n_total == len(out)
    assert rep.n_irrelevance == {"external": 0, "built": n_empty, "existing": 0}
    assert rep.achieved_ratio == pytest.approx(n_empty / len(out))
    assert sum(1 for r in out if r.answers) == n  # every call row kept


@pytest.mark.parametrize("ratio", [0.1, 0.3])
def test_built_rows_call_nothing_and_lack_removed_functions(ratio):
    rows = call_rows(200)
    by_row = {r.row: r for r in rows}
    out, rep = mix_irrelevance(rows, ratio, seed=3)
    built = [r for r in out if r.kind == "irrelevance"]
    assert len(built) == rep.n_irrelevance["built"] > 0
    assert len({r.row for r in built}) == len(built)  # each source row used at most once
    for r in built:
        assert r.answers == []
        src = by_row[r.row]
        assert r.query == src.query  # the query is unchanged
        removed = {c.name for c in src.answers}
        names = [t.name for t in r.tools]
        assert not removed & set(names) and names and len(names) == len(set(names))
        if len(src.tools) == len(removed):  # donor tools: 1-3 from other rows
            assert 1 <= len(names) <= 3


def test_make_irrelevance_example():
    rows = call_rows(30)
    rng = random.Random(0)
    multi = rows[1]  # 2+ tools, calls 1
    out = make_irrelevance_example(multi, None, rng)
    assert out.kind == "irrelevance" and out.answers == [] and out.query == multi.query
    assert [t.name for t in out.tools] == [
        t.name for t in multi.tools if t.name not in {c.name for c in multi.answers}
    ]
    single = rows[0]  # only the called function
    assert make_irrelevance_example(single, None, rng) is None
    assert make_irrelevance_example(single, [single], rng) is None  # the only donor is itself
    got = make_irrelevance_example(single, rows, rng)
    assert got is not None and 1 <= len(got.tools) <= 3 and single.tools[0].name not in {t.name for t in got.tools}
    assert make_irrelevance_example(no_call_rows(1)[0], rows, rng) is None  # nothing to remove
    assert single.answers and single.kind == "call"  # input untouched


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("n", [5, 50, 301])
def test_exact_share_with_external_and_existing(ratio, n):
    rows = call_rows(n)
    ext = external_rows(7)
    existing = no_call_rows(3)
    out, rep = mix_irrelevance(rows, ratio, seed=2, external=ext, existing_no_call=existing)
    target = round(ratio * n / (1 - ratio))
    n_empty = sum(1 for r in out if not r.answers)
    assert n_empty == target and abs(n_empty - ratio * len(out)) <= 1
    counts = rep.n_irrelevance
    assert counts["existing"] == min(3, target)
    assert counts["external"] == min(7, target - counts["existing"])
    assert counts["built"] == target - counts["existing"] - counts["external"]
    assert rep.existing_dropped == 3 - counts["existing"]
    assert sum(r.source == "ext" for r in out) == counts["external"]


def test_shortfall_reported():
    rows = call_rows(10)
    out, rep = mix_irrelevance(rows, 0.9, seed=0)
    assert rep.n_target == 90
    assert rep.n_irrelevance["built"] + rep.built_failed <= 10
    assert rep.shortfall == 90 - rep.n_irrelevance["built"] > 0
    assert rep.achieved_ratio < 0.9


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan")])
def test_bad_ratio_raises(bad):
    with pytest.raises(ValueError, match="irrelevance_ratio"):
        mix_irrelevance(call_rows(5), bad, seed=0)
    with pytest.raises(ValueError, match="irrelevance_ratio"):
        target_irrelevance_count(5, bad)


def test_external_with_calls_rejected():
    with pytest.raises(ValueError, match="external"):
        mix_irrelevance(call_rows(5), 0.1, seed=0, external=call_rows(2))


def test_determinism_and_report_json():
    rows = call_rows(120)
    a, ra = mix_irrelevance(rows, 0.2, seed=9, external=external_rows(5), existing_no_call=no_call_rows(4))
    b, rb = mix_irrelevance(rows, 0.2, seed=9, external=external_rows(5), existing_no_call=no_call_rows(4))
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]
    assert ra == rb
    c, _ = mix_irrelevance(rows, 0.2, seed=10, external=external_rows(5), existing_no_call=no_call_rows(4))
    assert [r.to_dict() for r in a] != [r.to_dict() for r in c]
    d = json.loads(json.dumps(ra.to_dict()))
    assert set(d) == {f for f in IrrelevanceReport.__dataclass_fields__}
    assert d["n_irrelevance"] == ra.n_irrelevance


def test_call_rows_with_empty_answers_count_as_existing():
    rows = call_rows(90) + no_call_rows(2)
    out, rep = mix_irrelevance(rows, 0.1, seed=0)
    assert rep.n_call == 90 and rep.n_target == 10
    assert rep.n_irrelevance["existing"] == 2 and rep.n_irrelevance["built"] == 8
    assert sum(1 for r in out if not r.answers) == 10


def test_empty_input():
    out, rep = mix_irrelevance([], 0.1, seed=0)
    assert out == [] and rep.n_target == 0 and rep.achieved_ratio == 0.0
