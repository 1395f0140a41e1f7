"""Small pieces every stage shares: seeds, request dicts, content hashes, JSON-lines files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable


__all__ = ["derive_seed", "chat_request", "content_hash", "write_jsonl", "read_jsonl"]


def derive_seed(seed: int, *parts: Any) -> int:
    """A 31-bit seed from the run seed and a path of parts (stage, index...), by BLAKE2b, never
    Python's salted ``hash()``: the same run asks the same questions, so the cache answers them."""
    blob = json.dumps([seed, *parts], ensure_ascii=False, default=str).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big") % (2**31 - 1)


def chat_request(
    messages: list[dict[str, str]], *, seed: int, temperature: float, max_tokens: int, json_object: bool = False
) -> dict[str, Any]:
    """Keyword arguments of ``client.chat.completions.create`` (without the model): the messages,
    sampling settings and the request ``seed`` (vLLM, llama.cpp and OpenAI honour it), plus
    ``response_format={"type": "json_object"}`` when ``json_object`` (guided JSON on vLLM)."""
    req: dict[str, Any] = {"messages": messages, "temperature": temperature, "max_tokens": max_tokens, "seed": seed}
    if json_object:
        req["response_format"] = {"type": "json_object"}
    return req


def content_hash(messages: Any, tools: Any) -> str:
    """SHA-256 of a row's ``messages`` and ``tools`` (keys sorted): its identity in provenance and
    for removing duplicate dialogs."""
    blob = json.dumps({"messages": messages, "tools": tools}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> int:
    """Write ``rows`` as JSON lines (UTF-8), atomically (a temporary file renamed into place).
    Returns the number of rows written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def read_jsonl(path: str | Path) -> list[Any]:
    """Rows of a JSON-lines file.

    Raises:
        FileNotFoundError: no such file (the stage that writes it has not run).
        ValueError: a line that is not JSON, naming the file and line.
    """
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {lineno}: not valid JSON ({exc.msg})") from None
    return rows
