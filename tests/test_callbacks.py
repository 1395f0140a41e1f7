"""The in-training tool-call metrics: slice, scores, refusal under sharded weights, recipe fields, and
the callback on real short trainings (one process, and two gloo processes with a rank that fails).

The scores are checked on hand-made outputs for real BFCL rows (known right and wrong calls, broken
JSON, ``[]`` on irrelevance rows, renamed rows answered with the names the prompt showed or with
the real names it hid), with values worked out by hand from the definitions in
``hammer_train/evaluation/tool_call_slice.py``."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import DEFAULT_RECIPE, offline_wandb_run_file, requires_bfcl, requires_smollm2
from hypothesis import given, settings
from hypothesis import strategies as st

from hammer_train.callbacks import PREFIX, ToolCallEvalCallback, add_tool_call_callback, sharded_weights_reason
from hammer_train.config import HammerArguments, RecipeError
from hammer_train.evaluation.generate import Generation
from hammer_train.evaluation.tool_call_slice import (
    METRICS,
    build_tool_call_slice,
    pick_rows,
    query_key,
    score_tool_call_slice,
)
from hammer_train.recipe_parser import parse_recipe


ROOT = Path(__file__).resolve().parents[1]


def fenced(calls) -> str:
    return "```\n" + json.dumps(calls) + "\n```"


# --------------------------------------------------------------------------- row picking


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.data())
def test_pick_rows_takes_k_usable_rows(n, data):
    candidates = sorted(data.draw(st.sets(st.integers(0, 500), min_size=n, max_size=n)))
    excluded = data.draw(st.sets(st.sampled_from(candidates)))
    k = data.draw(st.integers(0, n - len(excluded)))
    rows, skipped = pick_rows(candidates, k, excluded)
    assert len(rows) == len(set(rows)) == k and rows == sorted(rows)
    assert set(rows) <= set(candidates) - excluded
    targets = [candidates[j * n // k] for j in range(k)]
    assert skipped == sum(t in excluded for t in targets)
    if not excluded:
        assert rows == targets  # evenly spaced, no draw


def test_pick_rows_moves_only_the_overlapping_row():
    assert pick_rows(list(range(10)), 5, set()) == ([0, 2, 4, 6, 8], 0)
    assert pick_rows(list(range(10)), 5, {4}) == ([0, 2, 5, 6, 8], 1)
    with pytest.raises(ValueError, match="3 rows wanted, 2 of 4"):
        pick_rows([0, 1, 2, 3], 3, {0, 1})


# --------------------------------------------------------------------------- the slice and its scores


@requires_bfcl
def test_slice_sections_and_renamed_rows():
    s = build_tool_call_slice("bfcl_simple", "bfcl_irrelevance", 7, [])
    assert [(n, len(b)) for n, b in s.sections] == [("calls", 2), ("irrelevance", 3), ("renamed", 2)]
    assert len(s) == len(s.examples) == 7
    assert s.report["calls"]["rows"] == [0, 200] and s.report["irrelevance"]["rows"] == [0, 80, 160]
    # the renamed rows are the call rows with the names of bfcl_simple_renamed's same rows
    from hammer_train.evaluation import load_benchmark

    full = load_benchmark("bfcl_simple_renamed")
    for mine, i in zip(s.renamed.examples, [0, 200], strict=True):
        assert [t.name for t in mine.tools] == [t.name for t in full.examples[i].tools]
        assert mine.query == full.examples[i].query
    assert s.renamed.golds == s.calls.golds
    assert [t.name for t in s.renamed.examples[0].tools] != [t.name for t in s.calls.examples[0].tools]


def _masked_call(tool_slice, row: int) -> dict:
    """The gold call of renamed row ``row`` written with the names its prompt showed."""
    gold = tool_slice.renamed.golds[row][0]
    inv = tool_slice.renamed.inverse[row]
    fn = {real: masked for masked, real in inv.functions.items()}[gold["name"]]
    params = {real: masked for masked, real in inv.parameters[gold["name"]].items()}
    return {"name": fn, "arguments": {params[k]: v for k, v in gold["arguments"].items()}}


def _wrong_argument(call: dict) -> dict:
    args = dict(call["arguments"])
    args[next(iter(args))] = "__not_this__"
    return {"name": call["name"], "arguments": args}


@requires_bfcl
def test_scores_on_hand_made_outputs():
    s = build_tool_call_slice("bfcl_simple", "bfcl_irrelevance", 6, [])
    g0, g1 = s.calls.golds[0], s.calls.golds[1]
    real_name_call = dict(g1[0])  # the real name and keys, which the renamed prompt never showed
    outputs = [
        fenced(g0),  # call 0: right call                          -> name ok, arguments ok
        fenced([_wrong_argument(g1[0])]),  # call 1: right name, wrong value -> name ok, arguments wrong
        "[]",  # irrelevance 0: refuses                            -> right
        '```\n[{"name": "f", "arguments": {',  # irrelevance 1: broken JSON -> wrong, not valid JSON
        fenced([_masked_call(s, 0)]),  # renamed 0: the shown names -> mapped back, name ok
        fenced([real_name_call]),  # renamed 1: the hidden real name -> cannot match
    ]
    scores = score_tool_call_slice(s, outputs)
    assert scores == {
        "name_accuracy": 1.0,
        "argument_accuracy": 0.5,
        "json_valid": 5 / 6,
        "irrelevance_accuracy": 0.5,
        "renamed_name_accuracy": 0.5,
        "call_refusal": 0.0,
        "cut_at_token_limit": None,  # plain strings: no finish reason
    }
    assert list(scores) == list(METRICS)
    # the same outputs as a generator returns them: the broken JSON reached the token limit
    cut = [Generation(o, "length" if i == 3 else "stop") for i, o in enumerate(outputs)]
    assert score_tool_call_slice(s, cut) == {**scores, "cut_at_token_limit": 1 / 6}

    # refusals, Python-call syntax (parsed by our lenient parser, but not valid JSON) and two calls
    name0 = g0[0]["name"]
    args0 = ", ".join(f"{k}={v!r}" for k, v in g0[0]["arguments"].items())
    outputs = [
        f"[{name0}({args0})]",  # call 0: right, in Python syntax -> name and arguments ok, not JSON
        "[]",  # call 1: refused                                   -> name wrong, call_refusal
        "I cannot help with that.",  # irrelevance 0: prose     -> wrong (not a refusal), not JSON
        fenced([]),  # irrelevance 1: fenced []                    -> right
        fenced([_masked_call(s, 0), _masked_call(s, 0)]),  # renamed 0: called twice -> name wrong
        fenced([_masked_call(s, 1)]),  # renamed 1: right
    ]
    assert score_tool_call_slice(s, outputs) == {
        "name_accuracy": 0.5,
        "argument_accuracy": 0.5,
        "json_valid": 4 / 6,
        "irrelevance_accuracy": 0.5,
        "renamed_name_accuracy": 0.5,
        "call_refusal": 0.5,
        "cut_at_token_limit": None,
    }
    with pytest.raises(ValueError, match="5 outputs for a slice of 6 rows"):
        score_tool_call_slice(s, outputs[:5])


@requires_bfcl
def test_slice_without_irrelevance():
    s = build_tool_call_slice("bfcl_simple", None, 4, [])
    assert [(n, len(b)) for n, b in s.sections] == [("calls", 2), ("renamed", 2)]
    scores = score_tool_call_slice(s, [fenced(s.calls.golds[0]), "[]", "[]", "x"])
    assert scores["irrelevance_accuracy"] is None and scores["call_refusal"] == 0.5
    assert scores["json_valid"] == 0.75


# --------------------------------------------------------------------------- never training rows


@requires_bfcl
def test_training_rows_are_skipped_with_a_count():
    """BFCL live_irrelevance holds bfcl_irrelevance row 0 verbatim (and rows 69, 78, 233): a recipe
    that does not hold the benchmark out trains on it, and the slice must not use it. (The shipped
    CPU recipes hold it out: then nothing overlaps.)"""
    from hammer_train.data import load_examples
    from hammer_train.evaluation import load_benchmark

    irr = load_benchmark("bfcl_irrelevance")
    irr_keys = {query_key(ex) for ex in irr.examples}
    h, s, _ = parse_recipe([str(DEFAULT_RECIPE)])
    held_out, _ = load_examples(h, s.seed, mix=False)
    assert not any(query_key(ex) in irr_keys for ex in held_out)
    h.holdout_benchmarks = []
    training, _ = load_examples(h, s.seed, mix=False)
    keys = {query_key(ex) for ex in training}
    assert query_key(irr.examples[0]) in keys  # the leak is real

    sl = build_tool_call_slice("bfcl_simple", "bfcl_irrelevance", 48, training)
    assert sl.report["irrelevance"]["overlap_skipped"] == 1
    assert 0 not in sl.report["irrelevance"]["rows"] and 1 in sl.report["irrelevance"]["rows"]
    assert not any(query_key(ex) in keys for ex in sl.examples)
    assert sl.report["calls"]["overlap_skipped"] == 0  # simple row 14 is not a target at 16 rows

    with pytest.raises(ValueError, match=r"'bfcl_live_simple' has \d+ call rows, \d+ of them training rows"):
        build_tool_call_slice("bfcl_live_simple", "bfcl_irrelevance", 48, training)


# --------------------------------------------------------------------------- sharded weights


def test_sharded_weights_are_refused():
    from accelerate.utils import DeepSpeedPlugin, FullyShardedDataParallelPlugin

    zero3 = SimpleNamespace(deepspeed_plugin=DeepSpeedPlugin(zero_stage=3), fsdp_plugin=None)
    msg = sharded_weights_reason(zero3)
    assert "tool_call_eval is off: DeepSpeed ZeRO-3" in msg and "PR #2365" in msg
    msg = sharded_weights_reason(SimpleNamespace(deepspeed_plugin=None, fsdp_plugin=FullyShardedDataParallelPlugin()))
    assert "tool_call_eval is off: FSDP (version" in msg
    assert sharded_weights_reason(SimpleNamespace(deepspeed_plugin=DeepSpeedPlugin(zero_stage=2))) is None
    assert sharded_weights_reason(SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=None))) is None


def test_sharded_weights_turn_the_recipe_callback_off(caplog):
    from accelerate.utils import DeepSpeedPlugin

    state = SimpleNamespace(deepspeed_plugin=DeepSpeedPlugin(zero_stage=3), fsdp_plugin=None)
    trainer = SimpleNamespace(accelerator=SimpleNamespace(state=state, is_main_process=True))
    h = SimpleNamespace(tool_call_eval=True)
    with caplog.at_level(logging.WARNING, logger="hammer_train.callbacks"):
        assert add_tool_call_callback(trainer, h) is None
    assert "tool_call_eval is off: DeepSpeed ZeRO-3" in caplog.text
    with pytest.raises(RuntimeError, match="ZeRO-3"):
        ToolCallEvalCallback(trainer, tool_slice=None)
    assert add_tool_call_callback(trainer, SimpleNamespace(tool_call_eval=False)) is None


@requires_bfcl
@requires_smollm2
def test_steps_fall_back_to_eval_steps_then_the_default(smollm2_tokenizer, tmp_path):
    from transformers import TrainerState, TrainingArguments

    from hammer_train.callbacks import DEFAULT_STEPS

    trainer = SimpleNamespace(accelerator=SimpleNamespace(state=SimpleNamespace()), processing_class=smollm2_tokenizer)
    tool_slice = build_tool_call_slice("bfcl_simple", "bfcl_irrelevance", 3, [])
    for steps, kwargs, expected in [
        (None, {}, DEFAULT_STEPS),
        (None, {"eval_strategy": "steps", "eval_steps": 0.25}, 25),  # a ratio of max_steps, as Trainer reads it
        (None, {"eval_strategy": "no", "eval_steps": 7}, 7),
        (3, {"eval_strategy": "steps", "eval_steps": 7}, 3),
    ]:
        args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", **kwargs)
        state = TrainerState()
        state.compute_steps(args, 100)
        cb = ToolCallEvalCallback(trainer, tool_slice, steps=steps)
        cb.on_train_begin(args, state, None)
        assert cb.steps == expected, kwargs
    # the prompts are the training prompts token for token (the recipe's style and system prompt)
    from hammer_train.data import tokenize_conversation
    from hammer_train.prompts import to_conversation

    cb = ToolCallEvalCallback(trainer, tool_slice, system_prompt="Answer with tool calls only.")
    assert len(cb.prompts) == 3 and "[BEGIN OF AVAILABLE TOOLS]" in cb.prompts[0]
    for prompt, ex in zip(cb.prompts, tool_slice.examples, strict=True):
        train = tokenize_conversation(to_conversation(ex, "hammer", "Answer with tool calls only."), smollm2_tokenizer)
        n_prompt = train["labels"].count(-100)
        assert smollm2_tokenizer(prompt, add_special_tokens=False)["input_ids"] == train["input_ids"][:n_prompt]
        assert "Answer with tool calls only." in prompt


# --------------------------------------------------------------------------- recipe fields


def test_steps_help_states_the_callbacks_default():
    """`hammer-train train --help` states the interval the callback falls back to (it once said 160)."""
    from dataclasses import fields

    from hammer_train.callbacks import DEFAULT_STEPS

    help_text = next(f.metadata["help"] for f in fields(HammerArguments) if f.name == "tool_call_eval_steps")
    assert help_text.endswith(f"else {DEFAULT_STEPS}."), help_text


def test_recipe_fields():
    h, _, _ = parse_recipe([str(DEFAULT_RECIPE)])
    assert h.tool_call_eval is False and h.tool_call_eval_benchmark == "bfcl_simple"
    h, _, _ = parse_recipe([str(DEFAULT_RECIPE), "--tool_call_eval", "true", "--tool_call_eval_irrelevance", ""])
    assert h.tool_call_eval and h.tool_call_eval_irrelevance is None
    for args, match in [
        (["--tool_call_eval_benchmark", "nope"], "tool_call_eval_benchmark: unknown benchmark 'nope'"),
        (["--tool_call_eval_benchmark", "bfcl_simple_renamed"], "name a plain benchmark"),
        (["--tool_call_eval_rows", "2"], "tool_call_eval_rows must be >= 3"),
        (["--tool_call_eval_steps", "0"], "tool_call_eval_steps must be >= 1"),
        (["--tool_call_eval_max_new_tokens", "0"], "tool_call_eval_max_new_tokens must be >= 1"),
    ]:
        with pytest.raises(RecipeError, match=match):
            parse_recipe([str(DEFAULT_RECIPE), "--tool_call_eval", "true", *args])


# --------------------------------------------------------------------------- real training

SHORT = [
    "--max_steps", "2", "--per_device_train_batch_size", "1", "--gradient_accumulation_steps", "1",
    "--max_length", "512", "--lora_r", "4", "--logging_steps", "1",
    "--tool_call_eval", "true", "--tool_call_eval_rows", "6", "--tool_call_eval_max_new_tokens", "16",
    "--tool_call_eval_steps", "1",
]  # fmt: skip


def _check_entries(history: list[dict], steps: list[int]) -> list[dict]:
    entries = [e for e in history if PREFIX + "name_accuracy" in e]
    assert [e["step"] for e in entries] == steps
    for e in entries:
        for m in METRICS:
            assert 0.0 <= e[PREFIX + m] <= 1.0, (m, e)
        assert e[PREFIX + "seconds"] > 0 and 0 < e[PREFIX + "cost_share"] < 1
        assert "loss" not in e and "mean_token_accuracy" not in e  # TRL's metrics stay in the loss entries
    # logging inside on_step_end must not cancel the step's own loss entry
    losses = [e for e in history if "loss" in e]
    assert [e["step"] for e in losses] == [1, 2] and all("mean_token_accuracy" in e for e in losses)
    return entries


@requires_bfcl
@requires_smollm2
def test_callback_on_a_real_short_training(tmp_path, smollm2_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # wandb (in the dev extra) logs offline: the scores must reach it as the trainer's other logs do
    use_wandb = importlib.util.find_spec("wandb") is not None
    if use_wandb:
        monkeypatch.setenv("WANDB_MODE", "offline")
        monkeypatch.setenv("WANDB_DIR", str(tmp_path))
        monkeypatch.setenv("WANDB_SILENT", "true")
    sys.path.insert(0, str(ROOT / "tests"))
    from tool_call_train import build_trainer

    argv = [str(DEFAULT_RECIPE), *SHORT, "--output_dir", str(tmp_path / "out")]
    h, s, m = parse_recipe(argv + ["--report_to", "wandb" if use_wandb else "none"])
    trainer = build_trainer(h, s, m, max_rows=24)
    callback = add_tool_call_callback(trainer, h)
    assert callback is not None and callback in trainer.callback_handler.callbacks
    assert len(callback.prompts) == 6 and callback.prompts[0].startswith("<|im_start|>system\nYou are a helpful")
    side = trainer.processing_class.padding_side
    trainer.train()
    assert trainer.processing_class.padding_side == side and trainer.model.training
    entries = _check_entries(trainer.state.log_history, [1, 2])
    final = [e for e in trainer.state.log_history if PREFIX + "final_cost_share" in e]
    assert len(final) == 1 and final[0][PREFIX + "runs"] == 2
    assert final[0][PREFIX + "total_seconds"] == pytest.approx(sum(e[PREFIX + "seconds"] for e in entries), abs=0.01)
    assert callback.final == {k[len(PREFIX) :]: v for k, v in final[0].items() if k.startswith(PREFIX)}
    assert [r["step"] for r in callback.runs] == [1, 2]
    if use_wandb:
        # the run's records; wandb's reporter prefixes train/
        keys = [f"train/{PREFIX}{key}".encode() for key in (*METRICS, "seconds", "cost_share", "final_cost_share")]
        offline_wandb_run_file(tmp_path, keys=tuple(keys))


@requires_bfcl
@requires_smollm2
def test_two_processes_one_failing_rank_still_train(tmp_path, smollm2_path):
    """Two gloo ranks; at the first run generation raises on rank 1 only. Both ranks must log the
    error and go on (no rank left waiting in a collective), and the second run's scores come from
    the slice sharded over both ranks and gathered."""
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "accelerate_configs" / "multi_cpu.yaml"),
        str(ROOT / "tests" / "tool_call_train.py"), str(DEFAULT_RECIPE), *SHORT,
        "--output_dir", str(out), "--fail_rank", "1",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (out / "rank0.done").is_file() and (out / "rank1.done").is_file()
    assert "injected generation failure on rank 1" in proc.stderr
    history = json.loads((out / "log_history.json").read_text())
    failed = [e for e in history if PREFIX + "errors" in e]
    assert [(e["step"], e[PREFIX + "errors"]) for e in failed] == [(1, 1)]
    assert not any(PREFIX + "name_accuracy" in e for e in failed)
    _check_entries([e for e in history if e not in failed], [2])
    assert json.loads((out / "tool_call_final.json").read_text())["runs"] == 2
