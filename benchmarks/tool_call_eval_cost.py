"""Cost of the in-training tool-call metrics (:class:`hammer_train.callbacks.ToolCallEvalCallback`)
as a share of training time, measured as a ratio in one run so that machine load cancels out.

Usage::

    python benchmarks/tool_call_eval_cost.py [--recipe recipes/smollm2-135m-quality.yaml] [--steps 6]
        [--every 3] [--rows 36] [--max_new_tokens 80] [--batch_size 8] [--bf16 auto] [--output FILE.json]

Trains ``--steps`` optimizer steps of the recipe (its model, LoRA, data, batch and ``max_length``;
the rows are the recipe's own, first 200 per source; a length curriculum is turned off, so every
step is timed at ``max_length``, an upper end for a curriculum's cheaper first phase) with the callback registered every
``--every`` steps, and times each training step (``on_step_begin`` to ``on_step_end``, before the
callback's run) and each callback run. Prints per-step and per-run seconds, their ratio, and the
share of training time the callback would take over the recipe's ``max_steps`` at
``tool_call_eval_steps`` (default :data:`hammer_train.callbacks.DEFAULT_STEPS`):
``runs * run_s / (max_steps * step_s + runs * run_s)``, with ``runs`` = the multiples of the
interval plus the last step.

Early in training the model's outputs run to ``--max_new_tokens`` (the base model writes prose);
a trained adapter stops after its short JSON answer, so runs late in training cost less: the
measured ratio is an upper end.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default=str(ROOT / "recipes" / "smollm2-135m-quality.yaml"))
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--rows", type=int, default=36)
    p.add_argument("--max_new_tokens", type=int, default=80)
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--interval", type=int, default=None, help="tool_call_eval_steps to extrapolate to")
    p.add_argument("--bf16", default=None, help="the recipe's bf16 value to train with (true, false, auto)")
    p.add_argument("--output", default=None)
    return p


def make_step_timer():
    """A TrainerCallback timing each optimizer step (``on_step_begin`` to ``on_step_end``) in seconds."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_begin(self, args, state, control, **kw):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.times.append(time.perf_counter() - self._t)

    return StepTimer()


def train_timed(a: argparse.Namespace) -> tuple[list[float], list[dict], int]:
    """Train ``a.steps`` steps of the recipe with the callback every ``a.every`` steps.

    Returns (step seconds, the callback's runs, the recipe's own ``max_steps``)."""
    from hammer_train.callbacks import add_tool_call_callback
    from hammer_train.recipe_parser import parse_recipe

    sys.path.insert(0, str(ROOT / "tests"))
    from tool_call_train import build_trainer

    overrides = ["--max_steps", str(a.steps), "--output_dir", "/tmp/tool_call_eval_cost", "--report_to", "none"]
    overrides += ["--length_curriculum_steps", "0"]  # every step timed at the recipe's max_length
    h, s, m = parse_recipe([a.recipe, *overrides, *(["--bf16", a.bf16] if a.bf16 else [])])
    recipe_steps = parse_recipe([a.recipe])[1].max_steps
    h.tool_call_eval, h.tool_call_eval_rows, h.tool_call_eval_steps = True, a.rows, a.every
    h.tool_call_eval_max_new_tokens, h.tool_call_eval_batch_size = a.max_new_tokens, a.batch_size
    timer = make_step_timer()
    trainer = build_trainer(h, s, m, max_rows=200)
    trainer.add_callback(timer)  # before the tool-call callback: its step time excludes the run
    callback = add_tool_call_callback(trainer, h)
    trainer.train()
    return timer.times, callback.runs, recipe_steps


def main(argv: list[str] | None = None) -> int:
    a = make_parser().parse_args(argv)
    from hammer_train.callbacks import DEFAULT_STEPS

    times, runs_done, recipe_steps = train_timed(a)
    step_s = statistics.median(times[1:] or times)  # first step warms up
    run_s = statistics.median(r["seconds"] for r in runs_done)
    interval = a.interval or DEFAULT_STEPS
    runs = recipe_steps // interval + (recipe_steps % interval != 0)
    share = runs * run_s / (recipe_steps * step_s + runs * run_s)
    result = {
        "recipe": a.recipe,
        "rows": a.rows,
        "max_new_tokens": a.max_new_tokens,
        "batch_size": a.batch_size,
        "step_seconds": [round(t, 2) for t in times],
        "run_seconds": [r["seconds"] for r in runs_done],
        "runs": runs_done,
        "median_step_s": round(step_s, 2),
        "median_run_s": round(run_s, 2),
        "run_over_step": round(run_s / step_s, 2),
        "extrapolated": {
            "max_steps": recipe_steps,
            "tool_call_eval_steps": interval,
            "runs": runs,
            "share": round(share, 4),
            "interval_for_10pct": math.ceil(run_s / step_s * 9),
        },
    }
    text = json.dumps(result, indent=1)
    print(text)
    if a.output:
        Path(a.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
