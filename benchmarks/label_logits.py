"""One forward + backward at the CPU recipe's batch: LM head at every position (TRL) vs at the labels only (ours),
in fp32 and under bf16 autocast.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/label_logits.py [--recipe recipes/smollm2-135m.yaml] [--repeats 5]
        [--models smollm2,qwen2] [--output outputs/label_logits.json]

Batch: the two rows of the recipe's real built set (BFCL v4 live rows, dynamic masking epoch 0) whose
token lengths are closest to ``--target_length`` (600), right-padded by TRL's collator: a
``group_by_length`` micro-batch of ``per_device_train_batch_size`` 2. Models, each with the recipe's
LoRA adapter (r 16, alpha 32, all linear layers) and no activation checkpointing (the recipe's):

* ``smollm2``: SmolLM2-135M-Instruct (the recipe's model, tied head, vocabulary 49,152);
* ``qwen2``: a Qwen2-shaped model with random weights built from a config: Qwen2.5's vocabulary
  (151,936, tied head as in Qwen2.5-0.5B / 1.5B), 2 layers, hidden 64. Throughput does not depend on
  the weights' values; the same token ids are fed.

Per model, the variants ``fp32 / full``, ``fp32 / labels``, ``bf16 / full``, ``bf16 / labels`` run in
turn (one warm-up round, then ``--repeats`` rounds) in one process: ``full`` is TRL 1.16's
``SFTTrainer.compute_loss`` (its fused LM head scores every position on a CPU), ``labels`` is
:class:`hammer_train.trainer.HammerSFTTrainer`'s. The time is ``compute_loss`` + ``backward`` (the
trainer's ``training_step`` less the optimizer); ``bf16`` wraps ``compute_loss`` in
``torch.autocast("cpu", dtype=torch.bfloat16)`` as accelerate does for ``bf16: true``. Reported:
medians (wall time, and this process's CPU time, which other jobs on a shared machine disturb less), and
ratios of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]
from throughput_setup import ARCHS  # noqa: E402


VARIANTS = (("fp32", "full"), ("fp32", "labels"), ("bf16", "full"), ("bf16", "labels"))


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--recipe", default=str(ROOT / "recipes" / "smollm2-135m.yaml"))
    p.add_argument("--models", default="smollm2,qwen2")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--target_length", type=int, default=600)
    p.add_argument("--rows_read", type=int, default=300, help="rows read per source to build the set from")
    p.add_argument("--output", default=str(ROOT / "outputs" / "label_logits.json"))
    return p.parse_args(argv)


def recipe_batch(args: argparse.Namespace, tokenizer, hargs, sft) -> dict[str, Any]:
    """The recipe's micro-batch of two real rows of about ``--target_length`` tokens."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from hammer_train.data import build_dataset

    for src in hargs.sources:
        src.max_rows = args.rows_read
    ds, _ = build_dataset(hargs, sft.seed, tokenizer=tokenizer, max_length=sft.max_length)
    lengths = ds.with_format(None)["length"]
    order = sorted(range(len(lengths)), key=lambda i: abs(lengths[i] - args.target_length))
    rows = [ds[i] for i in sorted(order[: sft.per_device_train_batch_size])]
    collate = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)
    return collate([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])


def build_model(name: str, model_path: str):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM

    if name == "smollm2":
        return AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    torch.manual_seed(0)
    config = Qwen2Config(**ARCHS["qwen2-tiny"])  # one definition of the shape, shared with train_throughput.py
    return Qwen2ForCausalLM(config)


def time_model(model, tokenizer, batch, mcfg, repeats: int, workdir: str) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer, get_peft_config

    from hammer_train.trainer import HammerSFTTrainer

    sft = SFTConfig(
        output_dir=workdir,
        use_cpu=True,
        bf16=False,
        report_to="none",
        activation_checkpointing=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        remove_unused_columns=False,
    )
    trainer = HammerSFTTrainer(
        model=model,
        args=sft,
        train_dataset=Dataset.from_dict({"input_ids": [[1, 2]], "labels": [[-100, 2]]}),
        processing_class=tokenizer,
        peft_config=get_peft_config(mcfg),
    )
    trainer.model.train()
    loss_fns = {"full": SFTTrainer.compute_loss, "labels": HammerSFTTrainer.compute_loss}
    times: dict[str, list[float]] = {f"{p}/{h}": [] for p, h in VARIANTS}
    cpu_times: dict[str, list[float]] = {f"{p}/{h}": [] for p, h in VARIANTS}
    losses: dict[str, float] = {}
    for round_ in range(repeats + 1):
        for precision, head in VARIANTS:
            trainer.model.zero_grad(set_to_none=True)
            autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
            t0, c0 = time.perf_counter(), time.process_time()
            with autocast:
                loss = loss_fns[head](trainer, trainer.model, dict(batch))
            loss.backward()
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            if round_:  # round 0 warms up
                times[f"{precision}/{head}"].append(elapsed)
                cpu_times[f"{precision}/{head}"].append(cpu)
            losses[f"{precision}/{head}"] = loss.item()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "median_s": med,
        "times_s": times,
        # this process's CPU seconds (all its threads): less sensitive than wall time to other jobs on the machine
        "median_cpu_s": {k: statistics.median(v) for k, v in cpu_times.items()},
        "cpu_times_s": cpu_times,
        "loss": losses,
        "speedup_labels_over_full": {p: med[f"{p}/full"] / med[f"{p}/labels"] for p in ("fp32", "bf16")},
        "speedup_bf16_over_fp32": {h: med[f"fp32/{h}"] / med[f"bf16/{h}"] for h in ("full", "labels")},
        "vocab": model.config.vocab_size,
        "hidden": model.config.hidden_size,
        "layers": model.config.num_hidden_layers,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import torch
    from transformers import AutoTokenizer

    from hammer_train.modeling import resolve_model
    from hammer_train.precision import CPUINFO, cpu_bf16_flags
    from hammer_train.recipe_parser import parse_recipe

    hargs, sft, mcfg = parse_recipe([args.recipe])
    model_path = resolve_model(mcfg.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    batch = recipe_batch(args, tokenizer, hargs, sft)
    mask, labels = batch["attention_mask"], batch["labels"]
    out: dict[str, Any] = {
        "batch": {
            "shape": list(batch["input_ids"].shape),
            "non_pad_tokens": int(mask.sum()),
            "label_tokens": int((labels != -100).sum()),
            "label_share_of_non_pad": round(int((labels != -100).sum()) / int(mask.sum()), 4),
        },
        "settings": {
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
            "cpu_bf16_flags": cpu_bf16_flags(CPUINFO.read_text()) if CPUINFO.is_file() else None,
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "load_avg_start": os.getloadavg(),
        },
        "models": {},
    }
    print(f"batch {out['batch']}, {torch.get_num_threads()} threads", file=sys.stderr)
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory(prefix="label_logits_") as tmp:
            res = time_model(build_model(name, model_path), tokenizer, batch, mcfg, args.repeats, tmp)
        out["models"][name] = res
        print(f"{name}: {json.dumps({k: res[k] for k in ('median_s', 'loss')})}", file=sys.stderr)
    out["settings"]["load_avg_end"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print("| model | precision | head at every position (s) | head at labels only (s) | speed-up |")
    print("|---|---|---|---|---|")
    for name, res in out["models"].items():
        for p in ("fp32", "bf16"):
            m = res["median_s"]
            print(
                f"| {name} | {p} | {m[f'{p}/full']:.3f} | {m[f'{p}/labels']:.3f} "
                f"| {res['speedup_labels_over_full'][p]:.2f}x |"
            )
    print(f"\nJSON: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
