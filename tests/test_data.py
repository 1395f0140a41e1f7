"""build_dataset: accounting, determinism, labels, dynamic masking per epoch (real BFCL rows and
the real SmolLM2 tokenizer)."""

import json

import pytest
from conftest import SHARED_DATA, requires_bfcl, requires_shared

from hammer_train.config import HammerArguments
from hammer_train.data import EpochCallback, build_dataset, load_examples, padding_share, tokenize_conversation
from hammer_train.prompts import to_conversation
from hammer_train.schema import Example


pytestmark = requires_bfcl


def _args(**kw):
    base = dict(
        sources=[
            {"format": "bfcl", "path": "live_simple", "max_rows": 60},
            {"format": "bfcl", "path": "live_irrelevance", "max_rows": 30},
        ],
        irrelevance_ratio=0.1,
    )
    base.update(kw)
    return HammerArguments(**base)


def test_report_accounts_for_every_row():
    ds, report = build_dataset(_args(), seed=3)
    rep = report.to_dict()
    for src in rep["sources"].values():
        assert (
            src["examples"] + sum(src["dropped"].values()) == src["rows_read"] or src["rows_read"] >= src["examples"]
        )
    irr = rep["irrelevance"]
    n_empty = sum(1 for row in ds if row["completion"][0]["content"] == "```\n[]\n```")
    assert (
        n_empty == irr["n_irrelevance"]["external"] + irr["n_irrelevance"]["built"] + irr["n_irrelevance"]["existing"]
    )
    assert abs(n_empty / len(ds) - 0.1) <= 1 / len(ds)
    assert rep["final_rows"] == len(ds)
    masked = rep["masking"]["rows_masked"]
    assert 0.4 * len(ds) < masked < 0.9 * len(ds)  # Hammer masks 2/3 of rows


@requires_shared
def test_hammer_eval_as_training_source_drops_failed_checks():
    # the evaluation-set reader keeps gold that fails a check (for comparable F1); as a training
    # source those rows are dropped and counted, and nothing is kept behind a warning
    path = str(SHARED_DATA / "hammer_eval" / "sealtool.json")
    examples, report = load_examples(
        _args(sources=[{"format": "hammer_eval", "path": path}], irrelevance_ratio=0.0), seed=0
    )
    (src,) = report.to_dict()["sources"].values()
    assert src["rows_read"] == 294 and src["dropped"] == {"argument_type": 55} and src["warnings"] == {}
    assert src["examples"] == src["used"] == len(examples) == 239


def test_same_seed_same_rows_and_report():
    a, ra = build_dataset(_args(), seed=7)
    b, rb = build_dataset(_args(), seed=7)
    assert a.to_list() == b.to_list()
    assert ra.to_json() == rb.to_json()
    c, _ = build_dataset(_args(), seed=8)
    assert a.to_list() != c.to_list()


def test_static_copies_differ():
    ds, rep = build_dataset(_args(masking_mode="static", masking_copies=3, masking_row_prob=1.0), seed=1)
    n = len(ds) // 3
    assert len(ds) == 3 * n
    assert ds[0]["prompt"] != ds[n]["prompt"]  # copy 1 of row 0 has other names


def test_labels_cover_completion_and_end_of_turn(smollm2_tokenizer):
    ex = Example.from_raw(
        "Weather in Paris?",
        [{"name": "get_weather", "description": "d", "parameters": {"city": {"type": "str", "description": "c"}}}],
        [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    )
    tok = tokenize_conversation(to_conversation(ex), smollm2_tokenizer)
    trained = [t for t, lab in zip(tok["input_ids"], tok["labels"]) if lab != -100]
    text = smollm2_tokenizer.decode(trained)
    assert text.startswith("```\n[")
    assert "<|im_end|>" in text
    assert json.loads(text.split("```")[1]) == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    # the prompt is never trained on
    assert all(lab == -100 for lab in tok["labels"][: len(tok["labels"]) - len(trained)])


def test_dynamic_masking_new_names_each_epoch(smollm2_tokenizer):
    import torch

    epoch = torch.zeros((), dtype=torch.int64).share_memory_()
    ds, report = build_dataset(
        _args(masking_row_prob=1.0), seed=5, tokenizer=smollm2_tokenizer, max_length=1024, epoch_tensor=epoch
    )
    first = ds[0]["input_ids"]
    assert ds[0]["input_ids"] == first  # stable within an epoch
    cb = EpochCallback(epoch)

    class State:
        epoch = 1.0

    cb.on_epoch_begin(None, State(), None)
    assert int(epoch) == 1
    second = ds[0]["input_ids"]
    assert second != first
    assert report.tokens["dropped_too_long"] >= 0
    assert report.tokens["lengths"]["max"] <= 1024
    # lengths for length-grouped sampling come without running the transform
    assert len(ds["length"]) == len(ds)


def test_too_long_rows_dropped_and_counted(smollm2_tokenizer):
    ds, report = build_dataset(_args(), seed=5, tokenizer=smollm2_tokenizer, max_length=500)
    assert report.tokens["dropped_too_long"] > 0
    assert report.final_rows == len(ds)
    assert all(n <= 500 for n in ds["length"])


def test_padding_share_grouping_beats_random():
    lengths = [100, 900, 120, 880, 110, 905, 130, 870] * 20
    assert padding_share(lengths, 4, "group_by_length") < padding_share(lengths, 4, "random")
    assert padding_share([50] * 8, 4) == 0.0


def test_completion_keeps_json_types_of_arguments():
    """Numbers, booleans and lists stay JSON numbers / booleans / lists in the trained answer
    (a model taught "5" for 5 fails BFCL's type check)."""
    tools = [
        {
            "name": "book",
            "description": "Book seats.",
            "parameters": {
                "seats": {"type": "int", "description": "n"},
                "window": {"type": "bool", "description": "w"},
                "price": {"type": "float", "description": "p"},
                "names": {"type": "list", "description": "who"},
            },
        }
    ]
    args = {"seats": 2, "window": True, "price": 9.5, "names": ["a", "b"]}
    ex = Example.from_raw("Book 2 window seats", tools, [{"name": "book", "arguments": args}])
    completion = to_conversation(ex)["completion"][0]["content"]
    assert json.loads(completion.split("```")[1]) == [{"name": "book", "arguments": args}]
    assert '"seats": 2' in completion and '"window": true' in completion


@requires_bfcl
def test_holdout_benchmark_rows_never_train():
    """BFCL's live_irrelevance repeats five bfcl_irrelevance rows word for word: with the
    benchmark held out they are dropped, counted, and no kept row has a benchmark query."""
    from hammer_train.config import DataSource, HammerArguments, RecipeError
    from hammer_train.data import load_examples
    from hammer_train.evaluation.tool_call_slice import query_key
    from hammer_train.sources import holdout_keys

    src = [DataSource(format="bfcl", path="live_irrelevance")]
    args = HammerArguments(sources=src, holdout_benchmarks=["bfcl_irrelevance"])
    rows, report = load_examples(args, 42, mix=False)
    (counts,) = report.sources.values()
    assert counts["dropped"]["held_out_benchmark_row"] == 5
    keys = holdout_keys(["bfcl_irrelevance"])
    assert not any(query_key(ex) in keys for ex in rows)
    plain, _ = load_examples(HammerArguments(sources=src), 42, mix=False)
    assert len(plain) == len(rows) + 5
    with pytest.raises(RecipeError, match="holdout_benchmarks: unknown benchmark 'bfcl_nope'"):
        load_examples(HammerArguments(sources=src, holdout_benchmarks=["bfcl_nope"]), 42, mix=False)
