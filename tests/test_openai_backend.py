"""Evaluation of an OpenAI-compatible endpoint: requests in the wire format, replies turned into
scored text, and failed requests counted and named, never scored (against a real scripted HTTP
server on 127.0.0.1, tests/servers/scripted_openai_server.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMOLLM2, requires_bfcl

from hammer_train.endpoint import EndpointConfig
from hammer_train.evaluation.benchmarks import Benchmark
from hammer_train.evaluation.openai_backend import reply_text, select_rows, wire_messages, wire_tools
from hammer_train.schema import Example


SERVER = Path(__file__).parent / "servers" / "scripted_openai_server.py"

WEATHER = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def server(tmp_path):
    """``(base_url, log_path)`` of a scripted server started for this test and killed by pid."""
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0", "--log", str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline().strip())
        yield f"http://127.0.0.1:{port}/v1", log
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_reply_text_tool_calls_empty_and_content():
    calls = [{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": {}}]
    assert json.loads(reply_text({"content": None, "tool_calls": calls})) == calls
    assert reply_text({"content": None, "tool_calls": []}) == "[]"
    assert reply_text({"content": "  \n", "tool_calls": []}) == "[]"
    assert reply_text({"content": "```\n[]\n```", "tool_calls": []}) == "```\n[]\n```"


def test_reply_text_keeps_the_finish_reason():
    calls = [{"name": "f", "arguments": {"a": 1}}]
    assert reply_text({"content": None, "tool_calls": calls, "finish_reason": "tool_calls"}).finish_reason == (
        "tool_calls"
    )
    assert reply_text({"content": '```\n[{"name": "f"', "finish_reason": "length"}).finish_reason == "length"
    assert reply_text({"content": "[]"}).finish_reason is None


def test_wire_messages_encode_history_calls_and_link_tool_results():
    history = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {
            "role": "agent",
            "content": None,
            "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"name": "get_weather", "arguments": {"city": "Rome"}},
            ],
        },
        {"role": "tool", "content": "sunny"},
        {"role": "observation", "content": "rain"},
        {"role": "human", "content": "thanks"},
    ]
    out = wire_messages(history)
    assert out[1]["role"] == "assistant" and out[1]["content"] == ""
    assert [c["id"] for c in out[1]["tool_calls"]] == ["call_1_0", "call_1_1"]
    assert [json.loads(c["function"]["arguments"]) for c in out[1]["tool_calls"]] == [
        {"city": "Paris"},
        {"city": "Rome"},
    ]
    assert out[2]["tool_call_id"] == "call_1_0" and out[3]["tool_call_id"] == "call_1_1"
    assert out[3]["role"] == "observation" and out[4]["role"] == "human"  # kept for the Hammer template
    std = wire_messages(history, standard_roles=True)
    assert [m["role"] for m in std] == ["user", "assistant", "tool", "tool", "user"]
    assert history[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}  # input untouched


def test_wire_tools_wraps_flat_specs_only():
    flat = {"name": "f", "description": "d", "parameters": {"x": {"type": "int", "description": ""}}}
    wrapped = {"type": "function", "function": WEATHER}
    assert wire_tools([flat, wrapped]) == [{"type": "function", "function": flat}, wrapped]


def _bench(queries: list[str], golds: list[list[dict]]) -> Benchmark:
    examples = [Example.from_raw(q, [WEATHER], g) for q, g in zip(queries, golds, strict=True)]
    ids = [f"row-{q}" for q in queries]
    return Benchmark("scripted", examples, golds, {"ids": ids, "subset": f"all {len(queries)} rows", "source": "test"})


def test_select_rows_keeps_per_row_fields_in_step():
    bench = _bench(["a", "b", "c"], [[], [], []])
    sub = select_rows(bench, [2, 0], "two rows")
    assert [e.query for e in sub.examples] == ["c", "a"]
    assert sub.extra["ids"] == ["row-c", "row-a"] and sub.subset == "two rows"
    assert bench.extra["ids"] == ["row-a", "row-b", "row-c"]


@pytest.mark.parametrize("style", ["hammer", "openai"])
def test_failed_requests_are_counted_named_and_not_scored(server, tmp_path, style):
    from hammer_train.evaluation.openai_backend import evaluate_endpoint

    base_url, log = server
    paris = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    # the scripted server answers by the last user message: ok -> get_weather(Paris), text -> "```\n[]\n```"
    bench = _bench(["ok", "error500", "text", "garbage"], [paris, paris, [], paris])
    cfg = EndpointConfig(base_url=base_url, model="scripted", timeout=5, max_retries=0, concurrency=2)
    preds = tmp_path / "preds.jsonl"
    results = evaluate_endpoint([bench], cfg, style=style, meta={"run": "t"}, predictions_path=preds, progress=False)
    res = results["benchmarks"]["scripted"]
    assert res["failed_requests"] == 2
    assert [(f["index"], f["id"]) for f in res["failures"]] == [(1, "row-error500"), (3, "row-garbage")]
    assert res["failures"][0]["reason"].startswith("server_error") and res["failures"][1]["reason"].startswith(
        "bad_response"
    )
    # only the two answered rows are scored: the call matches, the [] row is a right refusal
    assert res["n"] == 2 and "2 failed requests not scored (rows 1, 3)" in res["subset"]
    assert res["hammer"]["api_f1"] == 1.0 and res["irrelevance"]["irrelevance_accuracy"] == 1.0
    meta = results["meta"]
    assert meta["backend"] == "openai" and meta["model"] == "scripted" and meta["request_style"] == style
    assert meta["usage"]["failed"] == {"server_error": 1, "bad_response": 1} and meta["run"] == "t"
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["row-ok", "row-text"]
    assert json.loads(rows[0]["output"]) == paris
    # what went over the wire: tools in OpenAI layout, temperature 0, the query as the last user turn
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(sent) == 4 and all(s["temperature"] == 0 and s["model"] == "scripted" for s in sent)
    assert all(
        s["tools"][0]["type"] == "function" and s["tools"][0]["function"]["name"] == "get_weather" for s in sent
    )
    roles = [m["role"] for m in sent[0]["messages"]]
    assert roles == (["user"] if style == "hammer" else ["system", "user"])


def test_answers_cut_at_max_tokens_are_counted(server, tmp_path):
    """A reply the server cut at ``max_tokens`` (finish reason "length") is a format error, counted
    as cut at the token limit, and its finish reason is in the predictions file."""
    from hammer_train.evaluation.openai_backend import evaluate_endpoint

    base_url, _ = server
    paris = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    bench = _bench(["ok", "loop", "text"], [paris, paris, []])
    cfg = EndpointConfig(base_url=base_url, model="scripted", timeout=5, max_retries=0)
    preds = tmp_path / "preds.jsonl"
    res = evaluate_endpoint([bench], cfg, predictions_path=preds, progress=False)["benchmarks"]["scripted"]
    assert res["n"] == 3 and res["format_errors"] == 1
    assert res["cut_at_token_limit"] == 1 and res["format_errors_cut"] == 1
    reasons = [json.loads(line)["finish_reason"] for line in preds.read_text().splitlines()]
    assert reasons == ["tool_calls", "length", "stop"]


def test_structured_outputs_go_out_as_vllm_grammar_per_row(server, tmp_path):
    """With ``structured_outputs``, each request carries vLLM's ``structured_outputs.grammar``: the
    Lark text of its own row's tools (another tool list, another grammar); the results say so in
    ``decoding``; an unknown mode fails before any request is sent."""
    from hammer_train.evaluation.openai_backend import evaluate_endpoint
    from hammer_train.evaluation.structured import answer_lark, tools_schema

    base_url, log = server
    paris = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    bench = _bench(["ok", "text"], [paris, []])
    bench.examples[1].tools = []  # a row without tools: its grammar allows only []
    cfg = EndpointConfig(base_url=base_url, model="scripted", timeout=5, max_retries=0)
    results = evaluate_endpoint([bench], cfg, progress=False, structured_outputs="tools")
    assert results["benchmarks"]["scripted"]["hammer"]["api_f1"] == 1.0
    assert results["meta"]["decoding"] == "greedy, structured outputs tools (vLLM structured_outputs)"
    sent = sorted((json.loads(line) for line in log.read_text().splitlines()), key=lambda s: len(s["tools"]))
    grammars = [s["structured_outputs"]["grammar"] for s in sent]
    assert grammars == [answer_lark(tools_schema(ex.tools)) for ex in reversed(bench.examples)]
    assert '"const": "get_weather"' in grammars[1] and '"maxItems": 0' in grammars[0]
    with pytest.raises(ValueError, match="structured outputs mode"):
        evaluate_endpoint([bench], cfg, progress=False, structured_outputs="json")
    assert len(log.read_text().splitlines()) == 2


def test_every_request_failing_scores_nothing(server):
    from hammer_train.evaluation.openai_backend import evaluate_endpoint

    base_url, _ = server
    bench = _bench(["error500", "ratelimit"], [[], []])
    cfg = EndpointConfig(base_url=base_url, model="m", timeout=5, max_retries=0)
    res = evaluate_endpoint([bench], cfg, progress=False)["benchmarks"]["scripted"]
    assert res["n"] == 0 and res["failed_requests"] == 2
    assert [f["reason"].split(":")[0] for f in res["failures"]] == ["server_error", "rate_limited"]


@requires_bfcl
def test_cli_backend_openai_writes_results_with_failures(server, tmp_path, capsys):
    """``hammer-train evaluate --backend openai`` against a real server on 127.0.0.1: every BFCL row
    is answered (the scripted server calls get_weather), scored, and written; a closed port makes
    every request a named failure, with exit status 0 and nothing scored."""
    from hammer_train.cli.evaluate import main
    from hammer_train.results import Results

    base_url, log = server
    out = tmp_path / "served.json"
    argv = ["--backend", "openai", "--model", "scripted", "--benchmarks", "bfcl_simple", "--limit", "3"]
    assert main([*argv, "--base_url", base_url, "--output", str(out), "--max_retries", "0"]) == 0
    res = Results.load(out).benchmarks["bfcl_simple"]
    assert res.n == 3 and res.failed_requests == 0 and res.bfcl_ast.accuracy == 0.0
    # --structured_outputs with --backend openai: every request carries its row's grammar
    constrained = tmp_path / "constrained.json"
    assert main([*argv, "--base_url", base_url, "--output", str(constrained), "--structured_outputs", "tools"]) == 0
    assert "structured outputs tools" in json.loads(constrained.read_text())["meta"]["decoding"]
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert [bool(s.get("structured_outputs")) for s in sent] == [False] * 3 + [True] * 3
    closed = tmp_path / "closed.json"
    dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    assert main([*argv, "--base_url", dead, "--output", str(closed), "--max_retries", "0", "--timeout", "2"]) == 0
    res = Results.load(closed).benchmarks["bfcl_simple"]
    assert res.n == 0 and res.failed_requests == 3 and {f.reason.split(":")[0] for f in res.failures} == {"connection"}
    assert main([*argv[:2], "--benchmarks", "bfcl_simple"]) == 2  # no --model
    assert "--model is required" in capsys.readouterr().err


@requires_bfcl
def test_cli_backend_openai_counts_gold_answers_over_the_limit_with_a_tokenizer(
    server, tmp_path, capsys, smollm2_path, smollm2_tokenizer
):
    """``--tokenizer`` gives the endpoint run the in-process count of gold answers longer than
    ``--max_new_tokens`` (the served model's tokenizer, here SmolLM2's: from its GGUF or its
    folder); a style whose answers are not in the Hammer format, or a tokenizer that does not
    load, is a one-line error before any request."""
    from hammer_train.cli.evaluate import main
    from hammer_train.evaluation.benchmarks import load_benchmark
    from hammer_train.evaluation.report import gold_over_token_limit
    from hammer_train.results import Results

    base_url, log = server
    bench = load_benchmark("bfcl_simple", limit=10)
    lengths = sorted(len(smollm2_tokenizer(g, add_special_tokens=False)["input_ids"]) for g in _gold_texts(bench))
    limit = lengths[len(lengths) // 2]  # about half the gold answers are longer
    expected = gold_over_token_limit(bench, _counter(smollm2_tokenizer), limit)
    assert 0 < expected < 10
    argv = ["--backend", "openai", "--model", "scripted", "--base_url", base_url, "--benchmarks", "bfcl_simple"]
    argv += ["--limit", "10", "--max_new_tokens", str(limit)]
    for tokenizer in (SMOLLM2, smollm2_path):
        out = tmp_path / "counted.json"
        assert main([*argv, "--tokenizer", tokenizer, "--output", str(out)]) == 0
        assert Results.load(out).benchmarks["bfcl_simple"].gold_over_token_limit == expected
        assert "gold answers over the token limit" in (tmp_path / "counted.md").read_text()
    requests = len(log.read_text().splitlines())
    assert main([*argv, "--tokenizer", SMOLLM2, "--request_style", "openai"]) == 2
    assert "--request_style hammer" in capsys.readouterr().err
    assert main([*argv, "--tokenizer", str(tmp_path / "nowhere")]) == 2
    assert "--tokenizer" in capsys.readouterr().err
    assert len(log.read_text().splitlines()) == requests  # nothing was sent for the two mistakes


def _counter(tokenizer):
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _gold_texts(bench: Benchmark) -> list[str]:
    from hammer_train.prompts import format_answers

    return [format_answers(ex.answers) for ex in bench.examples]
