"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions wire format and
misbehaves on request, for testing how clients handle timeouts, 5xx, 429 and garbage.

The last user message of a request picks the behaviour:

* ``ok`` (anything else too): a completion with one tool call ``get_weather({"city": "Paris"})``;
* ``text``: a completion whose content is the fenced JSON ``[]`` and no tool calls;
* ``loop``: an unfinished answer that repeats an argument, with ``finish_reason`` ``"length"``
  (what a server sends when a generation reaches ``max_tokens``);
* ``garbage``: status 200 with a body that is not JSON;
* ``slow``: sleeps 5 s before answering ``ok``;
* ``error500``: always status 500;
* ``flaky``: status 500 on the first request with that exact body, then ``ok``;
* ``ratelimit``: always status 429.

Every request is appended as one JSON line to the log file given by ``--log`` (what was sent,
so a test can check that a resumed run sends nothing). Start it with ``--port 0``: the chosen
port is printed on the first line of stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


SEEN: set[str] = set()
LOCK = threading.Lock()


def _completion(content, tool_calls, finish_reason=None):
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "scripted",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


OK = _completion(
    None,
    [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}],
)
TEXT = _completion("```\n[]\n```", None)
LOOP = _completion(
    '```\n[{"name": "get_weather", "arguments": {"city": "Paris", "city": "Paris", "city', None, "length"
)


class Handler(BaseHTTPRequestHandler):
    log_path: str | None = None

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 (http.server's name)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.log_path:
            with LOCK, open(self.log_path, "a", encoding="utf-8") as f:
                f.write(raw.decode("utf-8", "replace") + "\n")
        try:
            body = json.loads(raw)
            mode = [m for m in body["messages"] if m.get("role") == "user"][-1]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            self._send(400, b'{"error": {"message": "bad request"}}')
            return
        if mode == "garbage":
            self._send(200, b"<html>not json</html>", "text/html")
        elif mode == "error500":
            self._send(500, b'{"error": {"message": "boom"}}')
        elif mode == "ratelimit":
            self._send(429, b'{"error": {"message": "slow down"}}')
        elif mode == "flaky":
            with LOCK:
                first = raw not in SEEN
                SEEN.add(raw)
            if first:
                self._send(500, b'{"error": {"message": "first try fails"}}')
            else:
                self._send(200, json.dumps(OK).encode())
        elif mode == "text":
            self._send(200, json.dumps(TEXT).encode())
        elif mode == "loop":
            self._send(200, json.dumps(LOOP).encode())
        else:
            if mode == "slow":
                time.sleep(5)
            self._send(200, json.dumps(OK).encode())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log")
    args = parser.parse_args()
    Handler.log_path = args.log
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
