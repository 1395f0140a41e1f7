"""Evaluate a model (optionally with a LoRA adapter) on function-calling benchmarks, or merge results.

    hammer-train evaluate MODEL [--adapter DIR] --benchmarks sealtool,apibank_l1,bfcl_simple \\
        [--limit N] [--prompt_style hammer] [--batch_size 8] [--max_new_tokens 256] \\
        [--output results.json] [--predictions preds.jsonl] [--data_dir DIR] [--backend auto]
    hammer-train evaluate --merge a.json b.json ... [--labels base,lora] [--output table.md]

MODEL is anything ``hammer_train.modeling.resolve_model`` accepts (hub id, folder, ``.gguf``,
``pypi:<module>/<file>.gguf``). Results go to ``--output`` (JSON) and a markdown table next to it
(``.md``); the table is printed. Benchmarks: see ``--list``. Seal-Tools and API-Bank are read from
Hammer's released test sets in ``--data_dir`` or ``$HAMMER_EVAL_DATA``; BFCL from the ``bfcl-eval``
package.
"""

from __future__ import annotations

import argparse
import time

from ._common import UsageError, setup_logging, user_errors


__all__ = ["make_parser", "main"]

PROG = "hammer-train evaluate"


def make_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The ``hammer-train evaluate`` argument parser."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("model", nargs="?", help="model: hub id, folder, .gguf, or pypi:<module>/<file>.gguf")
    p.add_argument("--adapter", help="PEFT LoRA adapter folder")
    p.add_argument("--benchmarks", default="sealtool,apibank_l1,bfcl_simple", help="comma-separated benchmark names")
    p.add_argument("--limit", type=int, help="first N rows of each benchmark")
    p.add_argument("--prompt_style", default="hammer", choices=["hammer", "native"])
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--max_new_tokens", type=int, default=256)
    p.add_argument("--output", help="results JSON (markdown written next to it); with --merge: the table file")
    p.add_argument("--predictions", help="JSON-lines file of every prompt, output and parsed call")
    p.add_argument(
        "--data_dir",
        help="folder of Hammer's evaluation sets sealtool.json, apibank_l1.json (default: $HAMMER_EVAL_DATA)",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "transformers", "vllm"],
        help="auto: vLLM when installed and a GPU is present, else transformers",
    )
    p.add_argument("--dtype", default="auto", help="torch dtype for transformers (auto, float32, bfloat16...)")
    p.add_argument(
        "--update_card",
        action="store_true",
        help="with --adapter (a hammer-train train output folder): add the scores to its eval_results.json and model card",
    )
    p.add_argument("--merge", nargs="+", metavar="RESULTS_JSON", help="merge results files into one comparison table")
    p.add_argument("--labels", help="with --merge: comma-separated run labels (default: file stems)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return p


def _generate_fn(args):
    """(generate_fn, render_fn, backend) for the model."""
    import torch

    from ..evaluation.generate import (
        chat_renderer,
        transformers_generate_fn,
        vllm_available,
        vllm_generate_fn,
    )
    from ..modeling import load_model_and_tokenizer, resolve_model

    backend = args.backend
    if backend == "auto":
        backend = "vllm" if vllm_available() and torch.cuda.is_available() else "transformers"
    if backend == "vllm":
        from transformers import AutoTokenizer

        path = resolve_model(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.adapter if args.adapter else path)
        fn = vllm_generate_fn(path, adapter=args.adapter, max_new_tokens=args.max_new_tokens)
        return fn, chat_renderer(tokenizer, args.prompt_style), backend
    model, tokenizer = load_model_and_tokenizer(args.model, adapter=args.adapter, dtype=args.dtype)
    if torch.cuda.is_available():
        model.to("cuda")
    fn = transformers_generate_fn(model, tokenizer, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
    return fn, chat_renderer(tokenizer, args.prompt_style), backend


def _environment() -> dict:
    """Where the numbers were measured (timings depend on it)."""
    import os
    import platform

    import torch
    import transformers

    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({platform.processor() or platform.machine()})"
    )
    return {
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _merge(args: argparse.Namespace) -> int:
    from ..evaluation.report import merge_results

    labels = args.labels.split(",") if args.labels else None
    try:
        table = merge_results(args.merge, labels)
    except ValueError as exc:  # a results file that is not one, or labels of another length
        raise UsageError(str(exc)) from None
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(table)
    print(table)
    return 0


def _check_arguments(args: argparse.Namespace, known: list[str]) -> list[str]:
    """The benchmark names; raises :class:`UsageError` for a missing model or an unknown name."""
    if not args.model:
        raise UsageError("MODEL is required (or --merge / --list)")
    if args.update_card and not args.adapter:
        raise UsageError("--update_card needs --adapter (the folder whose card gets the scores)")
    names = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in names if b not in known]
    if unknown:
        raise UsageError(f"--benchmarks: unknown {unknown}; known: {', '.join(known)}")
    return names


@user_errors
def main(argv: list[str] | None = None) -> int:
    """``hammer-train evaluate``: 0, or 2 for a user's mistake (one line)."""
    args = make_parser().parse_args(argv)
    setup_logging()
    from ..evaluation.benchmarks import BENCHMARKS, load_benchmark
    from ..evaluation.report import results_table, run_evaluation, write_results

    if args.list:
        for name, loader in BENCHMARKS.items():
            print(f"{name:24s} {loader.__doc__}")
        return 0
    if args.merge:
        return _merge(args)
    names = _check_arguments(args, list(BENCHMARKS))
    # the data and the model are checked first: a missing file fails before the model loads
    benches = [load_benchmark(b, limit=args.limit, data_dir=args.data_dir) for b in names]
    from ..checks import check_model

    t0 = time.perf_counter()  # load time includes a first GGUF de-quantization, as before
    check_model(args.model, field="MODEL", error=UsageError)
    generate_fn, render_fn, backend = _generate_fn(args)
    meta = {
        "model": args.model,
        "adapter": args.adapter,
        "prompt_style": args.prompt_style,
        "backend": backend,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "decoding": "greedy",
        "limit": args.limit,
        "load_seconds": round(time.perf_counter() - t0, 3),
        **_environment(),
    }
    results = run_evaluation(
        benches, generate_fn, render_fn, limit=args.limit, meta=meta, predictions_path=args.predictions
    )
    output = args.output or "results.json"
    json_path, md_path = write_results(results, output)
    print(results_table(results))
    print(
        f"results: {json_path}, table: {md_path}" + (f", predictions: {args.predictions}" if args.predictions else "")
    )
    if args.update_card:  # --adapter is required with it (checked above)
        from ..train import update_model_card

        print(f"model card: {update_model_card(args.adapter, results)}")
    return 0
