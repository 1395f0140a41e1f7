"""The multi-process path on CPU: ``accelerate launch`` with ``accelerate_configs/multi_cpu.yaml``
starts two gloo ranks that train 2 steps of the CPU recipe (on the real SmolLM2 model and BFCL
rows) and exit. Asserts both ranks trained (the logged token count covers two processes) and the
launcher returns: a rank-0-only block that left the other rank waiting in a collective would hang
here until the timeout; the test then prints each rank's Python stack (faulthandler) so the failure
says where it waited. About a minute on 2 cores."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import requires_bfcl, requires_smollm2


pytestmark = [requires_bfcl, requires_smollm2]

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600  # about a minute when it works; a hang is killed after this


def _ranks(recipe_path: Path) -> list[int]:
    """Process ids of the training ranks (the processes whose command line names this recipe)."""
    pids = []
    for proc_dir in Path("/proc").iterdir():
        try:
            cmdline = (proc_dir / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if (
            proc_dir.name.isdigit()
            and str(recipe_path).encode() in cmdline
            and b"accelerate.commands.launch" not in b" ".join(cmdline)
        ):
            pids.append(int(proc_dir.name))
    return pids


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
    # PYTHONFAULTHANDLER: a rank sent SIGABRT prints its Python stack, so a hang says where it is
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONFAULTHANDLER": "1",
    }
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        for pid in _ranks(recipe_path):
            try:
                os.kill(pid, signal.SIGABRT)  # each rank's faulthandler dumps its stack to stderr
            except ProcessLookupError:
                pass
            time.sleep(3)  # one rank at a time, so the two stacks do not interleave
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        at = stderr.find("Fatal Python error")  # the ranks' stacks, then the launcher's summary
        dumps = stderr[at:][:12000] if at >= 0 else "no rank was left; the launcher's stderr:\n" + stderr[-4000:]
        pytest.fail(f"accelerate launch did not exit within {TIMEOUT_S} s (a rank waiting on the other?)\n{dumps}")
    assert proc.returncode == 0, stderr[-3000:]
    assert stdout.count("adapter saved to") == 1  # printed by rank 0 only
    log = json.loads((out / "train_log.json").read_text())
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 2
    assert (out / "adapter_model.safetensors").is_file()
    # the logged num_tokens is summed over processes: more than one rank's batch of <= 512 tokens per step
    tokens = [e["num_tokens"] for e in log if "num_tokens" in e]
    assert tokens and tokens[-1] > 2 * 512, tokens
