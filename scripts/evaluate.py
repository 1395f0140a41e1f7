"""Evaluate a model (optionally with a LoRA adapter) on function-calling benchmarks, or merge results.

    python scripts/evaluate.py MODEL [--adapter DIR] --benchmarks sealtool,apibank_l1,bfcl_simple \\
        [--limit N] [--prompt_style hammer] [--batch_size 8] [--max_new_tokens 256] \\
        [--output results.json] [--predictions preds.jsonl] [--data_dir DIR] [--backend auto]
    python scripts/evaluate.py --merge a.json b.json ... [--labels base,lora] [--output table.md]

MODEL is anything ``hammer_train.modeling.resolve_model`` accepts (hub id, folder, ``.gguf``,
``pypi:<module>/<file>.gguf``). Results go to ``--output`` (JSON) and a markdown table next to it
(``.md``); the table is printed. Benchmarks: see ``--list``.
"""

import argparse
import logging
import sys
import time

from hammer_train.evaluation.benchmarks import BENCHMARKS, load_benchmark
from hammer_train.evaluation.report import merge_results, results_table, run_evaluation, write_results


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
        help="folder of Hammer's evaluation sets (default $HAMMER_EVAL_DATA or ../shared/data/hammer_eval)",
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
        help="with --adapter (a scripts/train.py output folder): add the scores to its eval_results.json and model card",
    )
    p.add_argument("--merge", nargs="+", metavar="RESULTS_JSON", help="merge results files into one comparison table")
    p.add_argument("--labels", help="with --merge: comma-separated run labels (default: file stems)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return p.parse_args(argv)


def _generate_fn(args):
    """(generate_fn, render_fn, backend) for the model."""
    import torch

    from hammer_train.evaluation.generate import (
        chat_renderer,
        transformers_generate_fn,
        vllm_available,
        vllm_generate_fn,
    )
    from hammer_train.modeling import load_model_and_tokenizer, resolve_model

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


def main(argv=None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    args = parse_args(argv)
    if args.list:
        for name, loader in BENCHMARKS.items():
            print(f"{name:24s} {loader.__doc__}")
        return 0
    if args.merge:
        labels = args.labels.split(",") if args.labels else None
        try:
            table = merge_results(args.merge, labels)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.output:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(table)
        print(table)
        return 0
    if not args.model:
        print("error: MODEL is required (or --merge / --list)", file=sys.stderr)
        return 2
    if args.update_card and not args.adapter:
        print("error: --update_card needs --adapter (the folder whose card gets the scores)", file=sys.stderr)
        return 2
    names = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in names if b not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    try:  # load the data first: a missing file should fail before the model loads
        benches = [load_benchmark(b, limit=args.limit, data_dir=args.data_dir) for b in names]
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
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
        from hammer_train.train import update_model_card

        print(f"model card: {update_model_card(args.adapter, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
