"""A round trip through a real server: train a tiny adapter, export it, serve the export with vLLM
(its CPU build, in .venv-vllm) on 127.0.0.1, and check that the server prompts the model exactly
as training did and returns the calls the in-process model generates.

The adapter is SmolLM2-135M trained (no masking, constant high learning rate) on the first row of
the recipe's BFCL live call rows and the first BFCL live_irrelevance row until it reproduces both:
a call it must return as ``tool_calls``, and a refusal (``[]``) it must return as no tool call.

vLLM is started with ``--enforce-eager`` (no torch.compile warm-up: 2.5 min instead of 9 on a
busy 2-core machine; docs/serving.md) and stopped by its process group id. When ``.venv-vllm`` is
absent the module runs ``make vllm`` once (~3 min, 3.5 GB); it skips, saying why, only when that
fails."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import SHARED_DATA, requires_bfcl, requires_smollm2, train_short


pytestmark = [pytest.mark.slow, requires_bfcl, requires_smollm2]

ROOT = Path(__file__).resolve().parents[1]
TRAIN_ARGS = (
    *("--max_steps", "10", "--per_device_train_batch_size", "1", "--gradient_accumulation_steps", "1"),
    *("--learning_rate", "2e-3", "--lr_scheduler_type", "constant", "--warmup_steps", "0"),
    *("--masking_row_prob", "0", "--irrelevance_ratio", "0.5", "--max_length", "1200"),
    *("--lora_r", "8", "--lora_alpha", "16", "--logging_steps", "5", "--report_to", "none"),
)


@pytest.fixture(scope="module")
def trained_rows():
    """``(call_row, refusal_row)``: what ``train_short(max_rows=1)`` trains on (first row of each source)."""
    from hammer_train.formats import read_source

    calls = read_source("bfcl", "live_simple,live_multiple,live_parallel,live_parallel_multiple").examples
    refusals = read_source("bfcl", "live_irrelevance").examples
    return next(e for e in calls if e.kind != "relevance"), refusals[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The tiny adapter, trained once for this module, and its export (:class:`ExportResult`)."""
    from hammer_train.export import export

    work = tmp_path_factory.mktemp("roundtrip")
    adapter = train_short(work / "adapter", *TRAIN_ARGS, max_rows=1)
    return adapter, export(adapter, work / "export", name="tiny")


@pytest.fixture(scope="module")
def vllm_python():
    from hammer_train.serve import ServerError, find_vllm_python

    try:
        return find_vllm_python()
    except ServerError:
        pass
    made = subprocess.run(["make", "-C", str(ROOT), "vllm"], capture_output=True, text=True, timeout=1800)
    try:
        return find_vllm_python()
    except ServerError as exc:
        tail = (made.stdout + made.stderr).strip().splitlines()[-5:]
        pytest.skip(f"vLLM's CPU build cannot be installed here ({exc}; `make vllm` said: {' | '.join(tail)})")


@pytest.fixture(scope="module")
def server(exported, vllm_python, tmp_path_factory):
    from hammer_train.serve import VLLMServer

    log = tmp_path_factory.mktemp("vllm") / "server.log"
    folder = exported[1].folder
    with VLLMServer(
        folder,
        served_model_name="tiny",
        python=vllm_python,
        log_path=log,
        startup_timeout=900,
        extra_args=["--enforce-eager"],
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def in_process(exported):
    """The exported folder loaded by transformers: ``(model, tokenizer)``, float32, eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = exported[1].folder
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def _client(server):
    from openai import OpenAI

    return OpenAI(base_url=server.base_url, api_key="EMPTY", timeout=300, max_retries=0)


def _greedy(in_process, example) -> str:
    """The in-process answer: the export's chat template on the client's messages + tools, greedy."""
    from hammer_train.chat_template import template_messages, template_tools
    from hammer_train.evaluation.generate import generate

    model, tok = in_process
    prompt = tok.apply_chat_template(
        template_messages(example), tools=template_tools(example), add_generation_prompt=True, tokenize=False
    )
    return generate(model, tok, [prompt], max_new_tokens=128)[0]


def test_export_folder_has_template_weights_and_readme(exported, smollm2_tokenizer):
    from hammer_train.chat_template import is_hammer_template

    adapter, result = exported
    folder = result.folder
    assert result.chat_template and result.prompt_style == "hammer"
    jinja = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    assert is_hammer_template(jinja)
    assert json.loads((folder / "tokenizer_config.json").read_text())["chat_template"] == jinja
    config = json.loads((folder / "config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "float32"  # the de-quantized base's dtype
    assert not (folder / "adapter_config.json").exists()  # merged: a plain model folder
    readme = (folder / "README.md").read_text()
    assert "--tool-call-parser xlam" in readme and str(adapter) in readme


def test_merged_weights_give_the_adapter_logits(exported, in_process, smollm2_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter, _ = exported
    model, tok = in_process
    base = AutoModelForCausalLM.from_pretrained(smollm2_path, dtype=torch.float32)
    peft = PeftModel.from_pretrained(base, str(adapter)).eval()
    ids = tok("[BEGIN OF QUERY]\nWeather in Paris?", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        torch.testing.assert_close(model(ids).logits, peft(ids).logits, atol=1e-4, rtol=1e-4)


def test_served_prompt_is_the_training_prompt(server, trained_rows, smollm2_tokenizer):
    """vLLM renders the client's messages + tools into the very tokens training saw (the base
    template on the Hammer prompt): plain queries, parallel calls, and (with ../shared/data)
    API-Bank's history with earlier calls sent as JSON-string arguments."""
    import httpx

    from hammer_train.evaluation.benchmarks import load_benchmark
    from hammer_train.evaluation.generate import render_prompt
    from hammer_train.evaluation.openai_backend import row_request

    rows = list(trained_rows)
    rows += load_benchmark("bfcl_parallel_multiple", limit=2).examples
    if SHARED_DATA.exists():
        history = [e for e in load_benchmark("apibank_l1").examples if isinstance(e.query, list)]
        rows += [e for e in history if any(m.get("tool_calls") for m in e.query)][:3] + history[:1]
    url = server.base_url.removesuffix("/v1") + "/tokenize"
    for ex in rows:
        req = row_request(ex, "hammer")
        body = {"model": "tiny", "messages": req["messages"], "tools": req["tools"], "add_generation_prompt": True}
        served = httpx.post(url, json=body, timeout=120).raise_for_status().json()["tokens"]
        want = smollm2_tokenizer(render_prompt(ex, smollm2_tokenizer), add_special_tokens=False)["input_ids"]
        assert served == want, f"row {ex.source} {ex.row}: the served prompt differs from the training prompt"


def test_tool_calls_match_the_in_process_model(server, in_process, trained_rows):
    from hammer_train.evaluation.openai_backend import row_request
    from hammer_train.evaluation.parse import parse_calls

    call_row, _ = trained_rows
    expected = parse_calls(_greedy(in_process, call_row)).calls
    assert expected == [a.to_dict() for a in call_row.answers]  # the adapter learned its row
    reply = _client(server).chat.completions.create(model="tiny", **row_request(call_row, "hammer", max_tokens=128))
    msg = reply.choices[0].message
    got = [{"name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in msg.tool_calls or []]
    assert got == expected
    assert reply.choices[0].finish_reason == "tool_calls"


def test_irrelevant_request_gets_no_tool_calls(server, in_process, trained_rows):
    from hammer_train.evaluation.openai_backend import reply_text, row_request

    _, refusal = trained_rows
    assert _greedy(in_process, refusal) == "```\n[]\n```"
    reply = _client(server).chat.completions.create(model="tiny", **row_request(refusal, "hammer", max_tokens=128))
    msg = reply.choices[0].message
    assert not msg.tool_calls
    # vLLM's xlam parser reads the fenced [] as no call; the server then returns the text as it came
    assert (msg.content or "").strip() in ("", "```\n[]\n```")
    assert reply_text({"content": msg.content, "tool_calls": []}) in ("[]", "```\n[]\n```")


def test_openai_backend_scores_the_server_like_the_in_process_model(
    server, in_process, trained_rows, smollm2_tokenizer
):
    """evaluate_endpoint against the server and run_evaluation in process, same rows, greedy: the
    same outputs row by row, hence the same scores and the same count of outputs cut at the token
    limit (vLLM's finish reason against ours); no failed request."""
    from hammer_train.endpoint import EndpointConfig
    from hammer_train.evaluation.benchmarks import Benchmark, load_benchmark
    from hammer_train.evaluation.generate import chat_renderer, transformers_generate_fn
    from hammer_train.evaluation.openai_backend import evaluate_endpoint
    from hammer_train.evaluation.report import run_evaluation

    rows = list(trained_rows)
    trained = Benchmark(
        "trained", rows, [[a.to_dict() for a in r.answers] for r in rows], {"ids": ["call", "refusal"]}
    )
    benches = [trained, load_benchmark("bfcl_simple", limit=2)]
    cfg = EndpointConfig(base_url=server.base_url, model="tiny", timeout=300, max_retries=1, concurrency=2)
    served = evaluate_endpoint(benches, cfg, max_tokens=128, progress=False)
    model, tok = in_process
    local = run_evaluation(
        benches,
        transformers_generate_fn(model, tok, max_new_tokens=128, log_every=False),
        chat_renderer(smollm2_tokenizer),
    )
    for name in ("trained", "bfcl_simple"):
        s, loc = served["benchmarks"][name], local["benchmarks"][name]
        assert s["failed_requests"] == 0 and s["failures"] == [] and s["n"] == loc["n"]
        for key in ("hammer", "strict", "irrelevance", "bfcl_ast", "cut_at_token_limit", "format_errors_cut"):
            assert s[key] == loc[key], (name, key)
    assert served["benchmarks"]["trained"]["hammer"]["api_f1"] == 1.0
    assert served["meta"]["usage"]["sent"] == 4 and not served["meta"]["usage"]["failed"]


def test_tools_grammar_decodes_served_like_in_process(server, in_process, trained_rows, smollm2_tokenizer, tmp_path):
    """``--structured_outputs tools`` through the server (vLLM's ``guidance`` backend, the grammar
    in each request's ``structured_outputs``) and in process (llguidance over ``model.generate``):
    the same rows give the same outputs, so the same scores, and no output names a function or a
    parameter outside its row's tools."""
    pytest.importorskip("llguidance", reason="llguidance (the structured extra) is not installed")
    from hammer_train.endpoint import EndpointConfig
    from hammer_train.evaluation.benchmarks import Benchmark, load_benchmark
    from hammer_train.evaluation.generate import chat_renderer, transformers_generate_fn
    from hammer_train.evaluation.openai_backend import evaluate_endpoint
    from hammer_train.evaluation.report import run_evaluation
    from hammer_train.evaluation.structured import structured_renderer

    rows = list(trained_rows)
    trained = Benchmark("trained", rows, [[a.to_dict() for a in r.answers] for r in rows], {"ids": ["c", "r"]})
    benches = [trained, load_benchmark("bfcl_simple", limit=2), load_benchmark("bfcl_multiple", limit=2)]
    cfg = EndpointConfig(base_url=server.base_url, model="tiny", timeout=300, max_retries=1, concurrency=2)
    preds = tmp_path / "served.jsonl"
    served = evaluate_endpoint(
        benches, cfg, max_tokens=96, progress=False, structured_outputs="tools", predictions_path=preds
    )
    model, tok = in_process
    render, grammar_fn = structured_renderer(chat_renderer(smollm2_tokenizer), "tools")
    generate_fn = transformers_generate_fn(model, tok, max_new_tokens=96, log_every=False, grammar_fn=grammar_fn)
    local = run_evaluation(benches, generate_fn, render)
    for bench in benches:
        s, loc = served["benchmarks"][bench.name], local["benchmarks"][bench.name]
        assert s["failed_requests"] == 0 and s["n"] == loc["n"] == len(bench)
        for key in ("hammer", "strict", "irrelevance", "bfcl_ast", "format_errors"):
            assert s[key] == loc[key], (bench.name, key)
    assert served["benchmarks"]["trained"]["hammer"]["api_f1"] == 1.0
    assert "structured outputs tools" in served["meta"]["decoding"]
    examples = {b.name: b.examples for b in benches}
    for row in map(json.loads, preds.read_text().splitlines()):
        tools = {t.name: {p.name for p in t.parameters} for t in examples[row["benchmark"]][row["index"]].tools}
        for call in row["calls"] or []:
            assert set(call["arguments"]) <= tools[call["name"]], (row["benchmark"], row["index"], call)


def test_cli_backend_vllm_decodes_under_the_tools_grammar_like_transformers(
    exported, vllm_python, in_process, tmp_path
):
    """``hammer-train evaluate EXPORT --backend vllm --structured_outputs tools``, run where vLLM is
    (its CPU build in .venv-vllm; ``--vllm_kwargs`` for eager mode and a short context): every BFCL
    row gets the prompt, output and finish reason that llguidance over ``model.generate`` gives in
    process with the compiled grammar, hence the same scores; the grammar changes some of those
    outputs (so vLLM applied it), and the results say how they were decoded."""
    pytest.importorskip("llguidance", reason="llguidance (the structured extra) is not installed")
    import os

    from hammer_train.evaluation.benchmarks import load_benchmark
    from hammer_train.evaluation.generate import chat_renderer, transformers_generate_fn
    from hammer_train.evaluation.report import run_evaluation
    from hammer_train.evaluation.structured import structured_renderer
    from hammer_train.formats import bfcl_data_dir

    names, out = ["bfcl_simple", "bfcl_multiple"], tmp_path / "vllm.json"
    site = tmp_path / "site"  # .venv-vllm lacks bfcl-eval, whose data are found by package name
    site.mkdir()
    (site / "bfcl_eval").symlink_to(bfcl_data_dir().parent, target_is_directory=True)
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{site}",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    argv = [vllm_python, "-m", "hammer_train.cli", "evaluate", str(exported[1].folder), "--backend", "vllm"]
    argv += ["--structured_outputs", "tools", "--benchmarks", ",".join(names), "--limit", "3"]
    argv += ["--max_new_tokens", "96", "--dtype", "float32", "--output", str(out)]
    argv += ["--vllm_kwargs", '{"enforce_eager": true, "max_model_len": 2048}', "--predictions", f"{out}l"]
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(out.read_text())
    assert served["meta"]["backend"] == "vllm" and served["meta"]["vllm_kwargs"]["enforce_eager"] is True
    assert served["meta"]["decoding"] == "greedy, structured outputs tools (llguidance, vLLM's guidance backend)"
    model, tok = in_process
    render, grammar_fn = structured_renderer(chat_renderer(tok), "tools")
    generate_fn = transformers_generate_fn(model, tok, max_new_tokens=96, log_every=False, grammar_fn=grammar_fn)
    benches = [load_benchmark(n, limit=3) for n in names]
    local = run_evaluation(benches, generate_fn, render, predictions_path=tmp_path / "local.jsonl")
    rows = {}
    for path in (f"{out}l", tmp_path / "local.jsonl"):
        lines = map(json.loads, Path(path).read_text().splitlines())
        rows[path] = [(r["benchmark"], r["index"], r["prompt"], r["output"], r["finish_reason"]) for r in lines]
    assert rows[f"{out}l"] == rows[tmp_path / "local.jsonl"] and len(rows[f"{out}l"]) == 6
    for name in names:
        for key in ("hammer", "strict", "bfcl_ast", "format_errors", "cut_at_token_limit"):
            assert served["benchmarks"][name][key] == local["benchmarks"][name][key], (name, key)
    prompts = [r[2] for r in rows[f"{out}l"]]
    free = transformers_generate_fn(model, tok, max_new_tokens=96, log_every=False)(prompts)
    assert free != [r[3] for r in rows[f"{out}l"]]


def test_export_gguf_with_template_and_modelfile(exported, tmp_path, capsys):
    """``--gguf q8_0``: llama.cpp's converter writes the template into the GGUF metadata, and an
    Ollama Modelfile sits next to it."""
    import gguf

    from hammer_train.cli.export import main
    from hammer_train.export import ExportError
    from hammer_train.gguf_convert import find_converter

    adapter, _ = exported
    try:
        find_converter()
    except ExportError as exc:
        pytest.skip(f"llama.cpp's converter cannot be fetched here: {exc}")
    pytest.importorskip(
        "sentencepiece", reason="llama.cpp's converter needs sentencepiece (pip install sentencepiece==0.2.3)"
    )
    out = tmp_path / "export"
    assert main([str(adapter), "--output_dir", str(out), "--gguf", "q8_0", "--name", "tiny"]) == 0
    assert "GGUF:" in capsys.readouterr().out
    path = out / "gguf" / "tiny-q8_0.gguf"
    reader = gguf.GGUFReader(str(path))
    field = reader.fields["tokenizer.chat_template"]
    assert bytes(field.parts[field.data[0]]).decode("utf-8") == (out / "chat_template.jinja").read_text(
        encoding="utf-8"
    )
    assert reader.fields["general.file_type"].parts[-1][0] == gguf.LlamaFileType.MOSTLY_Q8_0
    modelfile = (out / "gguf" / "Modelfile").read_text()
    assert "FROM ./tiny-q8_0.gguf" in modelfile and ".Tools" in modelfile and "<|im_end|>" in modelfile
    assert "ollama create tiny" in (out / "README.md").read_text()
