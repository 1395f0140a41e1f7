"""Recipe -> TRL ``SFTTrainer`` with a PEFT LoRA (or QLoRA) adapter -> output folder.

The output folder holds the adapter (``adapter_model.safetensors``, ``adapter_config.json``), the
tokenizer, the resolved recipe (``recipe.yaml``), the data report (``data_report.json``) and a model
card (``README.md``); with ``merge: true`` also ``merged/`` (base + adapter), and with
``push_to_hub: true`` the folder (less checkpoints and ``merged/``) is uploaded with
``huggingface_hub`` using the token from the environment or the HF cache (never logged).

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

from .config import HammerArguments, RecipeError


logger = logging.getLogger(__name__)

__all__ = ["train", "resolved_recipe", "write_model_card"]


def resolved_recipe(hammer_args: HammerArguments, sft_config: Any, model_config: Any) -> dict[str, Any]:
    """The recipe as it ran: every field that differs from its dataclass default, plus the
    model and data fields, as plain YAML-able values. Tokens are never part of it."""
    from trl import ModelConfig, SFTConfig

    out: dict[str, Any] = {}
    for obj, cls in ((model_config, ModelConfig), (hammer_args, HammerArguments), (sft_config, SFTConfig)):
        defaults = cls.__dataclass_fields__
        for f in dataclasses.fields(obj):
            if f.name.startswith("_") or "token" in f.name:
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
            try:
                json.dumps(value)
            except TypeError:
                value = str(value)
            out[f.name] = value
    return out


def write_model_card(
    output_dir: str | Path, recipe: dict[str, Any], report: dict[str, Any], metrics: dict[str, Any] | None = None
) -> Path:
    """Write ``README.md`` (Hub model card with YAML front matter) into ``output_dir``.

    Args:
        recipe: :func:`resolved_recipe` output.
        report: the data report (``DataReport.to_dict()``).
        metrics: evaluation results to show, e.g. ``{"sealtool": {"api_f1": 0.8}}``; read from
            ``output_dir/eval_results.json`` when ``None`` and that file exists.

    Returns:
        The card's path.
    """
    output_dir = Path(output_dir)
    if metrics is None and (output_dir / "eval_results.json").is_file():
        metrics = json.loads((output_dir / "eval_results.json").read_text())
    base = recipe.get("model_name_or_path", "")
    hub_base = base if base and not base.startswith(("pypi:", "/", ".")) and not base.endswith(".gguf") else None
    sources = recipe.get("sources", [])
    mix = "\n".join(f"- `{s.get('format')}`: `{s.get('path')}` (weight {s.get('weight', 1.0)})" for s in sources)
    irr = report.get("irrelevance", {})
    settings = report.get("settings", {})
    masking = report.get("masking", {})
    lines = [
        "---",
        "library_name: peft",
        "tags:",
        "- function-calling",
        "- tool-use",
        "- hammer-train",
        "- lora",
        "- trl",
        "- sft",
    ]
    if hub_base:
        lines.append(f"base_model: {hub_base}")
    lines += ["---", "", f"# {output_dir.name}", ""]
    lines.append(
        "A LoRA adapter for function calling, trained with hammer-train the way the Hammer models "
        "were trained (function masking and irrelevance augmentation; arXiv 2410.04587), on TRL's `SFTTrainer`."
    )
    lines += ["", "## Base model", "", f"`{base}`", "", "## Data mix", "", mix or "-", ""]
    lines += [
        "## Masking and irrelevance",
        "",
        f"- prompt style: `{settings.get('prompt_style')}`",
        f"- masking: `{settings.get('masking_mode')}`, share of rows masked {settings.get('masking_row_prob')}, "
        f"copies {settings.get('masking_copies')}; rows masked by kind (first epoch): {masking.get('by_kind')}",
        f"- irrelevance share: target {irr.get('target_ratio', settings.get('irrelevance_ratio'))}, "
        f"achieved {irr.get('achieved_ratio')}",
        f"- rows trained on: {report.get('final_rows')}",
        "",
        "## Training",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    for key in (
        "learning_rate",
        "lr_scheduler_type",
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "max_length",
        "lora_r",
        "lora_alpha",
        "lora_target_modules",
        "load_in_4bit",
        "seed",
    ):
        if key in recipe:
            lines.append(f"| {key} | {recipe[key]} |")
    lines += ["", "## Evaluation", ""]
    if metrics:
        lines += ["| benchmark | metric | value |", "|---|---|---|"]
        for bench, vals in metrics.items():
            if isinstance(vals, dict):
                for k, v in vals.items():
                    if isinstance(v, (int, float, str)):  # numbers, and the subset scored ("first 100 of 294 rows")
                        lines.append(
                            f"| {bench} | {k} | {v:.4g} |" if isinstance(v, float) else f"| {bench} | {k} | {v} |"
                        )
    else:
        lines.append("Not evaluated yet: run `python scripts/evaluate.py BASE --adapter THIS_FOLDER`.")
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from peft import AutoPeftModelForCausalLM",
        "from transformers import AutoTokenizer",
        f'model = AutoPeftModelForCausalLM.from_pretrained("{output_dir.name}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{output_dir.name}")',
        "```",
        "",
        "The prompt is Hammer's (four fenced blocks; see `hammer_train.prompts`) and the answer a JSON list of "
        '`{"name", "arguments"}` calls in a ``` fence, `[]` when no tool fits.',
        "",
    ]
    path = output_dir / "README.md"
    path.write_text("\n".join(lines))
    return path


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
        hammer_args, sft_config, model_config: from :func:`hammer_train.config.parse_recipe`.

    Returns:
        The output folder.

    Raises:
        RecipeError: ``prompt_style: native`` with a chat template that ignores tools; packing
            with dynamic masking (TRL cannot pack a transformed dataset).
        FileNotFoundError / ValueError: a model that cannot be resolved (before anything loads).
    """
    import torch
    from transformers import AutoTokenizer, set_seed
    from trl import SFTTrainer, get_peft_config, get_quantization_config

    from .data import EpochCallback, build_dataset
    from .modeling import resolve_model
    from .prompts import template_renders_tools

    set_seed(sft_config.seed)
    model_path = resolve_model(model_config.model_name_or_path)
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
    dynamic = hammer_args.masking_mode == "dynamic"
    if dynamic and sft_config.packing:
        raise RecipeError("packing needs masking_mode: static (TRL packs only datasets it prepares itself)")

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
        eval_ds, eval_report = build_dataset(
            hammer_args, sft_config.seed, sources=hammer_args.eval_sources, mix=False, fixed_epoch=0, **common
        )
    logger.info("data report: %s", report.to_json())

    if dynamic:
        sft_config.dataset_kwargs = {**(sft_config.dataset_kwargs or {}), "skip_prepare_dataset": True}
        sft_config.remove_unused_columns = False
    sft_config.model_init_kwargs = _model_init_kwargs(sft_config, model_config)
    callbacks = [EpochCallback(epoch_tensor)] if dynamic else []
    # We push once, at the end, with our model card (push_adapter); left on, Trainer would create
    # the repo at start-up and push its own card from save_model.
    push_to_hub = bool(sft_config.push_to_hub)
    sft_config.push_to_hub = False

    trainer = SFTTrainer(
        model=model_path,
        args=sft_config,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_config),
        quantization_config=get_quantization_config(model_config),
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=sft_config.resume_from_checkpoint)

    out = Path(sft_config.output_dir)
    trainer.save_model(str(out))
    sft_config.push_to_hub = push_to_hub  # as the recipe said, in recipe.yaml
    if trainer.accelerator.is_main_process:
        import yaml

        tokenizer.save_pretrained(str(out))
        recipe = resolved_recipe(hammer_args, sft_config, model_config)
        (out / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
        (out / "data_report.json").write_text(report.to_json())
        history = [h for h in trainer.state.log_history if "loss" in h or "train_loss" in h]
        (out / "train_log.json").write_text(json.dumps(history, indent=1))
        write_model_card(out, recipe, report.to_dict())
        if hammer_args.merge:
            merged = trainer.model.merge_and_unload()
            merged.save_pretrained(str(out / "merged"))
            tokenizer.save_pretrained(str(out / "merged"))
        if push_to_hub:
            push_adapter(
                out, sft_config.hub_model_id or out.name, private=bool(getattr(sft_config, "hub_private_repo", False))
            )
    # Every rank waits here for rank 0's writes and push, so no rank tears the process group down
    # while another still runs (destroying it out of step can hang the launcher: pytorch#75097).
    trainer.accelerator.wait_for_everyone()
    if hasattr(trainer, "end"):
        trainer.end()
    return out


def card_metrics(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The headline numbers of an evaluation results dict (``scripts/evaluate.py``'s JSON) for a
    model card: per benchmark the rows used, Hammer F1 (function / argument), BFCL AST accuracy,
    irrelevance accuracy and format errors, where the benchmark has them.

    Returns:
        ``{benchmark: {"subset", "hammer_api_f1", "hammer_args_f1", "bfcl_ast_accuracy",
        "irrelevance_accuracy", "format_errors"}}`` (keys present only when known).
    """
    out: dict[str, dict[str, Any]] = {}
    for bench, r in (results.get("benchmarks") or {}).items():
        if not isinstance(r, dict):
            continue
        m: dict[str, Any] = {"subset": r.get("subset"), "format_errors": r.get("format_errors")}
        hammer, ast, irr = r.get("hammer") or {}, r.get("bfcl_ast") or {}, r.get("irrelevance") or {}
        if hammer.get("gold_calls"):
            m["hammer_api_f1"], m["hammer_args_f1"] = hammer.get("api_f1"), hammer.get("args_f1")
        if "accuracy" in ast:
            m["bfcl_ast_accuracy"] = ast["accuracy"]
        if irr.get("irrelevance_n"):
            m["irrelevance_accuracy"] = irr.get("irrelevance_accuracy")
        out[bench] = {k: v for k, v in m.items() if v is not None}
    return out


def update_model_card(folder: str | Path, results: dict[str, Any]) -> Path:
    """Add evaluation results to an adapter folder written by :func:`train`: merge
    :func:`card_metrics` of ``results`` into ``eval_results.json`` (a benchmark scored again
    replaces its entry) and rewrite ``README.md`` from ``recipe.yaml``, ``data_report.json`` and
    those metrics.

    Raises:
        FileNotFoundError: ``folder`` has no ``recipe.yaml`` or ``data_report.json`` (not an
            output folder of ``scripts/train.py``).
    """
    import yaml

    folder = Path(folder)
    recipe_path, report_path = folder / "recipe.yaml", folder / "data_report.json"
    for path in (recipe_path, report_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: the model card is updated only in a folder written by scripts/train.py"
            )
    metrics_path = folder / "eval_results.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics.update(card_metrics(results))
    metrics_path.write_text(json.dumps(metrics, indent=1))
    return write_model_card(
        folder, yaml.safe_load(recipe_path.read_text()), json.loads(report_path.read_text()), metrics
    )


def push_adapter(folder: str | Path, repo_id: str, private: bool = False) -> str:
    """Upload an output folder (adapter, tokenizer, card, recipe, report) to the Hub.

    The token comes from ``HF_TOKEN`` or the HF cache (``huggingface_hub`` resolves it); it is
    never read, printed or logged here. Checkpoints and ``merged/`` are left out.

    Returns:
        The repo URL.
    """
    from huggingface_hub import HfApi

    api = HfApi()
    url = api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        ignore_patterns=["checkpoint-*", "checkpoint-*/**", "merged/**", "runs/**", "wandb/**"],
        commit_message="Upload adapter trained with hammer-train",
    )
    return str(url)
