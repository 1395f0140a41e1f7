"""Rows, tokenizer and model for ``benchmarks/train_throughput.py``: built once, shared by every configuration.

Rows (:func:`prepare_rows`) come from ``--data_recipe`` (default: ``--recipe``): its sources, masking and
prompt, tokenized by its model's tokenizer, fitted into ``--recipe``'s ``max_length``, with its seed.
They are saved as two views of the same rows (``ours``: raw rows for the dynamic masking transform;
``plain``: the same rows as fitted prompt / completion conversations, for plain TRL), with the
tokenizer, into one folder. ``--prepare_only DIR`` writes that folder and stops, ``--prepared DIR``
reads it: a machine without the row sources (a GPU machine without ``bfcl-eval`` or the SmolLM2 GGUF)
then needs only the folder.

Model (:func:`prepare_model`): ``--arch recipe`` trains ``--recipe``'s model; any other ``--arch`` builds a
checkpoint with random weights from :data:`ARCHS` (no download), in ``--recipe``'s ``dtype``, saved
once and loaded by every configuration like a real checkpoint. Throughput does not depend on the
weights' values. The rows' tokenizer must fit the architecture's vocabulary: SmolLM2's ids are below
49,152, valid for Qwen2's 151,936.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


__all__ = ["ARCHS", "build_random_checkpoint", "prepare_model", "prepare_rows", "read_recipe"]

_QWEN2 = dict(
    vocab_size=151_936,
    tie_word_embeddings=True,
    max_position_embeddings=32_768,
    rms_norm_eps=1e-6,
    rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
    hidden_act="silu",
)
ARCHS: dict[str, dict[str, Any]] = {
    # Qwen2.5-1.5B(-Instruct)'s config.json: the base of recipes/hammer1.5b.yaml
    "qwen2-1.5b": dict(
        _QWEN2,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
    ),
    # Qwen2.5's vocabulary on a 2-layer, 64-wide body (as benchmarks/label_logits.py): the head dominates
    "qwen2-tiny": dict(
        _QWEN2,
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
}
"""Architectures ``--arch`` builds with random weights (``transformers.Qwen2Config`` keyword arguments)."""


def read_recipe(path: str):
    """``parse_recipe`` to read a recipe's settings (lengths, batch, dtype, data fields) on any machine: with
    ``use_cpu: true``, so that a GPU recipe's ``bf16: true`` parses on a CPU, and ``report_to: none``."""
    from hammer_train.recipe_parser import parse_recipe

    return parse_recipe([path, "--use_cpu", "true", "--report_to", "none"])


def _load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def prepare_rows(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Build the rows once and save them with the tokenizer into ``folder`` (``ours/``, ``plain/``,
    ``tokenizer/``, ``rows.json``).

    Args:
        args: ``--recipe`` (``max_length``, batch size), ``--data_recipe`` (sources, masking, prompt,
            tokenizer, seed), ``--rows`` (first N rows kept), ``--rows_read`` (rows read per source).

    Returns:
        The rows' metadata (also written to ``rows.json``): rows kept and built, dropped rows, token
        lengths, masking mode, the tokenizer's size.
    """
    from hammer_train.data import build_dataset
    from hammer_train.modeling import resolve_model

    hargs, data_sft, data_mcfg = read_recipe(args.data_recipe or args.recipe)
    _, sft, _ = read_recipe(args.recipe)
    if args.rows_read:
        for src in hargs.sources:
            src.max_rows = args.rows_read
    tok = _load_tokenizer(resolve_model(data_mcfg.model_name_or_path))
    common = dict(tokenizer=tok, max_length=sft.max_length)
    tokenized, report = build_dataset(hargs, data_sft.seed, batch_size=sft.per_device_train_batch_size, **common)
    raw = tokenized.with_format(None)  # drop the masking transform: keep the raw rows
    n = min(args.rows, len(raw))
    raw = raw.select(range(n))
    # the same rows as fitted conversations (distractor tools removed where a row was too long), in order
    conv, _ = build_dataset(hargs, data_sft.seed, conversations=True, **common)
    conv = conv.select(range(n)).remove_columns(
        [c for c in conv.column_names if c not in ("prompt", "completion", "tools")]
    )
    folder.mkdir(parents=True, exist_ok=True)
    raw.save_to_disk(str(folder / "ours"))
    conv.save_to_disk(str(folder / "plain"))
    tok.save_pretrained(str(folder / "tokenizer"))
    lengths = list(raw["length"])
    meta = {
        "rows": n,
        "rows_built": report.final_rows,
        "dropped_too_long": report.tokens.get("dropped_too_long"),
        "rows_fitted": report.length.get("rows_fitted"),
        "row_lengths": {
            "min": min(lengths),
            "max": max(lengths),
            "mean": round(sum(lengths) / n, 1),
            "total": sum(lengths),
        },
        "masking_mode": hargs.masking_mode,
        "max_length": sft.max_length,
        "tokenizer_size": len(tok),
        "data_model": data_mcfg.model_name_or_path,
    }
    (folder / "rows.json").write_text(json.dumps(meta, indent=1))
    return meta


def build_random_checkpoint(arch: str, dtype: str | None, tokenizer_path: str, folder: Path) -> dict[str, Any]:
    """Save a :data:`ARCHS` model with random weights (seed 0) and the tokenizer into ``folder``.

    Built on the GPU when torch sees one (fast initialization), saved with ``save_pretrained``.

    Args:
        arch: a key of :data:`ARCHS`.
        dtype: the recipe's ``dtype`` (``"float32"``, ``"bfloat16"``, ...); ``"auto"`` or None save
            bfloat16, as Qwen2.5's checkpoints are.
        tokenizer_path: folder of the rows' tokenizer.

    Returns:
        ``{"arch", "parameters", "hidden", "layers", "vocab", "dtype"}``.

    Raises:
        KeyError: unknown ``arch``.
        ValueError: the tokenizer has more ids than the architecture's vocabulary.
    """
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    if arch not in ARCHS:
        raise KeyError(f"--arch {arch!r}: not one of {sorted(ARCHS)}")
    tok = _load_tokenizer(tokenizer_path)
    spec = ARCHS[arch]
    if len(tok) > spec["vocab_size"]:
        raise ValueError(f"--arch {arch}: the tokenizer has {len(tok)} ids, the vocabulary only {spec['vocab_size']}")
    torch_dtype = getattr(torch, dtype) if dtype not in (None, "auto") else torch.bfloat16
    config = Qwen2Config(
        **spec, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id
    )
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    out = {
        "arch": arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "hidden": config.hidden_size,
        "layers": config.num_hidden_layers,
        "vocab": config.vocab_size,
        "dtype": str(torch_dtype).removeprefix("torch."),
    }
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out


def prepare_model(args: argparse.Namespace, workdir: Path, tokenizer_path: str) -> dict[str, Any]:
    """The model every configuration loads: ``--recipe``'s (``--arch recipe``) or a random checkpoint.

    Returns:
        ``{"model_path": str, "arch": str, ...}`` (with :func:`build_random_checkpoint`'s fields for a random one).
    """
    from hammer_train.modeling import resolve_model

    _, _, mcfg = read_recipe(args.recipe)
    if args.arch == "recipe":
        return {
            "model_path": resolve_model(mcfg.model_name_or_path),
            "arch": "recipe",
            "model": mcfg.model_name_or_path,
        }
    folder = workdir / "model"
    info = build_random_checkpoint(args.arch, mcfg.dtype, tokenizer_path, folder)
    return {"model_path": str(folder), **info}
