"""Loading the records of a source: local JSON / JSON-lines files read with :mod:`json` (a defect
named by file and line, an unreadable JSON line left out and listed), anything else through
``datasets``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ..schema import DataError


__all__ = ["SourceError", "Records", "read_json_lines", "load_records"]


class SourceError(ValueError):
    """A data file (or a whole source) that cannot be used at all: not JSON, not UTF-8 where no row
    can be dropped on its own, or no usable rows. The message names the file and, where there is
    one, the line and column or the byte offset."""


class Records(list):
    """The rows of a local JSON / JSON-lines file (a plain list), plus ``problems``: one
    :class:`DataError` per JSON line that could not be read (reason ``"not_utf8"`` or
    ``"broken_json_line"``, message naming the line), left out of the list.
    :func:`hammer_train.formats.read_source` counts them as dropped rows, or raises the first when
    strict."""

    def __init__(self, rows: Iterable[Any] = (), problems: Iterable[DataError] = ()):
        super().__init__(rows)
        self.problems: list[DataError] = list(problems)


_BOM = b"\xef\xbb\xbf"


def _where(data: bytes, offset: int) -> str:
    """``"line L, column C (byte B)"`` of a byte offset (column counted in bytes, from 1)."""
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column} (byte {offset})"


def _decode_document(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: {_where(data, exc.start)}: byte 0x{data[exc.start]:02x} is not UTF-8; the file is one JSON "
            "document, so no row can be dropped on its own (re-encode the file as UTF-8)"
        ) from None


def _parse_json_lines(data: bytes, path: Path) -> Records:
    """JSON lines, read line by line: a line that is not UTF-8 or not JSON becomes a problem (named by
    line) and the other lines are kept.

    Raises:
        SourceError: lines were present but none could be read (not JSON lines at all).
    """
    rows: list[Any] = []
    problems: list[DataError] = []
    start = len(_BOM) if data.startswith(_BOM) else 0
    for lineno, raw in enumerate(data[start:].split(b"\n"), 1):
        offset, start = start, start + len(raw) + 1
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"line {lineno}, byte {offset + exc.start}: 0x{raw[exc.start]:02x} is not UTF-8"
            problems.append(DataError("not_utf8", msg, source=str(path)))
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            msg = f"line {lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
            problems.append(DataError("broken_json_line", msg, source=str(path)))
    if problems and not rows:
        raise SourceError(f"{path}: no line could be read as JSON lines; first: {problems[0].message}")
    return Records(rows, problems)


def read_json_lines(path: str | Path) -> Records:
    """A JSON-lines file read line by line: the rows that parse, and in ``Records.problems`` one
    :class:`DataError` per line that is not UTF-8 or not JSON (named by line and byte / column).

    Raises:
        FileNotFoundError: no such file.
        SourceError: the file has lines but none of them could be read.
    """
    path = Path(path)
    return _parse_json_lines(path.read_bytes(), path)


def _read_json_file(path: Path) -> Records:
    """A ``.json`` file: one JSON list of rows, one JSON object (one row), or JSON lines.

    A file starting with ``[`` is one document: a defect is a :class:`SourceError` at its real line
    and column (or byte offset when not UTF-8). Otherwise, when its first line alone is JSON, it is
    JSON lines (a single object on one line is one row); else it is one object spread over lines,
    reported at its real line and column too (not at "line 1" of a JSON-lines reading).
    """
    data = path.read_bytes()
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    if body.lstrip()[:1] == b"[":
        text = _decode_document(body, path)
        try:
            return Records(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}, line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from None
    first = next((line for line in body.split(b"\n") if line.strip()), b"")
    if first and not _is_json(first):  # not JSON lines: one object spread over several lines
        text = _decode_document(body, path)
        try:
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}, line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from None
        if not isinstance(whole, dict):
            raise SourceError(f"{path}: expected a JSON list of rows or JSON lines, got {type(whole).__name__}")
        return Records([whole])
    rows = _parse_json_lines(data, path)
    if len(rows) == 1 and not rows.problems and not isinstance(rows[0], dict):
        raise SourceError(f"{path}: expected a JSON list of rows or JSON lines, got {type(rows[0]).__name__}")
    return rows


def _is_json(line: bytes) -> bool:
    """Whether one line parses as JSON (bytes that are not UTF-8 replaced: they are the line's
    problem, not a sign that the file is not JSON lines)."""
    try:
        json.loads(line.decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        return False
    return True


def load_records(
    path_or_hub_id: str | Path, split: str = "train", config: str | None = None
) -> Iterable[dict[str, Any]]:
    """Rows of a local file or a Hugging Face hub dataset, as plain dicts.

    Local ``.json`` (a JSON list, or JSON lines) and ``.jsonl`` are parsed with :mod:`json` directly,
    not through Arrow: Arrow pads heterogeneous nested tool specs with ``null`` keys (docs/design.md,
    "TRL and transformers traps"), which would change the specs. ``.parquet`` goes through
    ``datasets.load_dataset("parquet", data_files=...)`` (already Arrow-typed). Anything else (a hub
    id such as ``"Salesforce/xlam-function-calling-60k"``, or a local dataset folder) goes to
    ``datasets.load_dataset(path_or_hub_id, config, split=split)``.

    JSON lines are read line by line: a line that is not UTF-8 or not JSON is left out and listed
    in ``Records.problems`` (named by line), the other rows are kept.

    Returns:
        :class:`Records` (a list of dicts, local JSON) or a ``datasets.Dataset`` (iterating yields dicts).

    Raises:
        FileNotFoundError: a path with a ``.json`` / ``.jsonl`` / ``.parquet`` suffix that does not exist.
        SourceError: a local JSON file that is neither a JSON list, an object nor JSON lines, or one
            JSON list with a defect (named by line and column, or byte offset when not UTF-8).
    """
    path = Path(path_or_hub_id)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl", ".parquet") and not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    if suffix == ".json":
        return _read_json_file(path)
    if suffix == ".jsonl":
        return read_json_lines(path)

    import datasets  # heavy: only when needed

    if suffix == ".parquet":
        return datasets.load_dataset("parquet", data_files=str(path), split="train")
    return datasets.load_dataset(str(path_or_hub_id), config, split=split)
