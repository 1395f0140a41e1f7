"""benchmarks/train_throughput.py: the FLOP formula (hand-computed), the FLOP spec read off a real PEFT model,
and 1-step runs of configuration D (SmolLM2) and of the Qwen2-shaped random-weight architecture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import requires_bfcl, requires_smollm2


ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

from throughput_flops import FlopSpec, flop_spec, training_flops  # noqa: E402
from throughput_report import markdown, summarize  # noqa: E402


def test_training_flops_by_hand():
    # N = 1000 frozen weights, sum r*(d_in+d_out) = 100, 2 layers, attention width 8, head 8 -> 50;
    # one micro-batch of 2 rows x 10 tokens: 20 tokens, sum B*S^2 = 200; 3 positions with a next-token label
    spec = FlopSpec(frozen_params=1000, lora_terms=100, layers=2, attention_width=8, hidden=8, vocab=50)
    trimmed = training_flops(spec, tokens=20, tokens_x_seq=200, head_positions=3)
    assert trimmed["frozen"] == 4 * 1000 * 20 == 80_000  # forward 2N + activation gradients 2N per token
    assert trimmed["lora"] == 6 * 100 * 20 == 12_000  # forward 2x, backward 4x
    assert trimmed["attention"] == 12 * 2 * 8 * 200 == 38_400  # forward 4*L*S*W per token, backward twice that
    assert trimmed["head"] == 4 * 8 * 50 * 3 == 4_800
    assert trimmed["model"] == 135_200 and trimmed["recompute"] == 0 and trimmed["hardware"] == 135_200
    full = training_flops(spec, tokens=20, tokens_x_seq=200, head_positions=20, recompute=True)
    assert full["head"] == 32_000 and full["model"] == 162_400
    # activation checkpointing recomputes the forward: 2N*T + 2*L_r*T + 4*L*W*sum(B*S^2)
    assert full["recompute"] == 40_000 + 4_000 + 12_800
    assert full["hardware"] == 162_400 + 56_800


@pytest.mark.parametrize("tied", [True, False])
def test_flop_spec_of_a_real_lora_model(tied):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=32,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=tied,
    )
    model = get_peft_model(Qwen2ForCausalLM(config), LoraConfig(r=2, target_modules="all-linear"))
    spec = flop_spec(model)
    # head_dim 4: q 8x8, k 8x4, v 8x4, o 8x8, gate 8x16, up 8x16, down 16x8 (the LM head is not counted)
    assert spec.frozen_params == 64 + 32 + 32 + 64 + 128 + 128 + 128 == 576
    # r * (d_in + d_out): q 2*16, k 2*12, v 2*12, o 2*16, gate, up, down 2*24 each
    assert spec.lora_terms == 32 + 24 + 24 + 32 + 3 * 48 == 256
    assert (spec.layers, spec.attention_width, spec.hidden, spec.vocab) == (1, 8, 8, 32)


def _run(label: float, rep: int, cfg: str, flops: float = 1e9) -> dict:
    return {
        "config": cfg,
        "repeat": rep,
        "description": cfg,
        "settings": {"activation_checkpointing": False},
        "precision": "bf16" if cfg == "D" else "fp32",
        "head_at": "labels" if cfg == "D" else "all positions",
        "wall_s": 10.0,
        "tokens": {},
        "tokens_per_s": {"nonpad": 10 * label, "label": label, "total": 11 * label},
        "padding_share": 0.0,
        "peak_rss_mib": 100.0,
        "gpu_peak_mib": None,
        "flop_spec": {},
        "flops_per_s": {"model": flops, "hardware": flops},
    }


def test_summary_ratios_pair_repeats_and_shares_use_the_dtype_peak():
    runs = [_run(1.0, 0, "C"), _run(2.0, 0, "D", 4e9), _run(1.0, 1, "C"), _run(3.0, 1, "D", 4e9)]
    runs.append({"config": "L", "repeat": 0, "skipped": "liger-kernel is not installed"})
    summary = summarize(runs, {"fp32": {"best_gflops": 10.0}, "bf16": {"best_gflops": 20.0}})
    assert summary["ratios"]["D/C"]["label_tokens_per_s"] == 2.5  # median of 2.0 and 3.0
    assert "D/A" not in summary["ratios"] and summary["not_run"] == {"L": "liger-kernel is not installed"}
    assert summary["per_config"]["C"]["share_of_peak"]["model"] == pytest.approx(0.1)  # 1 of 10 GFLOP/s fp32
    assert summary["per_config"]["D"]["share_of_peak"]["model"] == pytest.approx(0.2)  # 4 of 20 GFLOP/s bf16


def _bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, str(BENCH / "train_throughput.py"), "--steps", "1", "--repeats", "1", "--threads", "1"]
    cmd += ["--rows_read", "30", "--peak_seconds", "0.01", "--output", str(out), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.mark.slow
@requires_bfcl
@requires_smollm2
def test_configuration_d_one_step(tmp_path):
    from hammer_train.precision import detect_bf16

    result = _bench(tmp_path, "--configs", "D", "--rows", "4")
    d = result["per_config"]["D"]
    assert d["settings"]["label_logits_only"] is True and d["head_at"] == "labels"
    assert (
        d["settings"]["bf16"] is detect_bf16(use_cpu=True).bf16 and d["settings"]["bf16_auto"]["requested"] == "auto"
    )
    tokens = d["tokens_per_run"]
    assert 0 < tokens["label"] < tokens["nonpad"] <= tokens["total"] and tokens["head"] < tokens["total"]
    assert d["tokens_per_s"]["label"] > 0 and 0 < d["share_of_peak"]["model"] < 1
    peak, native = result["settings"]["peak"], detect_bf16(use_cpu=True)
    assert "fp32" in peak and "LM head" in result["settings"]["flop_formula"]
    # bf16 is timed only where the CPU has it; elsewhere emulated bf16 would take minutes
    assert ("bf16" in peak) is native.bf16 and ("bf16_not_measured" in peak) is not native.bf16


@pytest.mark.slow
@requires_bfcl
@requires_smollm2
def test_qwen2_tiny_from_prepared_rows(tmp_path):
    rows = tmp_path / "rows"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, str(BENCH / "train_throughput.py"), "--rows", "4", "--rows_read", "30"]
    subprocess.run([*cmd, "--prepare_only", str(rows)], check=True, capture_output=True, env=env, timeout=600)
    result = _bench(tmp_path, "--prepared", str(rows), "--arch", "qwen2-tiny", "--configs", "C,D")
    assert result["data"]["vocab"] == 151_936 and result["data"]["arch"] == "qwen2-tiny"
    c, d = result["per_config"]["C"], result["per_config"]["D"]
    assert c["flop_spec"]["vocab"] == 151_936 and c["flop_spec"]["layers"] == 2
    assert c["head_at"] == "all positions" and d["head_at"] == "labels"
    assert c["tokens_per_run"]["total"] == d["tokens_per_run"]["total"]  # same rows, same batches
    assert result["ratios"]["D/C"]["label_tokens_per_s"] > 1  # the 151,936-wide head at ~6% of the positions
    assert c["peak_rss_mib"] > 0


def test_gpu_script_parses():
    subprocess.run(["bash", "-n", str(BENCH / "gpu_throughput.sh")], check=True)


def test_tables_say_when_no_peak_was_measured():
    """``--peak_seconds 0`` (as a quick check runs it): the tables say so instead of an empty peak line."""
    runs = [_run(1.0, 0, "C"), _run(2.0, 0, "D", 4e9)]
    meta, settings = {"rows": 4, "rows_built": 30}, {"steps": 1, "repeats": 1, "threads": 1, "peak": None}
    table = markdown(summarize(runs, None), meta, settings)
    assert "Matmul peak not measured (--peak_seconds 0)" in table and "(?)" not in table
    peak = {"fp32": {"best_gflops": 10.0}, "device": "cpu"}
    measured = markdown(summarize(runs, peak), meta, {**settings, "peak": peak})
    assert "Matmul peak measured in this run: fp32 10 GFLOP/s (cpu)." in measured
