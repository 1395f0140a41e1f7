"""One configuration of ``benchmarks/train_throughput.py``, trained in its own process (``--_one CONFIG``).

The configurations are described in ``train_throughput.py``'s docstring; this module builds each one's
``SFTConfig`` and trainer, counts the tokens of every batch trained on, times the optimizer steps and
returns tokens/s, FLOP/s (``throughput_flops``) and peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from throughput_flops import flop_spec, training_flops
from throughput_setup import read_recipe


__all__ = ["CONFIGS", "DESCRIPTIONS", "run_one"]

DESCRIPTIONS = {
    "A": "plain TRL SFTTrainer, SFTConfig defaults",
    "B": "our data path, A's settings",
    "C": "our pipeline, recipe settings (TRL's loss)",
    "D": "C + logits only at labels + bf16: auto",
    "Q": "C, base in 4-bit nf4 (QLoRA), recipe dtype",
    "Qb": "C, base in 4-bit nf4 (QLoRA), dtype bfloat16",
    "Dh": "D, our trimmed head forced (also where TRL's Triton head trims)",
    "F": "C, full logits (transformers' loss)",
    "L": "C + use_liger_kernel (layer kernels)",
    "FL": "F + Liger fused linear cross entropy",
}
CONFIGS = tuple(DESCRIPTIONS)
PLAIN = ("A", "B")  # plain TRL SFTTrainer and SFTConfig; the others are HammerSFTTrainer with the recipe's settings
# QLoRA as a user asks for it on the command line (bitsandbytes; nested quantization as in hammer1.5b-qlora)
QLORA = ["--load_in_4bit", "true", "--bnb_4bit_quant_type", "nf4", "--use_bnb_nested_quant", "true"]


def _recipe_overrides(cfg: str, args: argparse.Namespace, out_dir: str, cuda: bool) -> list[str]:
    import yaml

    overrides = ["--max_steps", str(1 + args.steps), "--output_dir", out_dir, "--save_strategy", "no"]
    overrides += ["--report_to", "none", "--disable_tqdm", "true", "--use_cpu", "false" if cuda else "true"]
    if cfg in ("D", "Dh"):
        return overrides + ["--label_logits_only", "true", "--bf16", "auto"]
    overrides += ["--label_logits_only", "false"]
    if str((yaml.safe_load(Path(args.recipe).read_text()) or {}).get("bf16", "")).lower() == "auto":
        overrides += ["--bf16", "false"]  # C is the pipeline before issue 26: bf16: auto reads as false
    if cfg in ("Q", "Qb"):
        overrides += QLORA + (["--dtype", "bfloat16"] if cfg == "Qb" else [])
    return overrides


def _plain_config(recipe_sft, args: argparse.Namespace, out_dir: str, cuda: bool, cfg: str):
    from trl import SFTConfig

    plain = dict(
        output_dir=out_dir,
        # the recipe's rows per optimizer step, in one micro-batch (what a hand-written script does)
        per_device_train_batch_size=recipe_sft.per_device_train_batch_size * recipe_sft.gradient_accumulation_steps,
        gradient_accumulation_steps=1,
        learning_rate=recipe_sft.learning_rate,
        max_length=recipe_sft.max_length,
        seed=recipe_sft.seed,
        max_steps=1 + args.steps,
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
    return SFTConfig(**plain)


def _trainer_class(cfg: str, counts: dict[int, list[int]]):
    """The trainer of a configuration, counting the tokens of each batch it trains on."""
    import transformers
    from trl import SFTTrainer

    from hammer_train.trainer import HammerSFTTrainer

    class Counting(SFTTrainer if cfg in PLAIN else HammerSFTTrainer):
        def training_step(self, model, inputs, *a, **kw):
            ids, mask, labels = inputs["input_ids"], inputs.get("attention_mask"), inputs["labels"]
            c = counts.setdefault(self.state.global_step, [0, 0, 0, 0, 0])
            c[0] += ids.numel()
            c[1] += int(mask.sum()) if mask is not None else ids.numel()
            c[2] += int((labels != -100).sum())
            c[3] += int((labels[:, 1:] != -100).sum())  # positions whose next token has a label
            c[4] += ids.shape[0] * ids.shape[1] ** 2
            return super().training_step(model, inputs, *a, **kw)

        if cfg in ("F", "FL"):

            def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
                # the model's own loss over the full logits (Liger's fused one in FL), as transformers computes it
                inputs = {**inputs, "use_cache": False}
                return transformers.Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

    return Counting


def _configure(args: argparse.Namespace, cfg: str, cuda: bool) -> SimpleNamespace:
    """Recipes, ``SFTConfig``, tokenizer, rows and callbacks of configuration ``cfg``."""
    import torch
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    from hammer_train.data import EpochCallback, MaskingTransform
    from hammer_train.recipe_parser import parse_recipe
    from hammer_train.train import _model_init_kwargs

    workdir = Path(args._workdir)
    meta = json.loads((workdir / "meta.json").read_text())
    rows_dir = Path(meta["rows_dir"])
    out_dir = str(workdir / f"run_{cfg}")
    hargs, data_sft, _ = read_recipe(args.data_recipe or args.recipe)  # masking and prompt of the rows
    run_args, recipe_sft, mcfg = parse_recipe([args.recipe, *_recipe_overrides(cfg, args, out_dir, cuda)])
    tokenizer = AutoTokenizer.from_pretrained(str(rows_dir / "tokenizer"))
    dynamic = cfg != "A" and hargs.masking_mode == "dynamic"
    if cfg in PLAIN:
        sft = _plain_config(recipe_sft, args, out_dir, cuda, cfg)
    else:
        sft = recipe_sft
        sft.model_init_kwargs = _model_init_kwargs(sft, mcfg)
        if dynamic:
            sft.dataset_kwargs = {**(sft.dataset_kwargs or {}), "skip_prepare_dataset": True}
            sft.remove_unused_columns = False
        sft.use_liger_kernel = cfg in ("L", "FL")
    callbacks: list[Any] = []
    train_ds = load_from_disk(str(rows_dir / ("plain" if cfg == "A" else "ours")))
    if dynamic:
        epoch_tensor = torch.zeros((), dtype=torch.int64).share_memory_()
        train_ds = train_ds.with_transform(
            MaskingTransform(hargs, tokenizer, data_sft.seed, recipe_sft.max_length, epoch_tensor)
        )
        callbacks.append(EpochCallback(epoch_tensor))
    return SimpleNamespace(
        meta=meta, run_args=run_args, mcfg=mcfg, sft=sft, tokenizer=tokenizer, train_ds=train_ds, callbacks=callbacks
    )


def _liger_refusal(trainer_cls, ctx: SimpleNamespace, peft_config) -> str:
    """Ask TRL for Liger's fused linear cross entropy (configuration L); return what it answered."""
    import copy
    import gc

    probe = copy.deepcopy(ctx.sft)
    probe.use_liger_kernel, probe.liger_kernel_config = True, {"fused_linear_cross_entropy": True}
    kwargs = dict(train_dataset=ctx.train_ds, processing_class=ctx.tokenizer, peft_config=peft_config)
    try:
        trainer_cls(model=ctx.meta["model_path"], args=probe, **kwargs)
        answer = "TRL accepted liger_kernel_config={'fused_linear_cross_entropy': True}"
    except ValueError as err:
        answer = f"TRL refused liger_kernel_config={{'fused_linear_cross_entropy': True}}: {err}"
    gc.collect()
    return answer


def _train(cfg: str, ctx: SimpleNamespace, cuda: bool) -> SimpleNamespace:
    """Build the trainer (peak memory counted from here) and train; per-step token counts and end times."""
    import torch
    from transformers import TrainerCallback
    from trl import get_peft_config, get_quantization_config

    counts: dict[int, list[int]] = {}  # global_step (before the step) -> [total, nonpad, label, head, batch*seq^2]
    step_end: dict[int, float] = {}

    class Timer(TrainerCallback):
        def on_step_end(self, a, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            step_end[state.global_step] = time.perf_counter()

    trainer_cls = _trainer_class(cfg, counts)
    kwargs: dict[str, Any] = {}
    if cfg not in PLAIN:
        kwargs = dict(
            label_logits_only=ctx.run_args.label_logits_only, quantization_config=get_quantization_config(ctx.mcfg)
        )
    notes = [_liger_refusal(trainer_cls, ctx, get_peft_config(ctx.mcfg))] if cfg == "L" else []
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    trainer = trainer_cls(
        model=ctx.meta["model_path"],
        args=ctx.sft,
        train_dataset=ctx.train_ds,
        processing_class=ctx.tokenizer,
        peft_config=get_peft_config(ctx.mcfg),
        callbacks=[*ctx.callbacks, Timer()],
        **kwargs,
    )
    if cfg == "FL":  # TRL turned Liger's fused linear cross entropy off; transformers applies it at train start
        trainer.args.liger_kernel_config = {"fused_linear_cross_entropy": True}
    setup_s = time.perf_counter() - t0
    trainer.train()
    return SimpleNamespace(trainer=trainer, counts=counts, step_end=step_end, setup_s=setup_s, notes=notes)


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    """Train configuration ``args._one`` for ``1 + args.steps`` optimizer steps; its measurements.

    Returns:
        ``{"config", "skipped"}`` (L / FL without ``liger-kernel``; L then still records TRL's answer to
        Liger's fused linear cross entropy), or tokens, tokens/s, FLOPs, FLOP/s,
        precision, where the LM head ran, peak memory and settings.

    Raises:
        RuntimeError: fewer than 2 optimizer steps ran.
    """
    import importlib.util

    import torch

    import hammer_train.trainer as hammer_trainer

    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    cfg = args._one
    if cfg in ("L", "FL") and importlib.util.find_spec("liger_kernel") is None:
        skipped = "liger-kernel is not installed"
        if cfg == "L":  # TRL's answer to Liger's fused linear cross entropy needs no Liger: ask anyway
            from trl import get_peft_config

            ctx = _configure(args, cfg, cuda)
            skipped += f"; {_liger_refusal(_trainer_class(cfg, {}), ctx, get_peft_config(ctx.mcfg))}"
        return {"config": cfg, "skipped": skipped}
    triton_head = hammer_trainer._triton_head(torch.device("cuda" if cuda else "cpu"))
    if cfg == "Dh":  # benchmark only: HammerSFTTrainer's own head, also where TRL's fused Triton head would run
        hammer_trainer._triton_head = lambda device: False
    ctx = _configure(args, cfg, cuda)
    run = _train(cfg, ctx, cuda)
    steps_done = max(run.step_end)
    if steps_done < 2:
        raise RuntimeError(f"only {steps_done} step(s) ran; need 1 warmup + at least 1 timed step")
    wall = run.step_end[steps_done] - run.step_end[1]
    timed = [run.counts.get(s, [0] * 5) for s in range(1, steps_done)]
    total, nonpad, label, head_label, tokens_x_seq = (sum(c[i] for c in timed) for i in range(5))
    trims = cfg in ("D", "Dh") or (cfg not in ("F", "FL") and triton_head)
    head = head_label if trims else total
    sft = ctx.sft
    checkpointing = bool(getattr(sft, "activation_checkpointing", None) or getattr(sft, "gradient_checkpointing", 0))
    spec = flop_spec(run.trainer.model)
    flops = training_flops(spec, tokens=total, tokens_x_seq=tokens_x_seq, head_positions=head, recompute=checkpointing)
    model_dtype = str(next(run.trainer.model.parameters()).dtype).removeprefix("torch.")
    return {
        "config": cfg,
        "description": DESCRIPTIONS[cfg],
        "timed_steps": steps_done - 1,
        "wall_s": wall,
        "setup_s": run.setup_s,
        "tokens": {"total": total, "nonpad": nonpad, "label": label, "head": head},
        "tokens_per_s": {"nonpad": nonpad / wall, "label": label / wall, "total": total / wall},
        "padding_share": 1 - nonpad / total if total else 0.0,
        "precision": "bf16" if sft.bf16 or model_dtype == "bfloat16" else "fp32",
        "head_at": "labels" if trims else "all positions",
        "flop_spec": spec.to_dict(),
        "flops": flops,
        "flops_per_s": {"model": flops["model"] / wall, "hardware": flops["hardware"] / wall},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "notes": run.notes,
        "settings": _settings(cfg, ctx, args, checkpointing, model_dtype, cuda),
        "first_timed_step_tokens": timed[0] if timed else None,
    }


def _settings(cfg: str, ctx: SimpleNamespace, args, checkpointing: bool, model_dtype: str, cuda: bool) -> dict:
    import torch

    sft = ctx.sft
    plain = cfg in PLAIN
    return {
        "activation_checkpointing": checkpointing,
        "train_sampling_strategy": str(getattr(sft.train_sampling_strategy, "value", sft.train_sampling_strategy)),
        "bf16": bool(sft.bf16),
        "bf16_auto": None if plain else ctx.run_args.bf16_auto,  # how bf16: auto resolved (D)
        "label_logits_only": None if plain else ctx.run_args.label_logits_only,
        "use_liger_kernel": bool(getattr(sft, "use_liger_kernel", False)),
        "per_device_train_batch_size": sft.per_device_train_batch_size,
        "gradient_accumulation_steps": sft.gradient_accumulation_steps,
        "learning_rate": sft.learning_rate,
        "max_length": sft.max_length,
        "model_dtype": model_dtype,
        "skip_prepare_dataset": bool((sft.dataset_kwargs or {}).get("skip_prepare_dataset")),
        "threads": args.threads,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
    }
