"""Evaluation benchmarks: a registry of loaders that give the rows, their gold and what scoring needs.

====================== ============================================================================
name                   rows
====================== ============================================================================
sealtool               Hammer's released Seal-Tools test set (``<data_dir>/sealtool.json``)
apibank_l1             Hammer's released API-Bank level-1 test set (``<data_dir>/apibank_l1.json``)
bfcl_simple            BFCL v4 ``simple_python`` (package ``bfcl-eval``)
bfcl_multiple          BFCL v4 ``multiple``
bfcl_parallel          BFCL v4 ``parallel``
bfcl_parallel_multiple BFCL v4 ``parallel_multiple``
bfcl_irrelevance       BFCL v4 ``irrelevance`` (gold: no call)
bfcl_live_simple       BFCL v4 ``live_simple``
bfcl_live_multiple     BFCL v4 ``live_multiple``
bfcl_live_irrelevance  BFCL v4 ``live_irrelevance`` (gold: no call)
sealtool_renamed       ``sealtool`` with every function and parameter name masked
apibank_l1_renamed     ``apibank_l1`` with every function and parameter name masked
bfcl_simple_renamed    ``bfcl_simple`` with every function and parameter name masked
sealtool_shuffled      ``sealtool`` with each row's tools in a random order (names kept)
apibank_l1_shuffled    ``apibank_l1`` with each row's tools in a random order
bfcl_multiple_shuffled ``bfcl_multiple`` with each row's tools in a random order
====================== ============================================================================

``<data_dir>`` is the ``data_dir`` argument (``--data_dir``), else the folder named by the
environment variable ``HAMMER_EVAL_DATA``; with neither, loading Seal-Tools or API-Bank is an error
naming both. The files are the Hammer authors' released test sets (``sealtool.json``,
``apibank_l1.json``), not shipped with this package.

A *renamed* benchmark shows the model the same rows with every function and parameter name
replaced by a random string (our masking: ``MaskingConfig(row_prob=1.0, function_prob=1,
parameter_prob=1, default_prob=0, shuffle_tools=False)``, seed :data:`RENAME_SEED`, row ``i``
masked with ``row_rng(seed, i, 0)`` where ``i`` is the row's position in the *full* set, so a
``--limit`` subset shows exactly the rows of a full run). Predictions are mapped back through each
row's :class:`~hammer_train.masking.InverseMap` and scored against the original gold, so
``plain - renamed`` measures how much a model leans on names instead of descriptions.

A *shuffled* benchmark keeps the names and shuffles each row's tools (:data:`SHUFFLE_CONFIG`, same
seed and row draws). Hammer's Seal-Tools set lists the gold tool first for 258 of its 294 calls
(API-Bank L1: 224 of 399; BFCL multiple: 73 of 200), so "always call the first tool" scores a
Seal-Tools function F1 of 0.91 on the first 100 rows and 0.22 on the same rows shuffled;
``plain - shuffled`` measures how much a model leans on that position.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..formats import SourceError, bfcl_data_dir, load_records, read_bfcl, read_hammer_eval, read_json_lines
from ..masking import InverseMap, MaskingConfig, mask_row
from ..schema import Example


__all__ = [
    "Benchmark",
    "BENCHMARKS",
    "BFCL_CATEGORIES",
    "RENAME_SEED",
    "RENAME_CONFIG",
    "SHUFFLE_CONFIG",
    "DATA_ENV",
    "hammer_eval_dir",
    "load_benchmark",
    "make_benchmark",
    "rename_benchmark",
    "shuffle_benchmark",
    "subset_statement",
]

RENAME_SEED = 20241004
"""Seed of the ``*_renamed`` benchmarks (fixed, so every run sees the same names)."""

RENAME_CONFIG = MaskingConfig(
    row_prob=1.0, function_prob=1.0, parameter_prob=1.0, default_prob=0.0, shuffle_tools=False
)
"""Masking of the ``*_renamed`` benchmarks: every function and parameter name, nothing else."""

SHUFFLE_CONFIG = MaskingConfig(
    row_prob=1.0, function_prob=0.0, parameter_prob=0.0, default_prob=0.0, shuffle_tools=True
)
"""Masking of the ``*_shuffled`` benchmarks: no names changed, only each row's tools shuffled."""

DATA_ENV = "HAMMER_EVAL_DATA"
"""Environment variable naming the folder of Hammer's evaluation sets."""

BFCL_CATEGORIES = {
    "bfcl_simple": "simple_python",
    "bfcl_multiple": "multiple",
    "bfcl_parallel": "parallel",
    "bfcl_parallel_multiple": "parallel_multiple",
    "bfcl_irrelevance": "irrelevance",
    "bfcl_live_simple": "live_simple",
    "bfcl_live_multiple": "live_multiple",
    "bfcl_live_irrelevance": "live_irrelevance",
}
"""Benchmark name -> BFCL v4 category."""

_HAMMER_EVAL = {"sealtool": "sealtool.json", "apibank_l1": "apibank_l1.json"}


@dataclass
class Benchmark:
    """One loaded benchmark (or a ``--limit`` subset of it).

    Attributes:
        name: registry name (``"sealtool"``, ``"bfcl_simple_renamed"``...).
        examples: the rows as shown to the model, in order (masked for a renamed benchmark).
        golds: per row the *original* gold calls, ``[{"name": str, "arguments": dict}, ...]``
            (``[]`` = the right answer is no call), values exactly as the source wrote them.
        extra: everything else scoring and reporting need (JSON-able except ``inverse``):

            * ``ids``: per row the source id (BFCL ``id``; the row index for Hammer's sets);
            * ``source``: the file or ``"bfcl:<category>"`` the rows came from;
            * ``total``: rows in the full benchmark; ``limit``: the limit applied (or ``None``);
            * ``subset``: a sentence stating which rows were used (:func:`subset_statement`);
            * ``reader_warnings``: reason -> count of rows kept although a gold check failed;
            * BFCL only: ``bfcl_category``, ``functions`` (per row the raw BFCL function specs)
              and ``possible_answers`` (per row BFCL's ``ground_truth``; ``None`` for irrelevance);
            * renamed and shuffled only: ``base`` (the plain benchmark's name), ``variant``
              (``"renamed"`` or ``"shuffled"``), ``rename_seed`` and ``inverse`` (per row an
              :class:`~hammer_train.masking.InverseMap`; empty maps for a shuffled benchmark).
    """

    name: str
    examples: list[Example]
    golds: list[list[dict]]
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def subset(self) -> str:
        """The sentence stating which rows are used."""
        return self.extra.get("subset") or subset_statement(len(self.examples), len(self.examples), None)

    @property
    def is_bfcl(self) -> bool:
        """True when BFCL's AST accuracy applies (``extra`` has ``bfcl_category``)."""
        return "bfcl_category" in self.extra

    @property
    def inverse(self) -> list[InverseMap] | None:
        """Per-row inverse maps of a renamed or shuffled benchmark, else ``None``."""
        return self.extra.get("inverse")


def subset_statement(n: int, total: int, limit: int | None) -> str:
    """``"all 294 rows"`` or ``"first 10 of 294 rows (--limit 10)"``."""
    if limit is None or n >= total:
        return f"all {total} rows"
    return f"first {n} of {total} rows (--limit {limit})"


def hammer_eval_dir(data_dir: str | Path | None = None) -> Path:
    """The folder holding Hammer's evaluation sets (``sealtool.json``, ``apibank_l1.json``).

    Args:
        data_dir: explicit folder (``--data_dir``); else the folder in ``$HAMMER_EVAL_DATA``.

    Returns:
        The folder (not checked for existence; the loaders check the file they need).

    Raises:
        FileNotFoundError: neither ``data_dir`` nor ``$HAMMER_EVAL_DATA`` is given; the message
            names both.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    raise FileNotFoundError(
        "Hammer's evaluation sets (sealtool.json, apibank_l1.json) need their folder: pass --data_dir DIR "
        f"or set {DATA_ENV}=DIR (the Hammer authors' test sets, data/test/original/ of "
        "https://github.com/MadeAgents/Hammer; not shipped with hammer-train)"
    )


def _gold(example: Example) -> list[dict]:
    return [{"name": a.name, "arguments": a.arguments} for a in example.answers]


def make_benchmark(
    name: str, examples: list[Example], ids: list[str] | None = None, *, limit: int | None = None, **extra: Any
) -> Benchmark:
    """Build a :class:`Benchmark` from examples (first ``limit`` rows), golds taken from the answers.

    Args:
        name: benchmark name.
        examples: all rows of the benchmark, in order.
        ids: per row ids (default: the row positions as strings).
        limit: keep the first ``limit`` rows (``None``: all).
        **extra: more ``extra`` entries; list-valued entries that are parallel to ``examples``
            (``functions``, ``possible_answers``) must be passed already cut to the limit.

    Raises:
        ValueError: ``limit`` is negative, or ``ids`` is not parallel to ``examples``.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    total = len(examples)
    if ids is None:
        ids = [str(i) for i in range(total)]
    if len(ids) != total:
        raise ValueError(f"{len(ids)} ids for {total} examples")
    rows = examples if limit is None else examples[:limit]
    ex = dict(extra)
    ex.setdefault("source", name)
    ex.update(ids=list(ids[: len(rows)]), total=total, limit=limit, subset=subset_statement(len(rows), total, limit))
    return Benchmark(name=name, examples=list(rows), golds=[_gold(e) for e in rows], extra=ex)


def rename_benchmark(bench: Benchmark, seed: int = RENAME_SEED, name: str | None = None) -> Benchmark:
    """The renamed variant of a benchmark: every function and parameter name masked.

    Row ``i`` is masked with :data:`RENAME_CONFIG` and ``mask_row(example, config, seed, i, 0)``;
    the golds stay the original ones and ``extra["inverse"]`` holds the maps back.

    Args:
        bench: the plain benchmark (any subset: row ``i`` is masked the same whatever the limit).
        seed: masking seed.
        name: name of the result (default ``bench.name + "_renamed"``).

    Raises:
        ValueError: from :func:`~hammer_train.masking.mask_example` (a row that cannot be masked).
    """
    return _variant(bench, RENAME_CONFIG, "renamed", seed, name)


def shuffle_benchmark(bench: Benchmark, seed: int = RENAME_SEED, name: str | None = None) -> Benchmark:
    """The shuffled variant of a benchmark: real names, each row's tools in a random order.

    Row ``i`` is masked with :data:`SHUFFLE_CONFIG` (only the shuffle applies) and
    ``mask_row(example, config, seed, i, 0)``; golds and names are unchanged. Against the plain
    benchmark it shows how much a model relies on where the gold tool sits in the list.

    Args:
        bench: the plain benchmark (any subset: row ``i`` is shuffled the same whatever the limit).
        seed: shuffle seed.
        name: name of the result (default ``bench.name + "_shuffled"``).
    """
    return _variant(bench, SHUFFLE_CONFIG, "shuffled", seed, name)


def _variant(bench: Benchmark, config: MaskingConfig, variant: str, seed: int, name: str | None) -> Benchmark:
    masked = [mask_row(ex, config, seed, i, 0) for i, ex in enumerate(bench.examples)]
    extra = dict(bench.extra)
    extra.update(base=bench.name, variant=variant, rename_seed=seed, inverse=[m.inverse for m in masked])
    return Benchmark(
        name=name or f"{bench.name}_{variant}",
        examples=[m.example for m in masked],
        golds=[list(g) for g in bench.golds],
        extra=extra,
    )


# --------------------------------------------------------------------------- loaders


def _load_hammer_eval(key: str, limit: int | None, data_dir: str | Path | None) -> Benchmark:
    folder = hammer_eval_dir(data_dir)
    path = folder / _HAMMER_EVAL[key]
    if not path.is_file():
        raise FileNotFoundError(
            f"benchmark {key!r}: {path} does not exist. Hammer's released test sets (sealtool.json, "
            f"apibank_l1.json) are read from the folder given by --data_dir, else by ${DATA_ENV}"
        )
    records = load_records(path)
    res = read_hammer_eval(records, source=key, validate=False)
    problems = [str(p) for p in getattr(records, "problems", [])] + res.errors
    if problems or res.n_dropped:  # scores over a part of the set would not be comparable
        raise SourceError(f"benchmark {key!r}: rows of {path} could not be read: {problems[:3]}")
    return make_benchmark(
        key, res.examples, res.ids, limit=limit, source=_portable(path), reader_warnings=dict(res.warnings)
    )


def _portable(path: Path) -> str:
    """``path`` as written into results files: relative to the working directory when it can be
    (``../shared/data/hammer_eval/sealtool.json``), so results name no user's home or machine."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path.name


def _json_lines_by_id(path: Path) -> dict[str, dict]:
    """BFCL rows by id (lines that cannot be read were already reported by :func:`read_bfcl`)."""
    return {str(rec["id"]): rec for rec in read_json_lines(path) if isinstance(rec, dict) and "id" in rec}


def _load_bfcl(key: str, limit: int | None) -> Benchmark:
    category = BFCL_CATEGORIES[key]
    root = bfcl_data_dir()
    res = read_bfcl(category, data_dir=root, validate=False)
    if res.n_dropped:
        raise SourceError(f"benchmark {key!r}: {res.n_dropped} BFCL rows could not be read: {res.errors[:3]}")
    n = len(res.examples) if limit is None else min(limit, len(res.examples))
    ids = res.ids[:n]
    raw = _json_lines_by_id(root / f"BFCL_v4_{category}.json")
    functions = [raw[i]["function"] for i in ids]
    answer_file = root / "possible_answer" / f"BFCL_v4_{category}.json"
    if answer_file.is_file():
        answers = _json_lines_by_id(answer_file)
        possible = [answers[i]["ground_truth"] for i in ids]
    else:  # irrelevance categories: the answer is no call
        possible = [None] * n
    return make_benchmark(
        key,
        res.examples,
        res.ids,
        limit=limit,
        source=f"bfcl:{category}",
        bfcl_category=category,
        functions=functions,
        possible_answers=possible,
        reader_warnings=dict(res.warnings),
    )


def _hammer_loader(key: str) -> Callable[..., Benchmark]:
    def load(limit: int | None = None, data_dir: str | Path | None = None, seed: int = RENAME_SEED) -> Benchmark:
        return _load_hammer_eval(key, limit, data_dir)

    load.__doc__ = f"Load {key!r} from Hammer's released test sets (see :func:`hammer_eval_dir`)."
    return load


def _bfcl_loader(key: str) -> Callable[..., Benchmark]:
    def load(limit: int | None = None, data_dir: str | Path | None = None, seed: int = RENAME_SEED) -> Benchmark:
        return _load_bfcl(key, limit)

    load.__doc__ = f"Load {key!r} (BFCL v4 {BFCL_CATEGORIES[key]}) from the bfcl-eval package."
    return load


def _variant_loader(base: str, make: Callable[..., Benchmark], what: str) -> Callable[..., Benchmark]:
    def load(limit: int | None = None, data_dir: str | Path | None = None, seed: int = RENAME_SEED) -> Benchmark:
        return make(BENCHMARKS[base](limit=limit, data_dir=data_dir), seed=seed)

    load.__doc__ = f"Load {base!r} with {what} (see :func:`{make.__name__}`)."
    return load


BENCHMARKS: dict[str, Callable[..., Benchmark]] = {
    **{k: _hammer_loader(k) for k in _HAMMER_EVAL},
    **{k: _bfcl_loader(k) for k in BFCL_CATEGORIES},
}
"""Benchmark name -> loader ``(limit=None, data_dir=None, seed=RENAME_SEED) -> Benchmark``."""
for _base in ("sealtool", "apibank_l1", "bfcl_simple"):
    BENCHMARKS[f"{_base}_renamed"] = _variant_loader(
        _base, rename_benchmark, "every function and parameter name masked"
    )
for _base in ("sealtool", "apibank_l1", "bfcl_multiple"):
    BENCHMARKS[f"{_base}_shuffled"] = _variant_loader(_base, shuffle_benchmark, "each row's tools shuffled")
del _base


def load_benchmark(
    name: str, limit: int | None = None, data_dir: str | Path | None = None, seed: int = RENAME_SEED
) -> Benchmark:
    """Load a registered benchmark.

    Args:
        name: a key of :data:`BENCHMARKS`.
        limit: keep the first ``limit`` rows (``None``: all); the result's ``subset`` says so.
        data_dir: folder of Hammer's evaluation sets (see :func:`hammer_eval_dir`); unused by BFCL.
        seed: masking seed of the ``*_renamed`` and ``*_shuffled`` benchmarks.

    Returns:
        A :class:`Benchmark`.

    Raises:
        KeyError: unknown name (the message lists the known ones).
        FileNotFoundError: the data is absent (names the path, or says to install ``bfcl-eval``).
        ValueError: a negative limit, or rows that cannot be read.
    """
    if name not in BENCHMARKS:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name](limit=limit, data_dir=data_dir, seed=seed)
