"""A length curriculum: the first optimizer steps on rows fitted to a shorter ``max_length``.

With ``length_curriculum_max_length: 512`` and ``length_curriculum_steps: 400`` in a recipe whose
``max_length`` is 1024 and ``max_steps`` 800, training runs in two phases of one schedule:

1. steps 1-400 on the data built with ``max_length`` 512 (longer rows lose distractor tools until
   they fit, :mod:`hammer_train.fitting`), with the optimizer, the learning-rate schedule (over all
   800 steps) and the epoch count of the whole run. At step 400 the phase saves a checkpoint under
   ``<output_dir>/length-curriculum/checkpoint-400`` and stops;
2. steps 401-800 on the data built with ``max_length`` 1024, resumed from that checkpoint by
   transformers' ``Trainer`` (``resume_from_checkpoint``: adapter weights, optimizer, scheduler and
   RNG states are restored; as on any resume, the step count decides which epoch goes on and how
   many of its batches are skipped).

A step at 512 tokens costs about half a step at 1,024 on a CPU (``docs/quality.md``, "A length
curriculum"), so the same wall time buys more steps. This is the same two-invocation run that
section measured (``--max_length 512 ... --save_steps 400`` stopped after its checkpoint, then
``--resume_from_checkpoint``), done in one process. Nothing here trains or resumes by itself: the
phases are TRL's ``SFTTrainer`` runs; this module only decides the phase settings and stops
phase 1 (:class:`StopAtStepCallback`).
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .checks import TRAINER_STATE


logger = logging.getLogger(__name__)

__all__ = [
    "CURRICULUM_DIR",
    "StopAtStepCallback",
    "check_length_curriculum",
    "checkpoint_step",
    "first_phase",
    "phase_checkpoint",
]

CURRICULUM_DIR = "length-curriculum"  # phase 1's output folder, inside output_dir (never pushed to the Hub)


def check_length_curriculum(hammer_args: Any, sft_config: Any) -> None:
    """Check the ``length_curriculum_*`` fields against the training settings (before anything loads).

    Raises:
        RecipeError: ``length_curriculum_steps`` > 0 without ``length_curriculum_max_length``;
            a curriculum length not shorter than ``max_length``; ``max_steps`` unset (the schedule
            must not depend on the phase's row count); ``length_curriculum_steps`` >= ``max_steps``.
    """
    from .config import RecipeError

    steps, short = hammer_args.length_curriculum_steps, hammer_args.length_curriculum_max_length
    if steps == 0:
        return
    if short is None:
        raise RecipeError("length_curriculum_steps needs length_curriculum_max_length (the phase's token limit)")
    if sft_config.max_length is None or short >= sft_config.max_length:
        raise RecipeError(
            f"length_curriculum_max_length ({short}) must be shorter than max_length ({sft_config.max_length})"
        )
    if sft_config.max_steps is None or sft_config.max_steps <= 0:
        raise RecipeError("a length curriculum needs max_steps (the run's length may not depend on a phase's rows)")
    if steps >= sft_config.max_steps:
        raise RecipeError(
            f"length_curriculum_steps ({steps}) must be below max_steps ({sft_config.max_steps}); "
            "lower it, or set it to 0 to train every step at max_length"
        )


def checkpoint_step(checkpoint: str | None) -> int | None:
    """The ``global_step`` of a Trainer checkpoint folder (its ``trainer_state.json``), None without one.

    Raises:
        FileNotFoundError: ``checkpoint`` has no ``trainer_state.json``.
    """
    if not checkpoint:
        return None
    state = Path(checkpoint) / TRAINER_STATE
    if not state.is_file():
        raise FileNotFoundError(f"resume_from_checkpoint: {checkpoint} has no {TRAINER_STATE}")
    return int(json.loads(state.read_text())["global_step"])


def first_phase(hammer_args: Any, sft_config: Any) -> Any | None:
    """The ``SFTConfig`` of phase 1, or None when there is no phase 1 to run.

    None when the recipe has no curriculum, and when ``resume_from_checkpoint`` is already at or
    past ``length_curriculum_steps`` (the run goes on in phase 2). Otherwise a copy of
    ``sft_config`` with ``max_length`` set to the curriculum's and ``output_dir`` to
    ``<output_dir>/length-curriculum``; an earlier checkpoint is resumed in phase 1.
    """
    steps = hammer_args.length_curriculum_steps
    if steps == 0:
        return None
    done = checkpoint_step(sft_config.resume_from_checkpoint)
    if done is not None and done >= steps:
        return None
    phase = copy.deepcopy(sft_config)
    phase.max_length = hammer_args.length_curriculum_max_length
    phase.output_dir = str(Path(sft_config.output_dir) / CURRICULUM_DIR)
    phase.push_to_hub = False
    return phase


class StopAtStepCallback(TrainerCallback):
    """Save a checkpoint at optimizer step ``step`` and stop training there (phase 1's end)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


def phase_checkpoint(phase_config: Any, step: int) -> str:
    """Where phase 1 wrote its last checkpoint (``<phase output_dir>/checkpoint-<step>``).

    Raises:
        FileNotFoundError: the checkpoint is not there (phase 1 stopped before ``step``).
    """
    path = Path(phase_config.output_dir) / f"checkpoint-{step}"
    if not (path / TRAINER_STATE).is_file():
        raise FileNotFoundError(f"length curriculum: phase 1 wrote no checkpoint at {path}")
    logger.info("length curriculum: phase 2 resumes from %s", path)
    return str(path)
