"""Any OpenAI-compatible chat endpoint (vLLM, llama.cpp's server, SGLang, a hosted API), through the
``openai`` client package: what evaluation of a served model and data synthesis both need.

* **Retries and timeouts** are the ``openai`` client's own: each request has ``timeout`` seconds,
  and timeouts, connection errors, 408, 409, 429 and 5xx answers are retried ``max_retries`` times
  with exponential backoff (``openai._base_client``). We add nothing to that loop.
* **Bounded concurrency**: at most ``concurrency`` requests in flight (a thread pool over the
  thread-safe sync client).
* **Failures are results, not exceptions**: a request that still fails after the retries becomes a
  :class:`ChatResult` with a short ``error`` code (``timeout``, ``connection``, ``rate_limited``,
  ``server_error``, ``http_<status>``, ``bad_response``) and a detail message, counted in
  :attr:`ChatEndpoint.usage`. Callers count and name them; nothing is scored as a silent zero.
* **Resumable cache** (optional): a successful answer is stored under ``cache_dir`` keyed by a
  SHA-256 of the endpoint, the model and the request, written atomically; a later run with the
  same requests reads it back and sends nothing (a killed run resumes without paying again).
* **Token accounting** from the answers' ``usage`` and a ``tqdm`` progress bar.
* **Secrets**: the API key is read from the environment variable named by ``api_key_env``
  (default ``OPENAI_API_KEY``) and handed to the client; it is never logged, cached or written.
  A local server needs none: without the variable a placeholder key is sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


logger = logging.getLogger(__name__)

__all__ = ["EndpointConfig", "ChatResult", "EndpointUsage", "ChatEndpoint", "request_key"]

NO_KEY = "EMPTY"
"""Key sent when the key variable is unset (local servers such as vLLM accept any key)."""


@dataclass
class EndpointConfig:
    """Where and how to send chat requests.

    Attributes:
        base_url: the server's OpenAI-compatible root, e.g. ``http://127.0.0.1:8000/v1``; ``None``
            for OpenAI itself.
        model: the model name the server serves (vLLM: ``--served-model-name``).
        api_key_env: name of the environment variable holding the key.
        timeout: seconds allowed for one request (each retry gets the same).
        max_retries: retries after a timeout, connection error, 408, 409, 429 or 5xx.
        concurrency: requests in flight at once (>= 1).
        cache_dir: folder of the resumable answer cache; ``None`` for no cache.
        cache_scope: what names the endpoint in the cache key instead of ``base_url``, for a server
            whose address changes between runs (the embedded server binds a free port); ``None``:
            ``base_url``.

    Raises:
        ValueError: empty model, timeout <= 0, max_retries < 0 or concurrency < 1 (field named).
    """

    base_url: str | None = None
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    max_retries: int = 4
    concurrency: int = 4
    cache_dir: str | None = None
    cache_scope: str | None = None

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("endpoint model is required (the name the server serves)")
        if not self.timeout > 0:
            raise ValueError(f"endpoint timeout must be > 0 seconds, got {self.timeout}")
        if self.max_retries < 0:
            raise ValueError(f"endpoint max_retries must be >= 0, got {self.max_retries}")
        if self.concurrency < 1:
            raise ValueError(f"endpoint concurrency must be >= 1, got {self.concurrency}")


@dataclass
class ChatResult:
    """One request's outcome.

    Attributes:
        index: position of the request in the list given to :meth:`ChatEndpoint.complete`.
        message: on success ``{"content": str | None, "tool_calls": [{"name": str, "arguments":
            dict | str}], "finish_reason": str | None}``; ``arguments`` is the decoded JSON object,
            or the raw string when the server sent arguments that are not a JSON object (the
            caller decides whether that is a format error). ``None`` on failure.
        error: ``None`` on success, else a short code (see the module docstring).
        detail: the failure's message (never holds the key).
        prompt_tokens, completion_tokens: from the answer's ``usage`` (0 when absent).
        cached: the answer came from the cache, no request was sent.
    """

    index: int
    message: dict[str, Any] | None = None
    error: str | None = None
    detail: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class EndpointUsage:
    """Running totals of one :class:`ChatEndpoint`: requests sent, answers read from the cache,
    failures by code, and tokens (prompt / completion) of the answers received or cached."""

    sent: int = 0
    cached: int = 0
    failed: Counter = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "cached": self.cached,
            "failed": dict(self.failed),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


def request_key(base_url: str | None, model: str, request: dict[str, Any]) -> str:
    """SHA-256 hex digest of the endpoint, the model and the request (keys sorted): the cache key.
    The API key is not part of it."""
    blob = json.dumps({"base_url": base_url, "model": model, "request": request}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _decode_arguments(raw: Any) -> Any:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return raw
        return value if isinstance(value, dict) else raw
    return raw


def _message_of(response: Any) -> tuple[dict[str, Any], int, int]:
    """``(message, prompt_tokens, completion_tokens)`` of a chat completion; raises ``ValueError``
    when the answer has no choices or no message (a server answering garbage)."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise ValueError("the answer has no choices")
    choice = choices[0]
    msg = getattr(choice, "message", None)
    if msg is None:
        raise ValueError("the answer's first choice has no message")
    calls = []
    for call in getattr(msg, "tool_calls", None) or []:
        fn = getattr(call, "function", None)
        if fn is None or not getattr(fn, "name", None):
            raise ValueError("a tool call in the answer has no function name")
        calls.append({"name": fn.name, "arguments": _decode_arguments(fn.arguments)})
    usage = getattr(response, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    message = {"content": msg.content, "tool_calls": calls, "finish_reason": getattr(choice, "finish_reason", None)}
    return message, prompt, completion


def _error_code(exc: BaseException) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.InternalServerError):
        return "server_error"
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    return "bad_response"  # not JSON, a schema the client cannot read, no choices...


class ChatEndpoint:
    """Send chat-completion requests to one OpenAI-compatible endpoint.

    Args:
        config: the endpoint.
        client: an ``openai.OpenAI`` client to use instead of building one (its own timeout and
            retries then apply).

    Example::

        ep = ChatEndpoint(EndpointConfig(base_url="http://127.0.0.1:8000/v1", model="hammer"))
        results = ep.complete([{"messages": [...], "tools": [...], "temperature": 0, "max_tokens": 256}])
    """

    def __init__(self, config: EndpointConfig, client: Any = None):
        self.config = config
        if client is None:
            from openai import OpenAI

            client = OpenAI(
                base_url=config.base_url,
                api_key=os.environ.get(config.api_key_env) or NO_KEY,
                timeout=config.timeout,
                max_retries=config.max_retries,
            )
        self.client = client
        self.usage = EndpointUsage()
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------- cache
    def _cache_path(self, request: dict[str, Any]) -> Path | None:
        if not self.config.cache_dir:
            return None
        key = request_key(self.config.cache_scope or self.config.base_url, self.config.model, request)
        return Path(self.config.cache_dir) / key[:2] / f"{key}.json"

    def _read_cache(self, path: Path | None) -> dict[str, Any] | None:
        if path is None or not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a torn or foreign file: ask again
            logger.warning("ignoring unreadable cache entry %s", path)
            return None

    @staticmethod
    def _write_cache(path: Path | None, entry: dict[str, Any]) -> None:
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    # ----------------------------------------------------------------------- requests
    def _one(self, index: int, request: dict[str, Any]) -> ChatResult:
        path = self._cache_path(request)
        entry = self._read_cache(path)
        if entry is not None:
            res = ChatResult(
                index,
                entry["message"],
                None,
                "",
                entry.get("prompt_tokens", 0),
                entry.get("completion_tokens", 0),
                True,
            )
            with self._lock:
                self.usage.cached += 1
                self.usage.prompt_tokens += res.prompt_tokens
                self.usage.completion_tokens += res.completion_tokens
            return res
        with self._lock:
            self.usage.sent += 1
        try:
            response = self.client.chat.completions.create(model=self.config.model, **request)
            message, prompt, completion = _message_of(response)
        except Exception as exc:  # every failure becomes a counted result
            code = _error_code(exc)
            with self._lock:
                self.usage.failed[code] += 1
            return ChatResult(index, None, code, f"{type(exc).__name__}: {exc}"[:500])
        with self._lock:
            self.usage.prompt_tokens += prompt
            self.usage.completion_tokens += completion
        self._write_cache(path, {"message": message, "prompt_tokens": prompt, "completion_tokens": completion})
        return ChatResult(index, message, None, "", prompt, completion)

    def complete(
        self, requests: Sequence[dict[str, Any]], desc: str = "requests", progress: bool = True
    ) -> list[ChatResult]:
        """Send every request (bounded concurrency) and return one result per request, in order.

        Args:
            requests: keyword arguments of ``client.chat.completions.create`` without ``model``,
                e.g. ``{"messages": [...], "tools": [...], "temperature": 0, "max_tokens": 256}``.
            desc: the progress bar's label.
            progress: show a ``tqdm`` progress bar (on stderr).

        Returns:
            ``list[ChatResult]``, ``results[i]`` for ``requests[i]``. Never raises for a failed
            request; see :class:`ChatResult`.
        """
        from tqdm.auto import tqdm

        results: list[ChatResult | None] = [None] * len(requests)
        with tqdm(total=len(requests), desc=desc, disable=not progress, unit="req") as bar:
            with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
                futures = [pool.submit(self._one, i, r) for i, r in enumerate(requests)]
                for fut in as_completed(futures):
                    res = fut.result()
                    results[res.index] = res
                    bar.update(1)
        return [r for r in results if r is not None]
