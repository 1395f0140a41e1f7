"""Tool-call metrics while the model trains: :class:`ToolCallEvalCallback`.

Loss and token accuracy do not say whether the model calls the right function, writes valid JSON or
refuses when no tool fits; TRL's ``compute_metrics`` sees teacher-forced logits only (TRL issue
#1222). Every ``steps`` optimizer steps (and at the last step) this callback generates greedily on a
fixed held-out slice (:mod:`hammer_train.evaluation.tool_call_slice`: call rows, irrelevance rows and
the call rows renamed, never training rows), parses and scores the outputs with our evaluation code,
and logs the scores through the trainer, so they land in ``trainer.state.log_history`` and in every
reporter (wandb: ``train/tool_call/...``):

==================================== ==========================================================
``tool_call/name_accuracy``          call rows whose calls name exactly the gold functions
``tool_call/argument_accuracy``      call rows answered right, arguments included (BFCL: AST check)
``tool_call/json_valid``             all rows whose output is a JSON list of calls (``[]`` counts)
``tool_call/irrelevance_accuracy``   irrelevance rows answered ``[]``
``tool_call/renamed_name_accuracy``  ``name_accuracy`` on the call rows with renamed tools
``tool_call/call_refusal``           call rows answered ``[]`` (over-refusal)
``tool_call/cut_at_token_limit``     all rows whose output reached the token limit (mostly loops)
``tool_call/seconds``                wall seconds of this run (generation, gather, scoring)
``tool_call/cost_share``             callback seconds so far / wall seconds since training began
``tool_call/errors``                 only when a run failed: ranks that failed (no scores then)
==================================== ==========================================================

Exact definitions: :func:`~hammer_train.evaluation.tool_call_slice.score_tool_call_slice`. At the end
of training one more entry holds ``tool_call/total_seconds``, ``tool_call/runs`` and
``tool_call/final_cost_share``.

The design follows TRL's own generation callbacks (``trl/trainer/callbacks.py``,
``LogCompletionsCallback``): hold the trainer, shard the prompts with
``accelerator.split_between_processes``, generate on the model from TRL's
``unwrap_model_for_generation``, collect with ``gather_object``. Like NeMo AutoModel's tool-call
evaluator after its deadlock fix (NVIDIA-NeMo/Automodel PR #2365), every rank reaches exactly one
collective per run whatever happens: an exception while generating is caught and sent as an error
marker, all ranks log it and training goes on. Generation on sharded weights (DeepSpeed ZeRO-3,
FSDP) is refused (:func:`sharded_weights_reason`), as AutoModel skips it under FSDP2.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from transformers import Trainer, TrainerCallback

from .config import DEFAULT_TOOL_CALL_EVAL_STEPS as DEFAULT_STEPS  # the recipe field's default, kept in config
from .evaluation.tool_call_slice import ToolCallSlice, build_tool_call_slice, score_tool_call_slice, slice_summary
from .prompts import SYSTEM_PROMPT


logger = logging.getLogger(__name__)

__all__ = ["PREFIX", "DEFAULT_STEPS", "ToolCallEvalCallback", "add_tool_call_callback", "sharded_weights_reason"]

PREFIX = "tool_call/"
"""Prefix of every key the callback logs."""


def sharded_weights_reason(state: Any) -> str | None:
    """Why the callback cannot run under this distributed setup, or ``None`` when it can.

    Generating on sharded weights is the known failure (NeMo AutoModel PR #2365: ``generate()`` on
    the sharded training model unshards parameters again and again and can run out of memory, so
    AutoModel skips in-loop generation under FSDP2); gathering a full copy per run is what the
    trainer's sharding exists to avoid. DDP and ZeRO-1/2 keep a full copy of the weights on each
    rank and are fine.

    Args:
        state: an ``accelerate.Accelerator`` or its ``AcceleratorState`` (anything with
            ``deepspeed_plugin`` and ``fsdp_plugin`` attributes; a missing one counts as unused).

    Returns:
        A sentence naming the backend (DeepSpeed ZeRO-3, or FSDP with its version), or ``None``.
    """
    state = getattr(state, "state", state)
    ds = getattr(state, "deepspeed_plugin", None)
    if ds is not None and getattr(ds, "zero_stage", 0) == 3:
        return (
            "tool_call_eval is off: DeepSpeed ZeRO-3 shards the weights, and generating on sharded weights "
            "is the known failure (NeMo AutoModel PR #2365); evaluate the saved adapter after training instead "
            "(hammer-train evaluate), or train with ZeRO-2 or DDP"
        )
    fsdp = getattr(state, "fsdp_plugin", None)
    if fsdp is not None:
        return (
            f"tool_call_eval is off: FSDP (version {getattr(fsdp, 'fsdp_version', '?')}) shards the weights, and "
            "generating on sharded weights is the known failure (NeMo AutoModel PR #2365); evaluate the saved "
            "adapter after training instead (hammer-train evaluate), or train with ZeRO-2 or DDP"
        )
    return None


class ToolCallEvalCallback(TrainerCallback):
    """Generate on a held-out slice every ``steps`` optimizer steps and log tool-call scores.

    Usage (after the trainer is built, since the callback needs it)::

        callback = ToolCallEvalCallback(trainer, build_tool_call_slice("bfcl_simple", "bfcl_irrelevance", 36, rows))
        trainer.add_callback(callback)

    or from a recipe: :func:`add_tool_call_callback`.

    Runs at every step that is a multiple of ``steps`` and at the last step (so the curve ends at
    the model that is saved). Greedy decoding does not draw random numbers and dropout is off in
    eval mode, so a run leaves the training's random state, and thus its losses, unchanged (3 steps
    of the CPU recipe with a run after every step: the same losses and gradient norms, bit for bit).

    Args:
        trainer: the ``transformers.Trainer`` / TRL ``SFTTrainer`` (its model, accelerator, args and
            ``processing_class`` are used at each run).
        tool_slice: the rows (see :func:`~hammer_train.evaluation.tool_call_slice.build_tool_call_slice`).
        steps: optimizer steps between runs; ``None``: the trainer's ``eval_steps`` when set, else
            :data:`hammer_train.config.DEFAULT_TOOL_CALL_EVAL_STEPS` (``DEFAULT_STEPS`` here).
        max_new_tokens: generation limit per row.
        batch_size: prompts per ``generate`` call on each rank.
        prompt_style, system_prompt: render exactly as training does (the recipe's fields).

    Attributes:
        runs: list of ``{"step", "seconds", **scores}`` (or ``"errors"``), one per run.
        final: ``{"total_seconds", "runs", "final_cost_share"}`` once training has ended.

    Raises:
        RuntimeError: the trainer shards its weights (:func:`sharded_weights_reason`).
        ValueError: ``steps``, ``max_new_tokens`` or ``batch_size`` below 1.
    """

    def __init__(
        self,
        trainer: Any,
        tool_slice: ToolCallSlice,
        *,
        steps: int | None = None,
        max_new_tokens: int = 80,
        batch_size: int = 8,
        prompt_style: str = "hammer",
        system_prompt: str | None = SYSTEM_PROMPT,
    ):
        from .evaluation.generate import chat_renderer

        reason = sharded_weights_reason(trainer.accelerator)
        if reason:
            raise RuntimeError(reason)
        for name, v in (("steps", steps), ("max_new_tokens", max_new_tokens), ("batch_size", batch_size)):
            if v is not None and v < 1:
                raise ValueError(f"ToolCallEvalCallback: {name} must be >= 1, got {v}")
        self.trainer = trainer
        self.slice = tool_slice
        self.steps = steps
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        render = chat_renderer(trainer.processing_class, prompt_style, system_prompt)
        self.prompts = [render(ex) for ex in tool_slice.examples]
        self.runs: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None
        self.total_seconds = 0.0
        self._t_begin: float | None = None
        self._last_step = -1

    # ----------------------------------------------------------------------- events

    def on_train_begin(self, args, state, control, **kwargs):
        self._t_begin = time.perf_counter()
        if self.steps is None:
            self.steps = state.eval_steps if args.eval_steps is not None else DEFAULT_STEPS
        if state.is_world_process_zero:
            logger.info("tool_call_eval every %d steps on %s", self.steps, slice_summary(self.slice))

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step == self._last_step or not (step % self.steps == 0 or step == state.max_steps):
            return
        self._last_step = step
        self._run(step)

    def on_train_end(self, args, state, control, **kwargs):
        elapsed = time.perf_counter() - (self._t_begin or time.perf_counter())
        self.final = {
            "total_seconds": round(self.total_seconds, 3),
            "runs": len(self.runs),
            "final_cost_share": round(self.total_seconds / elapsed, 4) if elapsed > 0 else None,
        }
        self._log({PREFIX + k: v for k, v in self.final.items() if v is not None})
        if state.is_world_process_zero:
            logger.info("tool_call_eval: %s", self.final)

    # ----------------------------------------------------------------------- one run

    def _run(self, step: int) -> None:
        """Generate this rank's share, gather every rank's, score, log. Every rank calls
        ``gather_object`` exactly once, whatever failed before it."""
        from accelerate.utils import gather_object

        t0 = time.perf_counter()
        accelerator = self.trainer.accelerator
        local = self._generate_local()
        gathered = gather_object([local]) if accelerator.num_processes > 1 else [local]
        failed = [p for p in gathered if p["error"] is not None]
        logs: dict[str, Any] = {}
        if failed:
            for p in failed:
                logger.error("tool_call_eval at step %d: rank %d failed: %s", step, p["rank"], p["error"])
            logs[PREFIX + "errors"] = len(failed)
        else:
            outputs = [""] * len(self.prompts)
            for p in gathered:
                for i, text in zip(p["indices"], p["outputs"], strict=True):
                    outputs[i] = text
            try:  # same outputs on every rank: all succeed or all fail alike, no collective follows
                logs.update({PREFIX + k: v for k, v in score_tool_call_slice(self.slice, outputs).items()})
            except Exception:  # noqa: BLE001 - a scoring bug must not stop the training
                logger.exception("tool_call_eval at step %d: scoring failed", step)
                logs[PREFIX + "errors"] = len(gathered)
        seconds = time.perf_counter() - t0
        self.total_seconds += seconds
        elapsed = time.perf_counter() - (self._t_begin or t0)
        logs[PREFIX + "seconds"] = round(seconds, 3)
        logs[PREFIX + "cost_share"] = round(self.total_seconds / elapsed, 4) if elapsed > 0 else None
        self.runs.append({"step": step, **{k[len(PREFIX) :]: v for k, v in logs.items()}})
        self._log({k: v for k, v in logs.items() if v is not None})

    def _generate_local(self) -> dict[str, Any]:
        """This rank's share of the slice: ``{"rank", "indices", "outputs", "error"}``; never raises
        (an ``Exception`` becomes ``error``; ``KeyboardInterrupt`` still stops the run).

        The exception is caught *inside* TRL's ``unwrap_model_for_generation`` block: that context
        manager turns gradient checkpointing back on only when its block exits normally."""
        from trl.models import unwrap_model_for_generation

        accelerator = self.trainer.accelerator
        rank = accelerator.process_index
        error: str | None = None
        indices: list[int] = []
        outputs: list[str] = []
        try:
            with accelerator.split_between_processes(list(range(len(self.prompts)))) as share:
                indices = list(share)
            kwargs = self.trainer.args.gradient_checkpointing_kwargs
            with unwrap_model_for_generation(
                self.trainer.model_wrapped, accelerator, gradient_checkpointing_kwargs=kwargs
            ) as model:
                was_training = model.training
                model.eval()
                try:
                    outputs = self._generate(model, [self.prompts[i] for i in indices])
                except Exception as e:  # noqa: BLE001 - reported through the gather, training goes on
                    error = f"{type(e).__name__}: {e}"
                    logger.exception("tool_call_eval: generation failed on rank %d", rank)
                finally:
                    model.train(was_training)
        except Exception as e:  # noqa: BLE001 - unwrapping failed: reported the same way
            error = error or f"{type(e).__name__}: {e}"
            logger.exception("tool_call_eval: preparing generation failed on rank %d", rank)
        if error is not None:
            return {"rank": rank, "indices": [], "outputs": [], "error": error}
        return {"rank": rank, "indices": indices, "outputs": outputs, "error": None}

    def _generate(self, model: Any, prompts: list[str]) -> list[str]:
        """Greedy generation of ``prompts`` (one output each) with our batched ``generate``, in the
        training's mixed precision (``accelerator.autocast()``: bf16 where the recipe trains in bf16; on
        the CPU quality recipe that measured no faster than fp32, 72-101 s per run against 82-91 s, and
        a bf16 copy of the model no faster either, docs/quality.md); the tokenizer's padding side and
        the model's ``use_cache`` are restored afterwards."""
        from .evaluation.generate import generate

        tokenizer = self.trainer.processing_class
        side = tokenizer.padding_side
        config = getattr(model, "config", None)
        use_cache = getattr(config, "use_cache", None)
        try:
            if config is not None:
                config.use_cache = True  # the Trainer sets it False for training; decoding wants the cache
            with self.trainer.accelerator.autocast():
                return generate(
                    model, tokenizer, prompts, batch_size=self.batch_size, max_new_tokens=self.max_new_tokens
                )
        finally:
            tokenizer.padding_side = side
            if config is not None:
                config.use_cache = use_cache

    def _log(self, logs: dict[str, Any]) -> None:
        """Append ``logs`` to the trainer's log history and reporters, leaving its own logging as it was.

        ``Trainer.log``, not ``SFTTrainer.log``: the latter folds (and clears) TRL's pending token
        accuracy and entropy into whatever it logs, taking them from the next loss entry. And
        ``Trainer.log`` resets ``control.should_log`` (``CallbackHandler.on_log``), which at
        ``on_step_end`` would cancel this step's loss entry: the flag is put back.
        """
        should_log = self.trainer.control.should_log
        Trainer.log(self.trainer, logs)
        self.trainer.control.should_log = should_log


def add_tool_call_callback(trainer: Any, hammer_args: Any, training_examples=None) -> ToolCallEvalCallback | None:
    """Build the recipe's :class:`ToolCallEvalCallback` and register it on ``trainer``.

    Does nothing when ``hammer_args.tool_call_eval`` is false; logs a warning and does nothing
    under DeepSpeed ZeRO-3 or FSDP (:func:`sharded_weights_reason`).

    Args:
        trainer: the built ``SFTTrainer``.
        hammer_args: :class:`hammer_train.config.HammerArguments` (the ``tool_call_eval_*`` fields,
            ``prompt_style``, ``system_prompt``).
        training_examples: the rows the recipe trains on, for the never-training-rows check;
            ``None`` reads them again from the recipe's sources (:func:`hammer_train.data.load_examples`,
            before irrelevance mixing; a built irrelevance row shares its query with its call row).

    Returns:
        The registered callback, or ``None``.

    Raises:
        ValueError, KeyError, FileNotFoundError: from
            :func:`~hammer_train.evaluation.tool_call_slice.build_tool_call_slice` (the message names
            the benchmark), before training starts.
    """
    if not hammer_args.tool_call_eval:
        return None
    reason = sharded_weights_reason(trainer.accelerator)
    if reason:
        if trainer.accelerator.is_main_process:
            logger.warning(reason)
        return None
    if training_examples is None:
        from .data import load_examples

        training_examples, _ = load_examples(hammer_args, trainer.args.seed, mix=False)
    tool_slice = build_tool_call_slice(
        hammer_args.tool_call_eval_benchmark,
        hammer_args.tool_call_eval_irrelevance or None,
        hammer_args.tool_call_eval_rows,
        training_examples,
    )
    callback = ToolCallEvalCallback(
        trainer,
        tool_slice,
        steps=hammer_args.tool_call_eval_steps,
        max_new_tokens=hammer_args.tool_call_eval_max_new_tokens,
        batch_size=hammer_args.tool_call_eval_batch_size,
        prompt_style=hammer_args.prompt_style,
        system_prompt=hammer_args.system_prompt,
    )
    trainer.add_callback(callback)
    return callback
