"""Reading a generator's reply: JSON out of whatever the model wrote, or a named reason why not.

Every agent of the pipeline asks for JSON (or, for the final answer, plain text). A reply is
never trusted: it is parsed with :func:`json.loads` (never ``eval``), and a bad reply becomes a
:class:`BadReply` with one reason code that the report counts:

=================== =============================================================================
reason              the reply
=================== =============================================================================
``endpoint_<code>`` the request failed after the client's retries (``timeout``, ``connection``,
                    ``rate_limited``, ``server_error``, ``http_<status>``, ``bad_response``:
                    see :mod:`hammer_train.endpoint`)
``empty_reply``     no text and no tool call
``truncated``       the server stopped at ``max_tokens`` (``finish_reason == "length"``)
``refusal``         no JSON, and the text declines ("I'm sorry", "I cannot", "As an AI"...)
``not_json``        no JSON value of the expected kind in the text
=================== =============================================================================
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..endpoint import ChatResult


__all__ = ["BadReply", "reply_text", "parse_json_reply", "parse_text_reply", "extract_json"]

_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i can not|i am unable|i'?m unable|i won'?t|"
    r"as an ai|unfortunately,? i|i apologi[sz]e)",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


@dataclass
class BadReply(Exception):
    """A reply that cannot be used: ``reason`` is the counted code, ``detail`` a short excerpt."""

    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


def reply_text(result: ChatResult) -> str:
    """The reply's text content ("" when none). Raises :class:`BadReply` for a failed request."""
    if not result.ok or result.message is None:
        raise BadReply(f"endpoint_{result.error}", result.detail[:200])
    return result.message.get("content") or ""


def _decode_candidates(text: str) -> list[Any]:
    """JSON values found in ``text``: the whole text, each fenced block, then the span from the
    first ``{`` / ``[`` to the matching last ``}`` / ``]``."""
    out: list[Any] = []
    pieces = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            pieces.append(text[start : end + 1])
    for piece in pieces:
        if not piece:
            continue
        try:
            out.append(json.loads(piece))
        except json.JSONDecodeError:
            continue
    return out


def extract_json(text: str, kind: type | tuple[type, ...] = (dict, list)) -> Any:
    """The first JSON value of type ``kind`` in ``text`` (see :func:`_decode_candidates`), or
    ``None`` when there is none."""
    for value in _decode_candidates(text):
        if isinstance(value, kind):
            return value
    return None


def _check_finish(result: ChatResult, text: str) -> None:
    if not text.strip() and not (result.message or {}).get("tool_calls"):
        raise BadReply("empty_reply")
    if (result.message or {}).get("finish_reason") == "length":
        raise BadReply("truncated", text[-120:])


def parse_json_reply(result: ChatResult, kind: type | tuple[type, ...] = dict) -> Any:
    """The JSON value (of type ``kind``) a generator replied with.

    Args:
        result: one :class:`~hammer_train.endpoint.ChatResult`.
        kind: the expected JSON type(s), ``dict`` or ``list``.

    Returns:
        The decoded value.

    Raises:
        BadReply: see the module docstring for the reasons, checked in table order.
    """
    text = reply_text(result)
    _check_finish(result, text)
    value = extract_json(text, kind)
    if value is None:
        if _REFUSAL.match(text):
            raise BadReply("refusal", text[:120])
        raise BadReply("not_json", text[:120])
    return value


def parse_text_reply(result: ChatResult) -> str:
    """A plain-text reply (the final answer), stripped.

    Raises:
        BadReply: ``endpoint_<code>``, ``empty_reply`` or ``truncated``.
    """
    text = reply_text(result)
    _check_finish(result, text)
    return text.strip()
