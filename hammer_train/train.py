"""Recipe -> TRL ``SFTTrainer`` with a PEFT LoRA (or QLoRA) adapter -> output folder.

The output folder holds the adapter (``adapter_model.safetensors``, ``adapter_config.json``), the
tokenizer, the resolved recipe (``recipe.yaml``), the data report (``data_report.json``) and a model
card (``README.md``); with ``merge: true`` also ``merged/`` (base + adapter), and with
``push_to_hub: true`` the folder (less checkpoints and ``merged/``) is uploaded with
``huggingface_hub`` using the token from the environment or the HF cache (never logged).

With a length curriculum (``length_curriculum_steps`` > 0, :mod:`hammer_train.curriculum`) a first
``SFTTrainer`` run trains those steps at the shorter ``length_curriculum_max_length`` and saves a
checkpoint under ``length-curriculum/``; the main run resumes from it at ``max_length``.

Everything that TRL, PEFT or accelerate already does is left to them: the training loop,
completion-only loss, LoRA wrapping (``get_peft_config``), 4-bit loading
(``get_quantization_config``), multi-GPU (``accelerate launch``), checkpoint resume, wandb.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
from pathlib import Path
from typing import Any

from .card import push_adapter, write_model_card
from .config import HammerArguments, RecipeError


logger = logging.getLogger(__name__)

__all__ = ["train", "resolved_recipe"]


def resolved_recipe(hammer_args: HammerArguments, sft_config: Any, model_config: Any) -> dict[str, Any]:
    """The recipe as it ran: every field that differs from its dataclass default, plus the
    model and data fields, as plain YAML-able values. Tokens are never part of it. The result,
    written as ``recipe.yaml``, parses again with :func:`hammer_train.recipe_parser.parse_recipe`."""
    from trl import ModelConfig, SFTConfig

    out: dict[str, Any] = {}
    for obj, cls in ((model_config, ModelConfig), (hammer_args, HammerArguments), (sft_config, SFTConfig)):
        defaults = cls.__dataclass_fields__
        for f in dataclasses.fields(obj):
            if f.name.startswith("_") or "token" in f.name or not f.init:  # init=False: not a recipe key
                continue
            value = getattr(obj, f.name)
            default = defaults[f.name].default
            if default is dataclasses.MISSING and defaults[f.name].default_factory is not dataclasses.MISSING:
                default = defaults[f.name].default_factory()
            keep = f.name in ("model_name_or_path", "sources", "seed", "output_dir") or value != default
            if not keep:
                continue
            if isinstance(value, list):
                value = [dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for v in value]
            elif isinstance(value, enum.Enum):
                value = value.value
            elif dataclasses.is_dataclass(value):  # e.g. accelerator_config, which the parser takes as a mapping
                value = dataclasses.asdict(value)
            try:
                json.dumps(value)
            except TypeError:  # not something a recipe can say: leave it out rather than write its repr
                logger.debug("recipe.yaml: %s left out (%s is not a recipe value)", f.name, type(value).__name__)
                continue
            out[f.name] = value
    return out


def _model_init_kwargs(sft_config: Any, model_config: Any) -> dict[str, Any]:
    kwargs = {
        "revision": model_config.model_revision,
        "trust_remote_code": bool(sft_config.trust_remote_code),
        "attn_implementation": model_config.attn_implementation,
        "dtype": model_config.dtype,
    }
    if sft_config.model_init_kwargs:
        kwargs.update(sft_config.model_init_kwargs)
    return kwargs


def train(hammer_args: HammerArguments, sft_config: Any, model_config: Any) -> Path:
    """Run one recipe end to end.

    Args:
        hammer_args, sft_config, model_config: from :func:`hammer_train.recipe_parser.parse_recipe`.

    Returns:
        The output folder.

    Raises:
        RecipeError: ``prompt_style: native`` with a chat template that ignores tools;
            ``prompt_style: hammer`` with a base template no serving template can be built around;
            packing with dynamic masking (TRL cannot pack a transformed dataset); ``push_to_hub``
            without a token or with ``HF_HUB_OFFLINE`` set (:func:`hammer_train.checks.check_push_to_hub`).
        FileNotFoundError / ValueError: a model that cannot be resolved (before anything loads).
        FileNotFoundError: a length curriculum's first phase stopped without writing its checkpoint.
    """
    from transformers import set_seed

    from .checks import check_push_to_hub
    from .modeling import resolve_model

    check_push_to_hub(sft_config)  # the upload comes after training: fail now, not then
    set_seed(sft_config.seed)
    model_path = resolve_model(model_config.model_name_or_path)
    tokenizer = _load_tokenizer(model_path, hammer_args, sft_config, model_config)
    dynamic = hammer_args.masking_mode == "dynamic"
    if dynamic and sft_config.packing:
        raise RecipeError("packing needs masking_mode: static (TRL packs only datasets it prepares itself)")

    resume, curriculum = _length_curriculum_phase(
        model_path, tokenizer, dynamic, hammer_args, sft_config, model_config
    )
    train_ds, eval_ds, report, epoch_tensor = _build_datasets(tokenizer, hammer_args, sft_config)
    if curriculum is not None:
        report.settings["length_curriculum"] = curriculum
    # We push once, at the end, with our model card (push_adapter); left on, Trainer would create
    # the repo at start-up and push its own card from save_model.
    push_to_hub = bool(sft_config.push_to_hub)
    trainer = _build_trainer(
        model_path, tokenizer, train_ds, eval_ds, epoch_tensor, dynamic, hammer_args, sft_config, model_config
    )
    trainer.train(resume_from_checkpoint=resume)

    out = Path(sft_config.output_dir)
    trainer.save_model(str(out))
    sft_config.push_to_hub = push_to_hub  # as the recipe said, in recipe.yaml
    if trainer.accelerator.is_main_process:
        _save_outputs(trainer, tokenizer, out, report, hammer_args, sft_config, model_config)
    # Every rank waits here for rank 0's writes and push, so no rank tears the process group down
    # while another still runs (destroying it out of step can hang the launcher: pytorch#75097).
    trainer.accelerator.wait_for_everyone()
    if hasattr(trainer, "end"):
        trainer.end()
    return out


def _length_curriculum_phase(model_path, tokenizer, dynamic, hammer_args, sft_config, model_config):
    """Run phase 1 of a length curriculum (:mod:`hammer_train.curriculum`) when the recipe has one.

    Returns:
        ``(resume, record)``: the checkpoint the main run resumes from (phase 1's, or the recipe's
        ``resume_from_checkpoint``) and, after a phase 1, its record for the data report
        (``max_length``, ``steps``, ``checkpoint``, and the phase's ``final_rows``, ``length`` and
        ``tokens`` as in :class:`hammer_train.data_report.DataReport`); None without one.
    """
    import gc

    from transformers import set_seed

    from .curriculum import StopAtStepCallback, first_phase, phase_checkpoint

    phase = first_phase(hammer_args, sft_config)
    if phase is None:
        return sft_config.resume_from_checkpoint, None
    steps = hammer_args.length_curriculum_steps
    logger.info("length curriculum: steps 1-%d at max_length %d -> %s", steps, phase.max_length, phase.output_dir)
    train_ds, eval_ds, report, epoch_tensor = _build_datasets(tokenizer, hammer_args, phase)
    trainer = _build_trainer(
        model_path,
        tokenizer,
        train_ds,
        eval_ds,
        epoch_tensor,
        dynamic,
        hammer_args,
        phase,
        model_config,
        extra_callbacks=[StopAtStepCallback(steps)],
    )
    trainer.train(resume_from_checkpoint=sft_config.resume_from_checkpoint)
    trainer.accelerator.wait_for_everyone()
    checkpoint = phase_checkpoint(phase, steps)
    record = {
        "max_length": phase.max_length,
        "steps": steps,
        "checkpoint": checkpoint,
        "final_rows": report.final_rows,
        "length": report.length,
        "tokens": report.tokens,
    }
    del trainer, train_ds, eval_ds
    gc.collect()
    set_seed(sft_config.seed)  # phase 2 starts as a fresh process resuming the checkpoint would
    return checkpoint, record


def _build_datasets(tokenizer: Any, hammer_args: HammerArguments, sft_config: Any):
    """The train and eval datasets, the data report and the shared epoch tensor that dynamic masking reads."""
    import torch

    from .data import build_dataset

    epoch_tensor = torch.zeros((), dtype=torch.int64).share_memory_()
    common = dict(
        tokenizer=tokenizer,
        max_length=sft_config.max_length,
        batch_size=sft_config.per_device_train_batch_size,
        sampling_strategy=str(
            getattr(sft_config.train_sampling_strategy, "value", sft_config.train_sampling_strategy)
        ),
    )
    train_ds, report = build_dataset(hammer_args, sft_config.seed, epoch_tensor=epoch_tensor, **common)
    eval_ds = None
    if hammer_args.eval_sources:
        eval_ds, _ = build_dataset(
            hammer_args, sft_config.seed, sources=hammer_args.eval_sources, mix=False, fixed_epoch=0, **common
        )
    if hammer_args.bf16_auto is not None:  # bf16: auto, resolved by parse_recipe for this machine
        report.settings["bf16_auto"] = hammer_args.bf16_auto
        choice = hammer_args.bf16_auto
        logger.info("bf16: %s -> %s (%s)", choice["requested"], choice["bf16"], choice["reason"])
    logger.info("data report: %s", report.to_json())
    return train_ds, eval_ds, report, epoch_tensor


def _build_trainer(
    model_path: str,
    tokenizer: Any,
    train_ds: Any,
    eval_ds: Any,
    epoch_tensor: Any,
    dynamic: bool,
    hammer_args: HammerArguments,
    sft_config: Any,
    model_config: Any,
    extra_callbacks: list | None = None,
):
    """Adjust ``sft_config`` for our pipeline (``push_to_hub`` off) and build the ``HammerSFTTrainer``."""
    from trl import get_peft_config, get_quantization_config

    from .callbacks import add_tool_call_callback
    from .data import EpochCallback
    from .modeling import keep_4bit_weights_trainable
    from .trainer import HammerSFTTrainer

    if dynamic:
        sft_config.dataset_kwargs = {**(sft_config.dataset_kwargs or {}), "skip_prepare_dataset": True}
        sft_config.remove_unused_columns = False
    sft_config.model_init_kwargs = _model_init_kwargs(sft_config, model_config)
    callbacks = ([EpochCallback(epoch_tensor)] if dynamic else []) + list(extra_callbacks or [])
    sft_config.push_to_hub = False

    trainer = HammerSFTTrainer(
        model=model_path,
        args=sft_config,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_config),
        quantization_config=get_quantization_config(model_config),
        callbacks=callbacks,
        label_logits_only=hammer_args.label_logits_only,
    )
    # bitsandbytes repacks 4-bit weights for CPU inference at the first evaluation pass, after which LoRA
    # gradients are wrong (modeling.keep_4bit_weights_trainable); a no-op without 4-bit layers
    keep_4bit_weights_trainable(trainer.model)
    add_tool_call_callback(trainer, hammer_args)  # no-op unless tool_call_eval: true; off under ZeRO-3 / FSDP
    return trainer


def _load_tokenizer(model_path: str, hammer_args: HammerArguments, sft_config: Any, model_config: Any):
    """The base tokenizer, checked against the prompt style before anything else loads.

    Raises:
        RecipeError: ``prompt_style: native`` with a template that ignores ``tools=``;
            ``prompt_style: hammer`` with a base template whose turns are not concatenated, so no
            serving chat template can be built for it (:func:`hammer_train.chat_template.hammer_chat_template`).
    """
    from transformers import AutoTokenizer

    from .chat_template import hammer_chat_template
    from .prompts import template_renders_tools

    tokenizer = AutoTokenizer.from_pretrained(
        model_path, revision=model_config.model_revision, trust_remote_code=bool(sft_config.trust_remote_code)
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if hammer_args.prompt_style == "native" and not template_renders_tools(tokenizer):
        raise RecipeError(
            "prompt_style: native needs a chat template that renders tools=; this model's template ignores them "
            "(use prompt_style: hammer)"
        )
    if hammer_args.prompt_style == "hammer":
        try:
            hammer_chat_template(tokenizer, hammer_args.system_prompt)
        except ValueError as err:
            raise RecipeError(f"prompt_style: hammer: no serving chat template can be built: {err}") from None
    return tokenizer


def _save_tokenizer(tokenizer: Any, folder: Path, hammer_args: HammerArguments) -> None:
    """The tokenizer, with the training prompt as its chat template for ``prompt_style: hammer``
    (written into both ``tokenizer_config.json`` and ``chat_template.jinja``); ``native`` keeps the
    base template, which already is the training prompt."""
    from .chat_template import save_chat_template

    tokenizer.save_pretrained(str(folder))
    if hammer_args.prompt_style == "hammer":
        save_chat_template(tokenizer, folder, hammer_args.system_prompt)


def _save_outputs(trainer, tokenizer, out: Path, report, hammer_args, sft_config, model_config) -> None:
    """Rank 0's writes after training: tokenizer and chat template, ``recipe.yaml``,
    ``data_report.json``, ``train_log.json``, the model card, ``merged/`` and the Hub push."""
    import yaml

    from .modeling import resolve_model

    _save_tokenizer(tokenizer, out, hammer_args)
    recipe = resolved_recipe(hammer_args, sft_config, model_config)
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
    (out / "data_report.json").write_text(report.to_json())
    from .callbacks import PREFIX as TOOL_CALL_PREFIX

    history = [  # the loss curve and, with tool_call_eval, the tool-call metrics curve
        h
        for h in trainer.state.log_history
        if "loss" in h or "train_loss" in h or any(k.startswith(TOOL_CALL_PREFIX) for k in h)
    ]
    (out / "train_log.json").write_text(json.dumps(history, indent=1))
    write_model_card(
        out, recipe, report.to_dict(), chat_template_is_training_prompt=hammer_args.prompt_style == "hammer"
    )
    if hammer_args.merge:  # a QLoRA adapter is merged into the unquantized base, reloaded from disk
        from .modeling import merged_model

        merged = merged_model(
            trainer.model,
            resolve_model(model_config.model_name_or_path),
            str(out),
            dtype=model_config.dtype,
            trust_remote_code=bool(sft_config.trust_remote_code),
        )
        merged.save_pretrained(str(out / "merged"))
        _save_tokenizer(tokenizer, out / "merged", hammer_args)
    if sft_config.push_to_hub:
        push_adapter(
            out, sft_config.hub_model_id or out.name, private=bool(getattr(sft_config, "hub_private_repo", False))
        )
