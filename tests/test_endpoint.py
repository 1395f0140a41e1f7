"""The OpenAI-compatible endpoint client against a real HTTP server on 127.0.0.1 that misbehaves
on request (tests/servers/scripted_openai_server.py): retries, timeouts, garbage, the cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hammer_train.endpoint import ChatEndpoint, EndpointConfig


SERVER = Path(__file__).parent / "servers" / "scripted_openai_server.py"


@pytest.fixture
def server(tmp_path):
    """``(base_url, log_path)`` of a scripted server started for this test and killed by pid."""
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0", "--log", str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline().strip())  # the server prints its port first
        yield f"http://127.0.0.1:{port}/v1", log
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _req(mode: str) -> dict:
    return {"messages": [{"role": "user", "content": mode}], "max_tokens": 8}


def _sent(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_failures_are_counted_results_and_good_answers_parsed(server):
    base_url, log = server
    ep = ChatEndpoint(EndpointConfig(base_url=base_url, model="m", timeout=2, max_retries=1, concurrency=3))
    modes = ["ok", "text", "garbage", "error500", "slow", "flaky", "ratelimit"]
    results = ep.complete([_req(m) for m in modes], progress=False)
    by_mode = dict(zip(modes, results))
    assert [r.index for r in results] == list(range(len(modes)))
    assert by_mode["ok"].message["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert by_mode["ok"].prompt_tokens == 11 and by_mode["ok"].completion_tokens == 7
    assert by_mode["text"].message == {"content": "```\n[]\n```", "tool_calls": [], "finish_reason": "stop"}
    assert by_mode["garbage"].error == "bad_response"
    assert by_mode["error500"].error == "server_error"
    assert by_mode["slow"].error == "timeout"
    assert by_mode["flaky"].ok  # the client's retry got the second answer
    assert by_mode["ratelimit"].error == "rate_limited"
    assert ep.usage.failed == {"bad_response": 1, "server_error": 1, "timeout": 1, "rate_limited": 1}
    assert ep.usage.sent == len(modes)
    # retried ones were sent twice (max_retries=1): error500, flaky, ratelimit, slow
    bodies = [b["messages"][-1]["content"] for b in _sent(log)]
    assert sorted(m for m in set(bodies) if bodies.count(m) == 2) == ["error500", "flaky", "ratelimit", "slow"]


def test_cache_resumes_without_sending_again(server, tmp_path):
    base_url, log = server
    cfg = EndpointConfig(base_url=base_url, model="m", timeout=2, max_retries=0, cache_dir=str(tmp_path / "cache"))
    first = ChatEndpoint(cfg).complete([_req("ok"), _req("text"), _req("error500")], progress=False)
    assert [r.ok for r in first] == [True, True, False]
    n_sent = len(_sent(log))
    again = ChatEndpoint(cfg)
    second = again.complete([_req("ok"), _req("text"), _req("error500")], progress=False)
    assert [r.message for r in second[:2]] == [r.message for r in first[:2]]
    assert [r.cached for r in second] == [True, True, False]
    assert len(_sent(log)) == n_sent + 1  # only the failed request is sent again
    assert again.usage.cached == 2 and again.usage.sent == 1


def test_cache_scope_survives_a_new_address(server, tmp_path):
    """The embedded server binds a free port each run: keyed by its scope, a rerun at another address
    reuses the answers; keyed by the address (the default), it asks again."""
    base_url, log = server
    cache = str(tmp_path / "cache")
    cfg = EndpointConfig(base_url=base_url, model="m", max_retries=0, cache_dir=cache, cache_scope="embedded:x")
    assert ChatEndpoint(cfg).complete([_req("ok")], progress=False)[0].ok
    moved = EndpointConfig(
        base_url="http://127.0.0.1:9/v1",
        model="m",
        timeout=2,
        max_retries=0,
        cache_dir=cache,
        cache_scope="embedded:x",
    )
    again = ChatEndpoint(moved)
    (result,) = again.complete([_req("ok")], progress=False)
    assert result.cached and result.message["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert again.usage.sent == 0 and len(_sent(log)) == 1
    unscoped = ChatEndpoint(
        EndpointConfig(base_url="http://127.0.0.1:9/v1", model="m", timeout=2, max_retries=0, cache_dir=cache)
    )
    (missed,) = unscoped.complete([_req("ok")], progress=False)
    assert not missed.cached and missed.error == "connection"


def test_key_comes_from_the_named_variable_and_is_not_cached(server, tmp_path, monkeypatch):
    base_url, log = server
    monkeypatch.setenv("MY_ENDPOINT_KEY", "sk-secret-value")
    cfg = EndpointConfig(base_url=base_url, model="m", api_key_env="MY_ENDPOINT_KEY", cache_dir=str(tmp_path / "c"))
    ep = ChatEndpoint(cfg)
    assert ep.client.api_key == "sk-secret-value"
    ep.complete([_req("ok")], progress=False)
    for path in (tmp_path / "c").rglob("*"):
        if path.is_file():
            assert "sk-secret-value" not in path.read_text()


@pytest.mark.parametrize(
    "kwargs, field", [({"model": ""}, "model"), ({"timeout": 0}, "timeout"), ({"concurrency": 0}, "concurrency")]
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        EndpointConfig(**{"model": "m", **kwargs})
