"""Score any OpenAI-compatible chat endpoint on the benchmarks: a served export, Hammer on vLLM, a hosted API.

Each benchmark row is sent as one chat-completion request, ``messages`` + ``tools``
(:func:`row_request`), through :class:`hammer_train.endpoint.ChatEndpoint` (the ``openai`` client's
timeouts and retries with backoff, bounded concurrency, a progress bar, the key read from the
environment and never written). Two request styles:

* ``"hammer"`` (a served hammer-train export): the messages and tools of
  :func:`hammer_train.chat_template.template_messages` / :func:`~hammer_train.chat_template.template_tools`,
  so the export's chat template renders exactly the training prompt of the row (xLAM-layout tools
  keep their layout, wrapped as ``{"type": "function", "function": spec}``; a lone user message of
  a history keeps the role ``human``, which the template writes as ``User: ...``);
* ``"openai"`` (any other model, hosted APIs): the same turns with standard roles only (``user``,
  ``assistant``, ``tool``, ``system``) and the tools in OpenAI JSON-schema layout
  (:meth:`hammer_train.schema.Tool.to_openai`).

In both, earlier calls are sent in the wire format (``id``, ``type``, ``arguments`` as a JSON
string; the tool message after them carries ``tool_call_id``): vLLM decodes the arguments into
objects before the chat template sees them (``vllm/renderers/chat_utils.py``,
``_postprocess_messages``; only for the role ``assistant``, which is why history calls are sent
with that role). The reply becomes text our scoring reads (:func:`reply_text`).

A request that still fails after the retries is NOT scored: its row is left out of the
benchmark's scores and listed in ``failures`` (``{"index", "id", "reason"}``), counted in
``failed_requests``; the benchmark's ``subset`` says how many rows were scored.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..endpoint import ChatEndpoint, ChatResult, EndpointConfig
from ..prompts import SYSTEM_PROMPT
from ..schema import Example
from .benchmarks import Benchmark, load_benchmark
from .generate import Generation


logger = logging.getLogger(__name__)

__all__ = [
    "REQUEST_STYLES",
    "wire_tools",
    "wire_messages",
    "row_request",
    "reply_text",
    "select_rows",
    "endpoint_outputs",
    "evaluate_endpoint",
]

REQUEST_STYLES = ("hammer", "openai")

_TOOL_ROLES = ("tool", "observation", "function")
"""Roles of a tool-result message, as :func:`hammer_train.prompts.render_query` reads a history."""

_STANDARD_ROLES = {
    "agent": "assistant",
    "gpt": "assistant",
    "human": "user",
    "observation": "tool",
    "function": "tool",
}

_ROW_KEYS = ("ids", "functions", "possible_answers", "inverse")
"""Per-row lists of :attr:`Benchmark.extra` (kept in step when rows are selected)."""


def wire_tools(tools: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tools in the OpenAI wire layout: a spec that is not ``{"type": "function", "function": {...}}``
    yet (a flat xLAM spec) is wrapped as one; wrapped specs are kept."""
    out = []
    for spec in tools:
        wrapped = spec.get("type") == "function" and isinstance(spec.get("function"), dict)
        out.append(spec if wrapped else {"type": "function", "function": spec})
    return out


def wire_messages(messages: Sequence[dict[str, Any]], standard_roles: bool = False) -> list[dict[str, Any]]:
    """Messages in the OpenAI wire format.

    A turn with ``tool_calls`` gets the role ``assistant`` and each call an ``id`` (``call_<turn>_<k>``),
    ``type: function`` and its ``arguments`` as a JSON string; the tool-result messages after it get
    ``tool_call_id`` (the k-th result answers the k-th call). ``standard_roles`` also maps ``agent``
    / ``gpt`` to ``assistant``, ``human`` to ``user`` and ``observation`` / ``function`` to ``tool``.

    Args:
        messages: ``[{"role", "content", "tool_calls"?: [{"type", "function": {"name", "arguments":
            dict}}] or [{"name", "arguments"}]}]``.

    Returns:
        New message dicts (the input is not modified).
    """
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    for turn, m in enumerate(messages):
        role = m.get("role", "user")
        if standard_roles:
            role = _STANDARD_ROLES.get(role, role)
        msg: dict[str, Any] = {"role": role, "content": m.get("content") if m.get("content") is not None else ""}
        calls = m.get("tool_calls") or []
        if calls:
            msg["role"] = "assistant"
            msg["tool_calls"], pending = [], []
            for k, c in enumerate(calls):
                fn = c.get("function") if isinstance(c.get("function"), dict) else c
                args = fn.get("arguments")
                args = args if isinstance(args, str) else json.dumps(args or {}, ensure_ascii=False)
                call_id = f"call_{turn}_{k}"
                msg["tool_calls"].append(
                    {"id": call_id, "type": "function", "function": {"name": fn["name"], "arguments": args}}
                )
                pending.append(call_id)
        elif role in _TOOL_ROLES and pending:
            msg["tool_call_id"] = pending.pop(0)
        out.append(msg)
    return out


def row_request(
    example: Example,
    style: str = "hammer",
    *,
    max_tokens: int = 256,
    system_prompt: str | None = SYSTEM_PROMPT,
    structured_outputs: str | None = None,
) -> dict[str, Any]:
    """The chat-completion request of one benchmark row (greedy: ``temperature=0``).

    Args:
        example: the row as the model is to see it (masked for a renamed benchmark).
        style: ``"hammer"`` or ``"openai"`` (module docstring).
        max_tokens: generation limit.
        system_prompt: ``"openai"`` style only: a system message put first (Hammer's "You are a
            helpful assistant."; ``None`` for none). A served hammer-train export writes its own
            training system turn whatever the client sends.
        structured_outputs: ``None``, or a mode of :data:`.structured.MODES`: the request then
            carries vLLM's ``extra_body`` with the answer grammar of the row's tools
            (:func:`.structured.vllm_structured_outputs`; a vLLM server only).

    Returns:
        ``{"messages", "tools", "temperature": 0, "max_tokens"}`` (keyword arguments of
        ``client.chat.completions.create`` without ``model``), plus ``extra_body`` with
        ``structured_outputs``.

    Raises:
        ValueError: unknown style or structured outputs mode.
    """
    from ..chat_template import template_messages, template_tools

    if style == "hammer":
        messages = wire_messages(template_messages(example))
        tools = wire_tools(template_tools(example))
    elif style == "openai":
        system = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
        messages = system + wire_messages(template_messages(example), standard_roles=True)
        tools = [t.to_openai() for t in example.tools]
    else:
        raise ValueError(f"request style must be one of {REQUEST_STYLES}, got {style!r}")
    request = {"messages": messages, "tools": tools, "temperature": 0, "max_tokens": max_tokens}
    if structured_outputs is not None:
        from .structured import vllm_structured_outputs

        request["extra_body"] = vllm_structured_outputs(example.tools, structured_outputs)
    return request


def reply_text(message: dict[str, Any]) -> Generation:
    """The text our scoring reads for one reply (:attr:`ChatResult.message`).

    Returns:
        A :class:`~.generate.Generation` carrying the reply's ``finish_reason`` (``"length"``: the
        server stopped at ``max_tokens``): ``json.dumps([{"name", "arguments"}, ...])`` of the
        returned ``tool_calls``; ``"[]"`` when there are none and the content is empty; else the
        content as it is (read by the parsers of :mod:`.parse`, e.g. a fenced ``[]`` a server left
        as text).
    """
    reason = message.get("finish_reason")
    calls = message.get("tool_calls") or []
    if calls:
        text = json.dumps([{"name": c["name"], "arguments": c["arguments"]} for c in calls], ensure_ascii=False)
        return Generation(text, reason)
    content = message.get("content") or ""
    return Generation(content if content.strip() else "[]", reason)


def select_rows(bench: Benchmark, rows: Sequence[int], subset: str | None = None) -> Benchmark:
    """The benchmark restricted to ``rows`` (in that order), per-row ``extra`` lists included.

    Args:
        bench: the benchmark.
        rows: row indices to keep.
        subset: the new ``subset`` sentence (default: the old one).
    """
    extra = dict(bench.extra)
    for key in _ROW_KEYS:
        if isinstance(extra.get(key), list):
            extra[key] = [extra[key][i] for i in rows]
    if subset is not None:
        extra["subset"] = subset
    return replace(
        bench, examples=[bench.examples[i] for i in rows], golds=[bench.golds[i] for i in rows], extra=extra
    )


def endpoint_outputs(
    endpoint: ChatEndpoint,
    bench: Benchmark,
    style: str = "hammer",
    max_tokens: int = 256,
    progress: bool = True,
    structured_outputs: str | None = None,
) -> tuple[list[str | None], list[dict[str, Any]], list[dict[str, Any]]]:
    """Send every row of ``bench`` (requests of :func:`row_request`) and read the replies.

    Returns:
        ``(texts, failures, requests)``: per row the :func:`reply_text` (``None`` where the request
        failed); ``failures`` as ``[{"index": int, "id": str, "reason": "<code>: <detail>"}]``;
        the requests sent, per row.
    """
    requests = [
        row_request(ex, style, max_tokens=max_tokens, structured_outputs=structured_outputs) for ex in bench.examples
    ]
    results: list[ChatResult] = endpoint.complete(requests, desc=bench.name, progress=progress)
    ids = bench.extra.get("ids") or [str(i) for i in range(len(bench))]
    texts: list[str | None] = []
    failures: list[dict[str, Any]] = []
    for i, res in enumerate(results):
        if res.ok:
            texts.append(reply_text(res.message))
        else:
            texts.append(None)
            failures.append({"index": i, "id": str(ids[i]), "reason": f"{res.error}: {res.detail}"[:300]})
    return texts, failures, requests


def _request_benchmark(
    endpoint: ChatEndpoint, bench: Benchmark, request: dict[str, Any], progress: bool, replies: dict[str, str]
) -> tuple[Benchmark, dict[str, Any]]:
    """Send every row of ``bench`` (``request``: keyword arguments of :func:`endpoint_outputs`);
    store each reply in ``replies`` under its request's key.

    Returns ``(the benchmark cut to the answered rows, its subset sentence naming the failed
    rows; {"generation_seconds", "failed_requests", "failures"})``."""
    t0 = time.perf_counter()
    texts, failures, requests = endpoint_outputs(endpoint, bench, progress=progress, **request)
    ok = [i for i, t in enumerate(texts) if t is not None]
    subset = bench.subset
    if failures:
        rows = ", ".join(str(f["index"]) for f in failures[:20]) + (" ..." if len(failures) > 20 else "")
        subset += f"; {len(failures)} failed requests not scored (rows {rows})"
        logger.warning("%s: %d of %d requests failed: %s", bench.name, len(failures), len(bench), failures[:3])
    for i in ok:
        replies[_key(requests[i])] = texts[i]
    extra = {
        "generation_seconds": round(time.perf_counter() - t0, 3),
        "failed_requests": len(failures),
        "failures": failures,
    }
    return select_rows(bench, ok, subset), extra


def evaluate_endpoint(
    benchmarks: Sequence[str | Benchmark],
    config: EndpointConfig,
    *,
    style: str = "hammer",
    max_tokens: int = 256,
    limit: int | None = None,
    data_dir: str | Path | None = None,
    meta: dict | None = None,
    predictions_path: str | Path | None = None,
    progress: bool = True,
    endpoint: ChatEndpoint | None = None,
    structured_outputs: str | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> dict:
    """Score an OpenAI-compatible endpoint on benchmarks: the results of
    :func:`~.report.run_evaluation`, plus ``failed_requests`` and ``failures`` per benchmark.

    Rows whose request failed are left out of the scores (``n`` counts the rows scored; the
    ``subset`` sentence names the failed rows) and listed in ``failures``. ``meta`` gets
    ``backend: "openai"``, the endpoint's ``base_url`` and ``model``, the request ``style`` and the
    endpoint's ``usage`` (requests sent, failures by code, tokens); never the key.

    Args:
        benchmarks: names or loaded benchmarks.
        config: the endpoint (URL, model name, key variable, timeout, retries, concurrency, cache).
        style: request style (module docstring).
        max_tokens: generation limit per row.
        limit, data_dir: as :func:`~.benchmarks.load_benchmark`.
        meta: run description stored under ``"meta"``.
        predictions_path: JSON-lines file of every scored row (the request as ``prompt``).
        progress: show a progress bar per benchmark.
        endpoint: an existing :class:`ChatEndpoint` (default: one built from ``config``).
        structured_outputs: ``None``, or a mode of :data:`.structured.MODES`: each request asks a
            vLLM server to decode under the row's answer grammar (:func:`row_request`); recorded
            in ``meta``.
        count_tokens: the served model's ``text -> token count``; with it (request style
            ``hammer``, whose answer format the gold is written in) each benchmark also gets
            ``gold_over_token_limit`` (:func:`~.report.gold_over_token_limit` at ``max_tokens``).

    Returns:
        The results dict (``{"meta", "benchmarks": {name: {..., "generation_seconds",
        "failed_requests", "failures"}}}``).

    Raises:
        ValueError: unknown style or structured outputs mode; KeyError / FileNotFoundError: unknown
            or missing benchmark.
    """
    from .report import run_evaluation
    from .structured import check_mode

    if style not in REQUEST_STYLES:
        raise ValueError(f"request style must be one of {REQUEST_STYLES}, got {style!r}")
    if structured_outputs is not None:
        check_mode(structured_outputs)  # before any request is sent
    request = {"style": style, "max_tokens": max_tokens, "structured_outputs": structured_outputs}
    endpoint = endpoint or ChatEndpoint(config)
    t_start = time.perf_counter()
    scored: list[Benchmark] = []
    replies: dict[str, str] = {}
    extras: dict[str, dict[str, Any]] = {}
    for item in benchmarks:
        bench = item if isinstance(item, Benchmark) else load_benchmark(item, limit=limit, data_dir=data_dir)
        answered, extras[bench.name] = _request_benchmark(endpoint, bench, request, progress, replies)
        scored.append(answered)

    def render(example: Example) -> str:
        return _key(row_request(example, **request))

    def generate(prompts: list[str]) -> list[str]:
        return [replies[p] for p in prompts]

    run_meta = {
        **(meta or {}),
        "backend": "openai",
        "base_url": config.base_url,
        "model": (meta or {}).get("model") or config.model,
        "request_style": style,
        "max_new_tokens": max_tokens,
        "decoding": f"greedy, structured outputs {structured_outputs} (vLLM structured_outputs)"
        if structured_outputs
        else "greedy",
    }
    results = run_evaluation(
        scored,
        generate,
        render,
        limit=limit,
        meta=run_meta,
        predictions_path=predictions_path,
        count_tokens=count_tokens if style == "hammer" else None,
        max_new_tokens=max_tokens,
    )
    for name, extra in extras.items():
        results["benchmarks"][name].update(extra)
    results["meta"]["usage"] = endpoint.usage.to_dict()
    results["meta"]["wall_seconds"] = round(time.perf_counter() - t_start, 3)  # requests included
    return results


def _key(request: dict[str, Any]) -> str:
    """A row's request as canonical JSON: the "prompt" :func:`~.report.run_evaluation` records."""
    return json.dumps(request, ensure_ascii=False, sort_keys=True)
