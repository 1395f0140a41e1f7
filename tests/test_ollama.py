"""The Ollama Modelfile's TEMPLATE, rendered by Go's text/template as Ollama feeds it.

Ollama cannot be installed here; ``tests/fixtures/ollama_render/main.go`` renders the template with
the data shapes of Ollama's ``template/template.go`` and reports the tool-call tag Ollama would
parse. Where Ollama's data keeps what training shows (see ``hammer_train/ollama.py``), the prompt
must be byte-equal to the training prompt: checked on the real BFCL v4 live rows that qualify, and
the QUERY block on the real API-Bank L1 and Glaive histories.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from test_chat_template import LLAMA_STYLE, source_rows, training_text, with_template

from hammer_train.chat_template import template_messages
from hammer_train.ollama import end_of_turn, ollama_modelfile, ollama_template
from hammer_train.schema import Example


RENDERER = Path(__file__).resolve().parent / "fixtures" / "ollama_render" / "main.go"


@pytest.fixture(scope="module")
def go_render(tmp_path_factory):
    """``render(template, cases) -> (tag, outputs)`` through Go's text/template."""
    go = shutil.which("go")
    if go is None:
        pytest.skip(
            "Go is not installed (apt-get install golang-go); the Ollama template is checked with Go's text/template"
        )
    binary = tmp_path_factory.mktemp("ollama_render") / "ollama_render"
    env = {
        "GO111MODULE": "off",
        "GOCACHE": str(binary.parent / "cache"),
        "PATH": str(Path(go).parent),
        "HOME": str(binary.parent),
    }
    subprocess.run([go, "build", "-o", str(binary), str(RENDERER)], check=True, env=env, timeout=300)

    def render(template: str, cases: list[dict]) -> tuple[str, list[str]]:
        done = subprocess.run(
            [str(binary)],
            input=json.dumps({"template": template, "cases": cases}),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        out = json.loads(done.stdout)
        return out["tag"], out["outputs"]

    return render


OLLAMA_ROLES = {"agent": "assistant", "gpt": "assistant", "human": "user", "observation": "tool", "function": "tool"}
"""Roles a client of Ollama sends for the roles of the data (each renders as the other does)."""


def ollama_case(example: Example, with_answers: bool = False) -> dict:
    """The request as Ollama holds it: JSON-schema tools, messages with Ollama's roles and tool calls."""
    messages = [dict(m, role=OLLAMA_ROLES.get(m["role"], m["role"])) for m in template_messages(example, with_answers)]
    return {"messages": messages, "tools": [t.to_openai() for t in example.tools]}


def _plain(value) -> bool:
    """Go's json writes it as Python's json.dumps does: a string free of <, > and &, or an int."""
    if isinstance(value, str):
        return not any(c in value for c in "<>&\u2028\u2029")
    return isinstance(value, int) and not isinstance(value, bool)


def ollama_keeps_tools(example: Example) -> bool:
    """Ollama's tool structure keeps all the training layout shows: JSON-schema tools whose parameters
    come in name order with only a description, a type and an enum of strings."""
    for tool in example.tools:
        if tool.layout != "openai" or not _plain(tool.name) or not _plain(tool.description):
            return False
        names = [p.name for p in tool.parameters]
        if names != sorted(names):
            return False
        for p in tool.parameters:
            if set(p.spec("openai")) - {"description", "type", "enum"} or not isinstance(p.type, str):
                return False
            if not all(_plain(x) for x in (p.name, p.description, p.type, *p.extra.get("enum", []))):
                return False
    return True


def ollama_keeps_query(example: Example) -> bool:
    if isinstance(example.query, str):
        return True
    roles = [OLLAMA_ROLES.get(m["role"], m["role"]) for m in example.query]
    if len(roles) == 1 or roles[-1] == "assistant" or set(roles) - {"user", "assistant", "system", "tool"}:
        return False  # a lone message is the plain query; a last assistant message is the answer (prefill)
    if any(a == b != "tool" for a, b in zip(roles, roles[1:])):
        return False  # Ollama merges repeated roles
    for m in example.query:
        if m.get("tool_calls") and (m.get("content") or "").strip() != (m.get("content") or ""):
            return False
        for call in m.get("tool_calls") or []:
            args = call.get("arguments") or {}
            if list(args) != sorted(args) or not all(_plain(v) for v in args.values()):
                return False
    return True


@pytest.fixture(scope="module", params=["smollm2", "llama_style"])
def base(request, smollm2_tokenizer):
    return smollm2_tokenizer if request.param == "smollm2" else with_template(smollm2_tokenizer, LLAMA_STYLE)


def test_bfcl_rows_render_as_trained(go_render, base):
    rows = [ex for ex in source_rows("bfcl_live") if ollama_keeps_tools(ex) and ollama_keeps_query(ex)]
    assert len(rows) >= 80, len(rows)  # 90 of 2251: most BFCL live tools have defaults, which Ollama drops
    tag, outputs = go_render(ollama_template(base), [ollama_case(ex) for ex in rows])
    assert tag == "```"
    for ex, got in zip(rows, outputs):
        assert got == training_text(base, ex, full=False), (ex.source, ex.row)


def test_answer_turn_is_the_trained_completion_left_open(go_render, base):
    rows = [
        ex
        for ex in source_rows("bfcl_live")
        if ex.answers
        and ollama_keeps_tools(ex)
        and ollama_keeps_query(ex)
        and all(
            list(a.arguments) == sorted(a.arguments) and all(map(_plain, a.arguments.values())) for a in ex.answers
        )
    ]
    assert len(rows) >= 50, len(rows)
    rows.append(Example(rows[0].query, rows[0].tools, rows[0].answers * 2))  # parallel calls (none qualifies)
    _, outputs = go_render(ollama_template(base), [ollama_case(ex, with_answers=True) for ex in rows])
    stop = end_of_turn(base)
    for ex, got in zip(rows, outputs):
        want = training_text(base, ex, full=True)
        assert want.rstrip().endswith(stop) and got == want.rstrip()[: -len(stop)]


@pytest.mark.parametrize("source", ["apibank_l1", "glaive"])
def test_histories_render_as_trained(go_render, smollm2_tokenizer, source):
    def query_block(text: str) -> str:
        return text.split("[BEGIN OF QUERY]\n")[1].split("\n[END OF QUERY]")[0]

    rows = [ex for ex in source_rows(source) if isinstance(ex.query, list) and ollama_keeps_query(ex)]
    with_calls = [ex for ex in rows if any(m.get("tool_calls") for m in ex.query)]
    assert len(rows) > 40 and len(with_calls) >= 5, (len(rows), len(with_calls))
    _, outputs = go_render(ollama_template(smollm2_tokenizer), [ollama_case(ex) for ex in rows])
    for ex, got in zip(rows, outputs):
        assert query_block(got) == query_block(training_text(smollm2_tokenizer, ex, full=False)), (ex.source, ex.row)


def test_modelfile(smollm2_tokenizer):
    text = ollama_modelfile(smollm2_tokenizer, "./smollm2-hammer-f16.gguf")
    lines = text.splitlines()
    assert "FROM ./smollm2-hammer-f16.gguf" in lines
    assert lines[-3:] == ['PARAMETER stop "<|im_end|>"', "PARAMETER temperature 0", "PARAMETER repeat_penalty 1"]
    template = text.split('TEMPLATE """', 1)[1].rsplit('"""', 1)[0]
    assert template == ollama_template(smollm2_tokenizer) and '"""' not in template
    plain = template.replace("{{-", "{{")
    assert "{{ range $i, $t := .Tools }}" in plain and "{{ if .ToolCalls }}```" in plain
    for bad in ("", "a\nb", 'x".gguf', " lead.gguf"):
        with pytest.raises(ValueError, match="cannot stand in a Modelfile"):
            ollama_modelfile(smollm2_tokenizer, bad)
