"""A stand-in for ``hammer_train.cli`` in the sweep launcher tests: ``python -m sweep_point_cli train
...`` / ``evaluate ...`` take the arguments the sweep builds and write, in a real process, the files
the real commands write (adapter, ``data_report.json``, ``train_log.json`` with in-training tool-call
entries, ``results.json`` shaped like ``hammer-train evaluate``'s), in well under a second, where a
real training plus evaluation of even the 135M model takes minutes on this CPU.

Environment: ``SWEEP_FAKE_FAIL`` (point names, comma-separated) makes their training exit 3;
``SWEEP_FAKE_NO_CURVE`` (point names) leaves tool-call entries out of their ``train_log.json``.
Each training also writes ``fake_env.json``: its argv and the environment it ran in (submitit job
id, ``WANDB_RUN_GROUP``, whether ``accelerate launch`` started it).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _arg(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _names(var: str) -> set[str]:
    return {n for n in os.environ.get(var, "").split(",") if n}


def train(argv: list[str]) -> int:
    out, name = Path(_arg(argv, "--output_dir")), _arg(argv, "--run_name")
    if name in _names("SWEEP_FAKE_FAIL"):
        print(f"fake training of {name} fails", flush=True)
        return 3
    irr = float(_arg(argv, "--irrelevance_ratio"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "data_report.json").write_text(json.dumps({"irrelevance": {"target_ratio": irr, "achieved_ratio": irr}}))
    log: list[dict] = [{"loss": 2.0, "step": 10}, {"loss": 1.5, "step": 30}]
    if name not in _names("SWEEP_FAKE_NO_CURVE"):  # more [] rows: refusal learned, calls slowly lost
        for step, k in ((10, 1), (20, 2), (30, 3)):
            log.append({
                "step": step,
                "tool_call/name_accuracy": 0.9 - 0.1 * k * irr,
                "tool_call/argument_accuracy": 0.8 - 0.2 * k * irr,
                "tool_call/json_valid": 0.5 + 0.15 * k,
                "tool_call/irrelevance_accuracy": min(1.0, k * irr * 2),
                "tool_call/renamed_name_accuracy": 0.3 + 0.1 * k,
                "tool_call/call_refusal": 0.0,
                "tool_call/seconds": 1.5,
                "tool_call/cost_share": 0.05,
            })  # fmt: skip
        log.append(
            {"step": 30, "tool_call/total_seconds": 4.5, "tool_call/runs": 3, "tool_call/final_cost_share": 0.06}
        )
    log.append({"train_loss": 1.7, "train_runtime": 12.0, "step": 30})
    (out / "train_log.json").write_text(json.dumps(log))
    env = {
        "argv": sys.argv,
        "submitit_job_id": os.environ.get("SUBMITIT_LOCAL_JOB_ID") or os.environ.get("SLURM_JOB_ID"),
        "wandb_run_group": os.environ.get("WANDB_RUN_GROUP"),
        "under_accelerate": any(k.startswith("ACCELERATE_") for k in os.environ),
    }
    (out / "fake_env.json").write_text(json.dumps(env))
    (out / "adapter_model.safetensors").write_bytes(b"fake adapter")
    print(f"fake training of {name} done", flush=True)
    return 0


def evaluate(argv: list[str]) -> int:
    adapter, target = Path(_arg(argv, "--adapter")), Path(_arg(argv, "--output"))
    irr = json.loads((adapter / "data_report.json").read_text())["irrelevance"]["achieved_ratio"]
    results = {
        "model": argv[0],
        "benchmarks": {
            "sealtool": {"n": 5, "hammer": {"api_f1": 0.9 - irr, "args_f1": 0.8 - irr, "gold_calls": 6}},
            "bfcl_irrelevance": {
                "n": 5,
                "irrelevance": {"irrelevance_n": 5, "irrelevance_accuracy": 0.4 + irr, "relevance_n": 0},
                "bfcl_ast": {"accuracy": 0.4 + irr, "n": 5},
            },
        },
    }
    target.write_text(json.dumps(results))
    print(f"fake evaluation of {adapter.name} done", flush=True)
    return 0


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    return {"train": train, "evaluate": evaluate}[command](rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
