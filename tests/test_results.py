"""The results model (hammer_train.results) and its tables (hammer_train.tables): every committed results
file loads and writes back the same, wrong types are named, drops and failed requests are reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hammer_train.evaluation.report import merge_results, results_table
from hammer_train.results import BenchmarkResult, Failure, Results
from hammer_train.tables import CARD_COLUMNS, benchmark_table


DOCS = Path(__file__).resolve().parents[1] / "docs"
NEW_KEYS = {  # keys older files lack, as loaded
    "failed_requests": 0,
    "failures": [],
    "shuffled_from": None,
    "cut_at_token_limit": None,
    "format_errors_cut": None,
}


def _committed_json() -> list[Path]:
    return sorted(DOCS.glob("**/*.json"))


def test_every_committed_results_file_loads_and_writes_back_the_same():
    loaded = 0
    for path in _committed_json():
        data = json.loads(path.read_text())
        if not (isinstance(data, dict) and "benchmarks" in data):
            with pytest.raises(ValueError, match="not a results file"):
                Results.load(path)
            continue
        results = Results.load(path)
        out = results.to_dict()
        assert out["meta"] == data["meta"], path
        assert list(out["benchmarks"]) == list(data["benchmarks"]), path
        for name, bench in data["benchmarks"].items():
            written = out["benchmarks"][name]
            assert {k: written[k] for k in bench} == bench, (path, name)
            assert {k: written[k] for k in set(written) - set(bench)} == {
                k: v for k, v in NEW_KEYS.items() if k not in bench
            }, (path, name)
        assert Results.from_dict(out).to_dict() == out
        loaded += 1
    assert loaded >= 40  # docs/results holds 40 results files today


def test_tables_of_a_committed_file(tmp_path):
    path = DOCS / "results" / "quality-320-mix.json"
    results = Results.load(path)
    assert results_table(json.loads(path.read_text())) == results.table()
    assert results.table() == path.with_suffix(".md").read_text()  # as scripts/evaluate.py wrote it
    s = results.summary()
    assert s["sealtool.api_f1"] == pytest.approx(0.6988, abs=1e-4)
    assert s["bfcl_irrelevance.irrelevance"] == pytest.approx(0.175)
    assert "bfcl_irrelevance.api_f1" not in s  # no call rows
    assert s["call_accuracy"] == pytest.approx((0.6988 + 0.7) / 2, abs=1e-4)  # sealtool F1, bfcl_simple AST
    card = benchmark_table(results, CARD_COLUMNS)
    assert "| bfcl_irrelevance | first 40 of 240 rows (--limit 40) | - | 0.200 | 0.175 | 1 |" in card
    merged = merge_results([path, DOCS / "results" / "base.json"], labels=["mix", "base"])
    assert "| bfcl_irrelevance | 40 | 0.000 / 0.000 | 0.173 / 0.000 | 1 | 0.200 | 10 |" in merged
    assert "| sealtool_renamed | 40 | 0.337 / 0.143 | 0.337 / 0.100 | 8 | - | 10 |" in merged


def test_failed_requests_are_counted_named_and_shown():
    bench = {"n": 3, "subset": "all 3 rows", "hammer": {"gold_calls": 3, "api_f1": 0.5, "args_f1": 0.5}}
    failed = {**bench, "failed_requests": 1, "failures": [{"index": 2, "id": "row-2", "reason": "HTTP 503"}]}
    results = Results.from_dict({"meta": {"model": "m"}, "benchmarks": {"a": bench, "b": failed}})
    assert results.benchmarks["b"].failures == [Failure(index=2, id="row-2", reason="HTTP 503")]
    table = results.table()
    assert "| failed requests |" in table.splitlines()[2]
    assert "| a | 3 |" in table and table.splitlines()[5].endswith("| 1 |")
    assert "- b row 2 (`row-2`): HTTP 503" in table
    assert results.summary()["b.failed_requests"] == 1 and "a.failed_requests" not in results.summary()
    assert "failed requests" not in Results.from_dict({"benchmarks": {"a": bench}}).table()
    with pytest.raises(
        ValueError, match=r"f.json: benchmarks.b.failures\[0\].index: Input should be a valid integer \(got '2'\)"
    ):
        Results.from_dict(
            {"benchmarks": {"b": {**failed, "failures": [{"index": "2", "id": "x", "reason": "y"}]}}}, "f.json"
        )
    with pytest.raises(ValueError, match=r"benchmarks.b.failures\[0\].reason: Field required"):
        Results.from_dict({"benchmarks": {"b": {**failed, "failures": [{"index": 2, "id": "x"}]}}})


def test_drops_and_unknown_keys():
    plain = {"n": 4, "hammer": {"api_f1": 0.75, "args_f1": 0.5}, "strict": {"api_f1": 0.5, "args_f1": 0.25}}
    renamed = {"n": 4, "renamed_from": "t", "hammer": {"api_f1": 0.25, "args_f1": 0.5}}
    other_rows = {"n": 3, "shuffled_from": "t", "hammer": {"api_f1": 0.0, "args_f1": 0.0}}
    data = {
        "meta": {"model": "m", "endpoint": "http://x"},
        "benchmarks": {"t": plain, "t_renamed": renamed, "t_shuffled": other_rows},
        "note": 1,
    }
    results = Results.from_dict(data).add_drops()
    assert results.benchmarks["t_renamed"].drop == {"hammer_api_f1": 0.5, "hammer_args_f1": 0.0}
    assert results.benchmarks["t_shuffled"].drop is None  # other rows: no drop
    out = results.to_dict()
    assert out["note"] == 1 and out["meta"]["endpoint"] == "http://x"  # unknown keys kept
    assert "drop" not in out["benchmarks"]["t_shuffled"]
    with pytest.raises(ValueError, match=r"benchmarks.t.hammer.oops: Extra inputs are not permitted"):
        Results.from_dict({"benchmarks": {"t": {"hammer": {"oops": 1}}}})
    with pytest.raises(ValueError, match=r"benchmarks.t.n: Input should be a valid integer \(got True\)"):
        Results.from_dict({"benchmarks": {"t": {"n": True}}})


def test_save_and_load(tmp_path):
    results = Results.load(DOCS / "results" / "quality-320-mix.json")
    json_path, md_path = results.save(tmp_path / "sub" / "r.json")
    assert Results.load(json_path) == results and md_path.read_text() == results.table()
    json_path.write_text('{"benchmarks": {}')
    with pytest.raises(ValueError, match=r"r.json: not valid JSON"):
        Results.load(json_path)


_score = st.one_of(st.none(), st.floats(min_value=0, max_value=1))
_count = st.one_of(st.none(), st.integers(min_value=0, max_value=500))
_bench = st.fixed_dictionaries(
    {
        "n": _count,
        "subset": st.one_of(st.none(), st.text(max_size=20)),
        "hammer": st.one_of(
            st.none(), st.fixed_dictionaries({"gold_calls": _count, "api_f1": _score, "args_f1": _score})
        ),
        "irrelevance": st.one_of(
            st.none(), st.fixed_dictionaries({"irrelevance_accuracy": _score, "relevance_n": _count})
        ),
        "failed_requests": st.integers(min_value=0, max_value=5),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["sealtool", "bfcl_irrelevance", "x_renamed"]), _bench, max_size=3))
def test_round_trip_and_summary_bounds(benches):
    results = Results.from_dict({"benchmarks": benches})
    out = results.to_dict()
    assert Results.from_dict(out) == results
    for name, bench in benches.items():
        written = out["benchmarks"][name]
        for key, value in bench.items():
            assert ({k: written[key][k] for k in value} if isinstance(value, dict) else written[key]) == value
    summary = results.summary()
    for key in ("call_accuracy", "irrelevance_accuracy"):
        assert summary[key] is None or 0.0 <= summary[key] <= 1.0
    assert all(isinstance(b, BenchmarkResult) for b in results.benchmarks.values())
