"""Train a few steps of a recipe with :class:`hammer_train.callbacks.ToolCallEvalCallback` registered,
the way ``hammer_train/train.py`` builds its ``SFTTrainer`` (dynamic masking, ``EpochCallback``).

Used in-process by ``tests/test_callbacks.py`` and as an ``accelerate launch`` script by its
two-process tests::

    accelerate launch --config_file accelerate_configs/multi_cpu.yaml tests/tool_call_train.py \
        RECIPE.yaml [recipe overrides] --fail_rank 1

``--fail_rank N`` (test-only) makes generation raise on rank ``N`` at the first run. Rank 0 writes
``log_history.json`` (the trainer's log history) and ``tool_call_final.json`` into the output
folder; every rank writes ``rank<N>.done`` when its ``train()`` returned.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, also under accelerate launch

from hammer_train.callbacks import ToolCallEvalCallback, add_tool_call_callback  # noqa: E402


class FailOnRank(ToolCallEvalCallback):
    """Generation raises on one rank at the first run (the failure the multi-process test injects)."""

    fail_rank = -1

    def _generate(self, model, prompts):
        if self.trainer.accelerator.process_index == self.fail_rank and not self.runs:
            raise RuntimeError(f"injected generation failure on rank {self.fail_rank}")
        return super()._generate(model, prompts)


def build_trainer(hammer_args, sft_config, model_config, max_rows: int | None = None):
    """An ``SFTTrainer`` built as ``hammer_train.train.train`` builds it (dynamic masking only)."""
    import torch
    from transformers import AutoTokenizer, set_seed
    from trl import SFTTrainer, get_peft_config

    from hammer_train.data import EpochCallback, build_dataset
    from hammer_train.modeling import resolve_model

    if max_rows is not None:
        for src in hammer_args.sources:
            src.max_rows = max_rows
    set_seed(sft_config.seed)
    model_path = resolve_model(model_config.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    epoch_tensor = torch.zeros((), dtype=torch.int64).share_memory_()
    train_ds, _ = build_dataset(
        hammer_args,
        sft_config.seed,
        tokenizer=tokenizer,
        max_length=sft_config.max_length,
        batch_size=sft_config.per_device_train_batch_size,
        epoch_tensor=epoch_tensor,
    )
    sft_config.dataset_kwargs = {"skip_prepare_dataset": True}
    sft_config.remove_unused_columns = False
    sft_config.model_init_kwargs = {"dtype": model_config.dtype}
    return SFTTrainer(
        model=model_path,
        args=sft_config,
        train_dataset=train_ds,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_config),
        callbacks=[EpochCallback(epoch_tensor)],
    )


def main(argv: list[str]) -> int:
    from hammer_train.recipe_parser import parse_recipe

    fail_rank = -1
    if "--fail_rank" in argv:
        i = argv.index("--fail_rank")
        fail_rank = int(argv[i + 1])
        del argv[i : i + 2]
    h, s, m = parse_recipe(argv)
    trainer = build_trainer(h, s, m, max_rows=24)
    training_examples = None
    if fail_rank >= 0:
        FailOnRank.fail_rank = fail_rank
        from hammer_train.data import load_examples
        from hammer_train.evaluation.tool_call_slice import build_tool_call_slice

        training_examples, _ = load_examples(h, s.seed, mix=False)
        tool_slice = build_tool_call_slice(
            h.tool_call_eval_benchmark, h.tool_call_eval_irrelevance, h.tool_call_eval_rows, training_examples
        )
        callback = FailOnRank(
            trainer,
            tool_slice,
            steps=h.tool_call_eval_steps,
            max_new_tokens=h.tool_call_eval_max_new_tokens,
            batch_size=h.tool_call_eval_batch_size,
        )
        trainer.add_callback(callback)
    else:
        callback = add_tool_call_callback(trainer, h)
    trainer.train()
    out = Path(s.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rank = trainer.accelerator.process_index
    if rank == 0:
        (out / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=1))
        (out / "tool_call_final.json").write_text(json.dumps(callback.final if callback else None))
    trainer.accelerator.wait_for_everyone()
    (out / f"rank{rank}.done").write_text("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
