"""The multi-process path on CPU: ``accelerate launch`` with ``accelerate_configs/multi_cpu.yaml``
starts two gloo ranks that train 2 steps of the CPU recipe (on the real SmolLM2 model and BFCL
rows) and exit. Asserts both ranks trained (the logged token count covers two processes) and the
launcher returns: a rank-0-only block that left the other rank waiting in a collective would hang
here until the timeout. About a minute on 2 cores."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import requires_bfcl, requires_smollm2

pytestmark = [requires_bfcl, requires_smollm2]

ROOT = Path(__file__).resolve().parents[1]


def test_two_cpu_processes_train_and_exit(tmp_path, smollm2_path):
    recipe = yaml.safe_load((ROOT / "recipes" / "smollm2-135m.yaml").read_text())
    for src in recipe["sources"]:
        src["max_rows"] = 24  # a small slice of the real rows keeps the run short
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "accelerate_configs" / "multi_cpu.yaml"),
        str(ROOT / "scripts" / "train.py"), str(recipe_path),
        "--max_steps", "2", "--per_device_train_batch_size", "1", "--gradient_accumulation_steps", "1",
        "--max_length", "512", "--lora_r", "4", "--logging_steps", "1", "--output_dir", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"accelerate launch did not exit within 15 minutes (a rank waiting on the other?)\n{(exc.stderr or '')[-3000:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("adapter saved to") == 1  # printed by rank 0 only
    log = json.loads((out / "train_log.json").read_text())
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 2
    assert (out / "adapter_model.safetensors").is_file()
    # the logged num_tokens is summed over processes: more than one rank's batch of <= 512 tokens per step
    tokens = [e["num_tokens"] for e in log if "num_tokens" in e]
    assert tokens and tokens[-1] > 2 * 512, tokens
