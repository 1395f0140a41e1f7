#!/usr/bin/env bash
# The multi-process path on a CPU-only machine: two ranks over gloo train a few steps of the CPU
# default recipe (about 70 s on 2 idle cores; tests/test_multi_process.py runs a shorter one):
#   bash benchmarks/multi_process_cpu.sh [OUTPUT_DIR]
#
# `accelerate launch --cpu --num_processes 2` starts ONE process with accelerate 1.15; the
# MULTI_GPU launcher with no GPU and `use_cpu: true` in the recipe gives two gloo ranks that each
# train on their own share of rows (DESIGN.md, "Multi-process on CPU").
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/multi-process-cpu}
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
"$PY" -m accelerate.commands.launch --config_file accelerate_configs/multi_cpu.yaml \
    scripts/train.py recipes/smollm2-135m.yaml \
    --max_steps 2 --per_device_train_batch_size 1 --max_length 512 --logging_steps 1 \
    --output_dir "$OUT"
"$PY" - "$OUT" <<'PY'
import json, sys
log = json.load(open(f"{sys.argv[1]}/train_log.json"))
print("losses:", [e.get("loss") for e in log if "loss" in e])
PY
