"""The synthesis pipeline end to end against a real OpenAI-compatible HTTP server on 127.0.0.1
(tests/servers/synth_openai_server.py: canned, stage-appropriate replies, and scripted bad ones),
started and stopped by each test.

``test_end_to_end`` takes the ``base_url`` fixture and asserts only what holds for any server, so
that a real model server (vLLM serving SmolLM2) can be plugged into the same test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hammer_train.cli.synthesize import main
from hammer_train.endpoint import request_key
from hammer_train.formats import read_source
from hammer_train.synthesis._common import derive_seed
from hammer_train.synthesis.dialogs import plan_kinds
from hammer_train.synthesis.rules import RuleConfig, check_dialog


ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "servers" / "synth_openai_server.py"
TOOLS = ROOT / "tests" / "fixtures" / "synth_tools.json"
OPENAPI = ROOT / "tests" / "fixtures" / "library_openapi.yaml"


def _start(tmp_path: Path, script: dict | None = None, delay: float = 0.0):
    log = tmp_path / "requests.jsonl"
    cmd = [sys.executable, str(SERVER), "--port", "0", "--log", str(log), "--delay", str(delay)]
    if script:
        (tmp_path / "script.json").write_text(json.dumps(script))
        cmd += ["--script", str(tmp_path / "script.json")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip())  # the server prints its port first
    return proc, f"http://127.0.0.1:{port}/v1", log


def _stop(proc) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def canned_server(tmp_path):
    """``(base_url, request log)`` of a canned server started for this test and stopped by pid."""
    proc, url, log = _start(tmp_path)
    try:
        yield url, log
    finally:
        _stop(proc)


@pytest.fixture
def base_url(canned_server):
    """The OpenAI-compatible endpoint of :func:`test_end_to_end` (the canned server here)."""
    return canned_server[0]


def _sent(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _args(out: Path, *extra: str) -> list[str]:
    return ["--tools_file", str(TOOLS), "--output_dir", str(out), "--progress", "false", "--seed", "7", *extra]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_end_to_end(base_url, tmp_path):
    out = tmp_path / "run"
    assert main(_args(out, "--base_url", base_url, "--num_dialogs", "6", "--domains", "public transport")) == 0
    report = json.loads((out / "report.json").read_text())
    for name, stage in report["stages"].items():
        assert stage["kept"] + sum(stage["dropped"].values()) == stage["seen"], name
    assert report["stages"]["dialogs"]["seen"] == 6
    assert report["usage"]["generator"]["sent"] > 0
    rows = _rows(out / "synthesized.jsonl")
    assert len(rows) == report["stages"]["judges"]["kept"]
    # the openai reader takes the rows unchanged; provenance is ignored by it
    result = read_source("openai", str(out / "synthesized.jsonl"))
    assert result.n_dropped == 0 and result.rows_read == len(rows)
    for row in rows:
        prov = row["provenance"]
        assert prov["generator"] and len(prov["content_hash"]) == 64
        assert set(prov["verdicts"]) >= {"dialogs", "rules", "judge_consistency"}
        assert (
            check_dialog(row["messages"], row["tools"], RuleConfig(strict_api=True, require_final_answer=True)) == []
        )
    # the rows lint clean as a user's own file
    assert main(["--verify_only", "--data_format", "openai", "--data_path", str(out / "synthesized.jsonl"),
                 "--output_dir", str(out)]) == 0  # fmt: skip
    lint = json.loads((out / "report_verify.json").read_text())
    assert lint["stages"]["rules"]["kept"] == len(rows)


def test_canned_run_covers_every_kind_and_openapi_input(canned_server, tmp_path):
    url, _ = canned_server
    out = tmp_path / "run"
    argv = _args(out, "--base_url", url, "--num_dialogs", "8", "--tools_file", str(OPENAPI))
    assert main(argv) == 0
    rows = _rows(out / "synthesized.jsonl")
    assert len(rows) == 8
    kinds = sorted(r["provenance"]["kind"] for r in rows)
    assert kinds == sorted(plan_kinds(8, {"single": 0.4, "parallel": 0.2, "dependent": 0.2, "irrelevance": 0.2}, 7))
    examples = read_source("openai", str(out / "synthesized.jsonl")).examples
    irrelevance = [e for e in examples if e.kind == "no_call"]
    assert len(irrelevance) == kinds.count("irrelevance") and all(e.answers == [] for e in irrelevance)
    dependent = next(r for r in rows if r["provenance"]["kind"] == "dependent")
    roles = [m["role"] + ("+calls" if m.get("tool_calls") else "") for m in dependent["messages"]]
    assert roles == ["user", "assistant+calls", "tool", "assistant+calls", "tool", "assistant"]
    pool = _rows(out / "apis.jsonl")
    assert {a["name"] for a in pool} >= {"searchBooks", "post_books_isbn_loans"}  # the OpenAPI operations
    assert all("origin" in a for a in pool)


def _dialog_seeds(n: int, seed: int = 7) -> list[tuple[int, str]]:
    kinds = plan_kinds(n, {"single": 0.4, "parallel": 0.2, "dependent": 0.2, "irrelevance": 0.2}, seed)
    return [(derive_seed(seed, "dialog", i), kind) for i, kind in enumerate(kinds)]


def test_bad_generator_replies_are_counted_by_reason(tmp_path):
    seeds = _dialog_seeds(16)
    calls = [s for s, k in seeds if k != "irrelevance"]
    irrelevant = [s for s, k in seeds if k == "irrelevance"]
    bad = {
        calls[0]: "user_agent:not_json",
        calls[1]: "user_agent:refusal",
        calls[2]: "assistant_calls:empty",
        calls[3]: "assistant_calls:unknown_tool",
        calls[4]: "tool_agent:truncated",
        calls[5]: "assistant_calls:error500",
        calls[6]: "assistant_calls:slow",
        calls[7]: "assistant_calls:bad_type",
        calls[8]: "assistant_answer:mixed",
        calls[9]: "assistant_answer:dangling",
        calls[10]: "judge_hallucination:fail",
        calls[11]: "judge_consistency:bad_verdict",
        irrelevant[0]: "assistant_calls:call_anyway",
        irrelevant[1]: "assistant_calls:refusal",  # declining in words where no tool fits is kept
    }
    script = {str(k): v for k, v in bad.items()}
    script.update({"get_weather": "api_evolution:invalid_schema", "convert_currency": "api_evolution:same"})
    script.update({"search_recipes": "api_evolution:duplicate", "ferries": "api_design:not_json"})
    proc, url, _ = _start(tmp_path, script)
    try:
        out = tmp_path / "run"
        argv = _args(out, "--base_url", url, "--num_dialogs", "16", "--timeout", "2", "--max_retries", "0")
        argv += ["--domains", "ferries", "--evolution_ops", "add_parameter"]
        assert main(argv) == 0  # bad replies never crash the run
    finally:
        _stop(proc)
    stages = json.loads((out / "report.json").read_text())["stages"]
    assert stages["apis"]["dropped"] == {
        "api_invalid_schema": 1,
        "operation_not_applied": 1,
        "duplicate_name": 1,
        "api_design.not_json": 2,  # new_apis_per_domain designs for the one domain
    }
    assert stages["dialogs"]["dropped"] == {
        "user_agent.not_json": 1,
        "user_agent.refusal": 1,
        "assistant.empty_reply": 1,
        "assistant.unknown_function": 1,
        "tool_agent.truncated": 1,
        "assistant.endpoint_server_error": 1,
        "assistant.endpoint_timeout": 1,
        "assistant.irrelevance_called": 1,
    }
    assert stages["rules"]["dropped"] == {"argument_type": 1, "mixed_language": 1, "truncated_turn": 1}
    assert stages["judges"]["dropped"] == {"hallucination": 1, "judge_consistency.bad_verdict": 1}
    assert stages["judges"]["kept"] == 16 - 13
    rows = _rows(out / "synthesized.jsonl")
    assert len(rows) == 3
    assert str(irrelevant[1]) in json.dumps([r["messages"][0]["content"] for r in rows])


def _cache_keys(cache: Path) -> set[str]:
    return {p.stem for p in cache.rglob("*.json")}


def _keys_of(bodies: list[dict], url: str) -> list[str]:
    return [request_key(url, b["model"], {k: v for k, v in b.items() if k != "model"}) for b in bodies]


def test_resume_after_kill_sends_nothing_the_cache_holds(tmp_path):
    proc, url, log = _start(tmp_path, delay=0.15)
    try:
        out = tmp_path / "run"
        argv = _args(out, "--base_url", url, "--num_dialogs", "6", "--concurrency", "1", "--judges", "none")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        run = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "synthesize.py"), *argv], env=env)
        deadline = time.monotonic() + 120
        while len(_sent(log)) < 12 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        assert not (out / "synthesized.jsonl").exists()  # killed before the end
        cached = _cache_keys(out / "cache")
        n_first = len(_sent(log))
        assert len(cached) >= 10
        assert main(argv) == 0  # the same command again
        resent = _keys_of(_sent(log)[n_first:], url)
        assert resent and not set(resent) & cached
        rows = _rows(out / "synthesized.jsonl")
        n_total = len(_sent(log))
        assert main(argv) == 0  # a third time: everything is cached, nothing is sent
        assert len(_sent(log)) == n_total
        assert _rows(out / "synthesized.jsonl") == rows
    finally:
        _stop(proc)


def test_stages_run_alone_give_the_same_rows(canned_server, tmp_path):
    url, log = canned_server
    cache = str(tmp_path / "cache")
    whole = tmp_path / "whole"
    assert main(_args(whole, "--base_url", url, "--num_dialogs", "5", "--cache_dir", cache)) == 0
    n_sent = len(_sent(log))
    staged = tmp_path / "staged"
    for stage in ("apis", "dialogs", "rules", "judges"):
        assert (
            main(_args(staged, "--base_url", url, "--num_dialogs", "5", "--cache_dir", cache, "--stage", stage)) == 0
        )
        assert (staged / f"report_{stage}.json").is_file()
    assert len(_sent(log)) == n_sent  # same questions: all answered from the cache
    assert _rows(staged / "synthesized.jsonl") == _rows(whole / "synthesized.jsonl")


def test_yaml_config_and_argument_errors(canned_server, tmp_path, capsys):
    url, _ = canned_server
    config = tmp_path / "synth.yaml"
    config.write_text(
        f"tools_file: {TOOLS}\nbase_url: {url}\nnum_dialogs: 4\nshare_single: 1\nshare_parallel: 0\n"
        f"share_dependent: 0\nshare_irrelevance: 0\njudges: [consistency]\noutput_dir: {tmp_path / 'out'}\n"
        "progress: false\n"
    )
    assert main([str(config)]) == 0
    rows = _rows(tmp_path / "out" / "synthesized.jsonl")
    assert [r["provenance"]["kind"] for r in rows] == ["single"] * 4
    assert set(rows[0]["provenance"]["verdicts"]) == {"dialogs", "rules", "judge_consistency"}
    assert main([str(config), "--share_single", "-1"]) == 2
    assert "share_" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("num_dialogz: 3\n")
    assert main([str(bad)]) == 2
    assert main(["--tools_file", str(tmp_path / "missing.json"), "--base_url", url]) == 2


def test_every_seed_tool_dropped_names_why_and_writes_the_report(canned_server, tmp_path, capsys):
    """A tools file whose only tool fails the strict seed check (a parameter without description):
    the error names the reason and the first message, no request is sent, and the report is on disk."""
    url, log = canned_server
    tools = json.loads(TOOLS.read_text())[:1]
    fn = tools[0]["function"] if "function" in tools[0] else tools[0]
    param = next(iter(fn["parameters"]["properties"].values()))
    param.pop("description")
    bad_tools = tmp_path / "tools.json"
    bad_tools.write_text(json.dumps(tools))
    out = tmp_path / "out"
    argv = ["--tools_file", str(bad_tools), "--output_dir", str(out), "--progress", "false", "--base_url", url]
    assert main([*argv, "--expansion_rounds", "0"]) == 2
    err = capsys.readouterr().err
    assert "the API pool is empty" in err and "'seed.api_missing_field': 1" in err and "has no description" in err
    report = json.loads((out / "report.json").read_text())
    assert report["stages"]["apis"]["dropped"] == {"seed.api_missing_field": 1}
    assert not log.exists() or not log.read_text().strip()  # nothing was asked of the server


@pytest.mark.skipif(
    importlib.util.find_spec("hammer_train.serve") is not None, reason="the embedded server is present"
)
def test_no_endpoint_and_no_embedded_server_is_a_clear_error(tmp_path, capsys):
    assert main(_args(tmp_path / "out")) == 2
    assert "--base_url" in capsys.readouterr().err
