"""Readers: source rows -> :class:`~hammer_train.schema.Example`, with an accounting of every drop.

========== ============================================================ =========================
format     source                                                       reader
========== ============================================================ =========================
xlam       xLAM 60k, Hammer's XLAM-7.5k-Irrelevance                     :func:`read_xlam`
hammer_eval Hammer's released test sets (Seal-Tools, API-Bank...)       :func:`read_hammer_eval`
sharegpt   LLaMA-Factory ShareGPT tool calling (Glaive)                 :func:`read_sharegpt`
openai     OpenAI chat ``messages`` + ``tools``                         :func:`read_openai`
bfcl       BFCL v4 single-turn categories (package ``bfcl-eval``)        :func:`read_bfcl`
========== ============================================================ =========================

Every reader returns a :class:`ReadResult`: ``examples``, ``ids``, ``rows_read``, ``candidates``,
``dropped`` (reason -> count), ``warnings`` and the first few messages. With ``strict=True`` the
first bad row raises :class:`~hammer_train.errors.DataError` naming the row and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ._common import ReadResult
from ._files import Records, SourceError, load_records, read_json_lines
from .bfcl import bfcl_data_dir, read_bfcl
from .hammer_eval import read_hammer_eval
from .openai import read_openai
from .sharegpt import read_sharegpt
from .xlam import read_xlam


__all__ = [
    "READERS",
    "ReadResult",
    "Records",
    "SourceError",
    "read_source",
    "load_records",
    "read_json_lines",
    "bfcl_data_dir",
    "read_xlam",
    "read_hammer_eval",
    "read_sharegpt",
    "read_openai",
    "read_bfcl",
]

READERS: dict[str, Callable[..., ReadResult]] = {
    "xlam": read_xlam,
    "hammer_eval": read_hammer_eval,
    "sharegpt": read_sharegpt,
    "openai": read_openai,
    "bfcl": read_bfcl,
}
"""Format name -> reader. All but ``bfcl`` take an iterable of records as first argument."""


def _default_source(path_or_id: str) -> str:
    p = Path(path_or_id)
    if p.suffix.lower() in (".json", ".jsonl", ".parquet"):
        return p.stem
    return str(path_or_id)


def read_source(
    format: str,
    path_or_id: str | Path,
    *,
    split: str = "train",
    config: str | None = None,
    strict: bool = False,
    kind: str | None = None,
    **kw: Any,
) -> ReadResult:
    """Load a source with :func:`load_records` and read it with ``READERS[format]``.

    Args:
        format: a key of :data:`READERS`.
        path_or_id: a local ``.json`` / ``.jsonl`` / ``.parquet`` file, a hub dataset id, or for
            ``bfcl`` a category name or comma-separated list (``"live_simple,live_multiple"``).
        split, config: passed to ``datasets.load_dataset`` for hub ids (ignored for bfcl).
        strict: raise the first :class:`~hammer_train.errors.DataError` instead of dropping.
        kind: force ``Example.kind`` (``xlam`` only). For ``xlam`` an id or path containing
            "irrelevance" (``MadeAgents/XLAM-7.5k-Irrelevance``) defaults to ``"irrelevance"``.
        **kw: passed to the reader (``source=``, ``validate=``; for bfcl ``data_dir=``,
            ``with_answers=``). ``source`` defaults to the file stem or the hub id.

    Raises:
        KeyError: unknown format.
        TypeError: ``kind`` given for a format other than ``xlam``.
        FileNotFoundError, SourceError: see :func:`load_records` and :func:`read_bfcl`.
        DataError: only when ``strict``; also for a JSON line that is not UTF-8 or not JSON
            (``not_utf8`` / ``broken_json_line``, named by file and line), which is otherwise
            dropped and counted like a bad row.
    """
    if format not in READERS:
        raise KeyError(f"unknown format {format!r}; known: {', '.join(READERS)}")
    if format == "bfcl":
        if kind is not None:
            raise TypeError("kind is set by the BFCL category, not by the caller")
        return read_bfcl(str(path_or_id), strict=strict, **kw)
    records = load_records(path_or_id, split=split, config=config)
    problems = getattr(records, "problems", [])
    if strict and problems:
        raise problems[0]
    kw.setdefault("source", _default_source(str(path_or_id)))
    if format == "xlam":
        if kind is None and "irrelevance" in str(path_or_id).lower():
            kind = "irrelevance"
        result = read_xlam(records, strict=strict, kind=kind, **kw)
    elif kind is not None:
        raise TypeError(f"kind is only accepted for the xlam format, not {format!r}")
    else:
        result = READERS[format](records, strict=strict, **kw)
    for err in problems:  # lines of the file that could not be read: dropped rows
        result.rows_read += 1
        result.drop(err.reason, str(err))
    return result
