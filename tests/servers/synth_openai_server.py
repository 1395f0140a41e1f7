"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions wire format and answers
every prompt of the synthesis pipeline (hammer_train/synthesis/prompts.py) with canned,
stage-appropriate JSON, or with a scripted bad reply, for deterministic tests of the pipeline.

The task is read from the system prompt's first line ``# Task: <name>``. Good replies:

* ``api_design``: a lookup API for the domain; ``api_evolution``: the given API with the
  requested operation applied, named ``<parent>_<operation>``;
* ``user_agent``: a request that names concrete values for the first tool(s) and ends with
  "My customer number is <seed>." (so every later prompt of that dialog carries the seed), or, for
  an irrelevance situation, a restaurant booking;
* ``assistant_calls``: the calls the request needs (one, two in parallel, or two dependent ones
  over two turns), then ``[]``; ``tool_agent``: ``{"status": "ok", "ref": ..., "echo": {...}}``;
* ``assistant_answer``: a short answer; ``judge_*``: ``{"verdict": "pass"}``.

``--script FILE`` maps a key to a bad behaviour ``<task>:<what>``; the key is the dialog's seed
(the request's ``seed`` or the customer number in the prompt) for dialog and judge tasks, the
domain for ``api_design`` and the parent API's name for ``api_evolution``. Behaviours: ``not_json``,
``empty``, ``refusal``, ``truncated`` (finish_reason ``length``), ``slow`` (sleeps 5 s),
``error500``; for ``assistant_calls`` also ``unknown_tool``, ``bad_type`` (a string where an
integer is declared), ``call_anyway`` (a call in an irrelevance dialog), ``no_call``; for
``assistant_answer`` ``mixed`` (Chinese in an English dialog) and ``dangling``; for judges
``fail`` and ``bad_verdict``; for ``api_evolution`` ``invalid_schema``, ``same`` (operation not
applied) and ``duplicate`` (the parent's own name).

Every request body is appended to ``--log`` as one JSON line. ``--delay`` seconds are slept before
every answer. Start with ``--port 0``: the chosen port is printed on the first line of stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


LOCK = threading.Lock()
SCRIPT: dict[str, str] = {}
DELAY = 0.0
OPS = {
    "add one new parameter": "add_parameter",
    "add a constraint": "add_constraint",
    "change the type": "change_type",
    "change what the function returns": "change_return",
}


def _block(text: str, tag: str):
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    if not m:
        return None
    try:
        return json.loads(m.group(1))
    except json.JSONDecodeError:
        return m.group(1)


def _value(spec: dict, ref: str | None = None):
    kind = spec.get("type")
    if "enum" in spec:
        return spec["enum"][0]
    if kind == "integer":
        return spec.get("minimum", 3)
    if kind == "number":
        return 2.5
    if kind == "boolean":
        return True
    if kind == "array":
        return ["alpha"]
    if kind == "object":
        return {}
    if "pattern" in spec:  # a value that fits the pattern
        for candidate in ("Paris", "USD", "978-0-14-044913-6", "2024-05-01", "12345"):
            if re.search(spec["pattern"], candidate):
                return candidate
    return ref or "Paris"


def _arguments(tool: dict, ref: str | None = None) -> dict:
    params = tool.get("parameters") or {}
    props = params.get("properties") or {}
    return {p: _value(props[p], ref) for p in params.get("required") or list(props)[:1]}


def _user(text: str, seed: int) -> dict:
    tools = _block(text, "tools") or []
    if "NONE of the tools" in text or not tools:
        return {
            "query": f"Can you book me a table for two at an Italian restaurant tonight? My customer number is {seed}."
        }
    first = tools[0]
    values = ", ".join(f"{k} {v}" for k, v in _arguments(first).items())
    if "two calls in sequence" in text:
        lead = "First look it up, then use the reference for the next step"
    elif "two or more calls" in text:
        lead = "Do it twice please"
    else:
        lead = "Please help"
    return {"query": f"{lead}: {first['description']} ({values}). My customer number is {seed}."}


def _calls(text: str, behaviour: str) -> dict:
    tools = _block(text, "tools") or []
    dialog = _block(text, "dialog") or ""
    made = dialog.count("Assistant called:")
    irrelevant = "book me a table" in dialog
    if behaviour == "call_anyway":
        return {"tool_calls": [{"name": tools[0]["name"], "arguments": _arguments(tools[0])}]}
    if behaviour == "no_call":
        return {"tool_calls": []}
    if irrelevant or not tools or made >= (2 if "First look it up" in dialog else 1):
        return {"tool_calls": []}
    if behaviour == "unknown_tool":
        return {"tool_calls": [{"name": "launch_rocket", "arguments": {"target": "moon"}}]}
    first = tools[0]
    args = _arguments(first)
    if behaviour == "bad_type":  # a value of the wrong JSON type for every argument
        props = (first.get("parameters") or {}).get("properties") or {}
        args = {k: 123 if props[k].get("type") == "string" else "three" for k in args}
    if made == 1:  # the dependent second call uses the reference the first result returned
        ref = re.findall(r'"ref": "([^"]+)"', dialog)
        target = tools[1] if len(tools) > 1 else first
        return {"tool_calls": [{"name": target["name"], "arguments": _arguments(target, ref[-1] if ref else None)}]}
    calls = [{"name": first["name"], "arguments": args}]
    if "Do it twice" in dialog:
        calls.append({"name": first["name"], "arguments": args})
    return {"tool_calls": calls}


def _evolve(api: dict, op: str, behaviour: str) -> dict:
    new = json.loads(json.dumps(api))
    props = new.setdefault("parameters", {"type": "object"}).setdefault("properties", {})
    if behaviour == "invalid_schema":
        props["broken"] = {"type": "strng", "description": "a misspelled type"}
    elif op == "add_parameter" and behaviour != "same":
        props["detail_level"] = {
            "type": "string",
            "description": "how much detail to return",
            "enum": ["short", "full"],
        }
    elif op == "add_constraint" and behaviour != "same":
        name = next(iter(props), None)
        if name is None:
            props["mode"] = {"type": "string", "description": "mode", "enum": ["fast", "exact"]}
        elif props[name].get("type") in ("integer", "number"):
            props[name]["minimum"] = 0
        else:
            props[name]["maxLength"] = 200
    elif op == "change_type" and behaviour != "same" and props:
        name = next(iter(props))
        props[name] = {"type": "array", "items": {"type": "string"}, "description": props[name]["description"]}
    elif op == "change_return" and behaviour != "same":
        new["returns"] = {"type": "object", "properties": {"status": {"type": "string"}, "data": {"type": "object"}}}
    if behaviour != "duplicate":
        new["name"] = f"{api['name']}_{op}"
    return new


def _design(domain: str) -> dict:
    slug = re.sub(r"\W+", "_", domain.lower()).strip("_")
    return {
        "name": f"{slug}_lookup",
        "description": f"Look up {domain} records by keyword.",
        "parameters": {
            "type": "object",
            "properties": {
                "keyword": {"type": "string", "description": "what to look for"},
                "limit": {"type": "integer", "description": "results to return", "minimum": 1, "maximum": 50},
            },
            "required": ["keyword"],
        },
        "returns": {"type": "object", "properties": {"results": {"type": "array", "items": {"type": "string"}}}},
    }


def _key(task: str, text: str, body: dict) -> str:
    if task == "api_design":
        m = re.search(r"Domain: (.*)", text)
        return m.group(1).strip() if m else ""
    if task == "api_evolution":
        api = _block(text, "api")
        return api.get("name", "") if isinstance(api, dict) else ""
    m = re.search(r"customer number is (\d+)", text)
    return m.group(1) if m else str(body.get("seed"))


def _good(task: str, text: str, body: dict, behaviour: str):
    """(content, finish_reason) of a well-formed reply."""
    if task == "api_design":
        return json.dumps(_design(re.search(r"Domain: (.*)", text).group(1).strip())), "stop"
    if task == "api_evolution":
        op = next((v for k, v in OPS.items() if k in text), "add_parameter")
        return json.dumps(_evolve(_block(text, "api"), op, behaviour)), "stop"
    if task == "user_agent":
        return json.dumps(_user(text, body.get("seed", 0))), "stop"
    if task == "assistant_calls":
        return json.dumps(_calls(text, behaviour)), "stop"
    if task == "tool_agent":
        call = _block(text, "call") or {}
        return json.dumps(
            {"status": "ok", "ref": f"R-{len(json.dumps(call)) % 97}", "echo": call.get("arguments")}
        ), "stop"
    if task == "assistant_answer":
        if behaviour == "mixed":
            return "Your request is done. 已经完成了。", "stop"
        if behaviour == "dangling":
            return "Here is what I found for you and", "stop"
        return "All done: I ran the tools and everything went through.", "stop"
    if behaviour == "fail":
        return json.dumps({"verdict": "fail", "reason": "scripted failure"}), "stop"
    if behaviour == "bad_verdict":
        return json.dumps({"verdict": "maybe"}), "stop"
    return json.dumps({"verdict": "pass", "reason": ""}), "stop"


def _completion(content: str, finish: str) -> dict:
    return {
        "id": "chatcmpl-synth",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "synth-canned",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
    }


class Handler(BaseHTTPRequestHandler):
    log_path: str | None = None

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's name)
        self._send(200, json.dumps({"object": "list", "data": [{"id": "synth-canned", "object": "model"}]}).encode())

    def do_POST(self):  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.log_path:
            with LOCK, open(self.log_path, "a", encoding="utf-8") as f:
                f.write(raw.decode("utf-8", "replace") + "\n")
        body = json.loads(raw)
        system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
        task = system.split("\n", 1)[0].removeprefix("# Task: ").strip()
        wanted = SCRIPT.get(_key(task, user, body), "")
        scripted_task, _, behaviour = wanted.partition(":")
        if scripted_task != task:
            behaviour = ""
        time.sleep(DELAY)
        if behaviour == "slow":
            time.sleep(5)
        if behaviour == "error500":
            self._send(500, b'{"error": {"message": "scripted failure"}}')
            return
        content, finish = _good(task, user, body, behaviour)
        content = {
            "not_json": "Sure! Here is what you asked for.",
            "empty": "",
            "refusal": "I'm sorry, but I cannot help with that.",
        }.get(behaviour, content)
        if behaviour == "truncated":
            content, finish = content[: len(content) // 2], "length"
        self._send(200, json.dumps(_completion(content, finish)).encode())


def main() -> int:
    global DELAY
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log")
    parser.add_argument("--script")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    Handler.log_path = args.log
    DELAY = args.delay
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            SCRIPT.update(json.load(f))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
