"""Checks run before anything heavy loads: the model a recipe names exists, a checkpoint to
resume from is complete, and the training values are in range. Each failure is a :class:`~hammer_train.config.RecipeError` naming the
recipe field and the file at fault, so that a command ends with one line instead of a traceback
minutes into a run.
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import RecipeError


__all__ = [
    "check_checkpoint",
    "check_lora_target_modules",
    "check_model",
    "check_push_to_hub",
    "check_recipe_file",
    "check_safetensors",
    "check_training_values",
    "dry_run_model_check",
]

TRAINER_STATE = "trainer_state.json"
"""What ``transformers.Trainer`` writes into every checkpoint folder."""

_ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
_MODEL_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def check_model(
    name_or_path: str | None,
    revision: str | None = None,
    field: str = "model_name_or_path",
    error: type[Exception] = RecipeError,
) -> str:
    """Check that a model can be found without loading it, and return what ``from_pretrained``
    takes (see :func:`hammer_train.modeling.resolve_model`; a GGUF file is de-quantized here, once).

    A hub id is looked up through ``huggingface_hub`` by its ``config.json``: in the local cache when
    ``HF_HUB_OFFLINE=1``, else on the Hub (the token comes from the environment or the HF cache).

    Args:
        field: how the model is named in messages (the recipe field, or a command's argument).
        error: the exception raised (a recipe's model: :class:`RecipeError`).

    Raises:
        RecipeError (or ``error``): no model named, a local path or GGUF file that does not exist, a
            folder without ``config.json``, or a hub id that is neither cached nor on the Hub; the
            message names ``field`` and the model.
    """
    from .modeling import resolve_model

    try:
        resolved = resolve_model(name_or_path)
    except (FileNotFoundError, ValueError) as exc:
        raise error(str(exc).replace("model_name_or_path", field, 1)) from None
    if Path(resolved).exists():
        return resolved
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        hf_hub_download(resolved, "config.json", revision=revision)
    except LocalEntryNotFoundError:
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false", "False")
        where = "the local Hugging Face cache (HF_HUB_OFFLINE is set)" if offline else "the local cache or the Hub"
        raise error(f"{field} {name_or_path!r}: not found in {where}") from None
    except (HfHubHTTPError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{field} {name_or_path!r}: cannot be read from the Hub ({first})") from None
    return resolved


def dry_run_model_check(model_config, trust_remote_code: bool = False) -> str:
    """What ``hammer-train train --dry_run`` checks of the model without going online, converting a
    GGUF file or reading weights: when the model is already on this machine (a local folder, a hub
    id whose ``config.json`` is in the Hugging Face cache, a GGUF file converted by an earlier run),
    :func:`check_model`'s checks and :func:`check_lora_target_modules` on its ``config.json``.

    Returns:
        One line for the log: where the model was found and what was checked, or why it was not
        (the model is not on this machine yet; the real run looks it up).

    Raises:
        RecipeError: a local path or GGUF file that does not exist, a folder without ``config.json``,
            or LoRA target / modules-to-save entries that match no module (as in the real run).
    """
    from huggingface_hub import try_to_load_from_cache

    from .modeling import gguf_cache_folder, gguf_path, resolve_model

    name = model_config.model_name_or_path
    try:
        gguf = gguf_path(name) if name else None
        path = str(gguf_cache_folder(gguf)) if gguf is not None else resolve_model(name)  # no conversion here
    except (FileNotFoundError, ValueError) as exc:
        raise RecipeError(str(exc)) from None
    if gguf is not None and not Path(path, "config.json").is_file():
        return f"model {name!r}: not checked (the GGUF file is not converted yet; the run converts it once)"
    if not Path(path).exists():  # a hub id
        cached = try_to_load_from_cache(path, "config.json", revision=model_config.model_revision)
        if not isinstance(cached, str):
            return f"model {name!r}: not checked (not in the local Hugging Face cache; a dry run stays offline)"
        path = str(Path(cached).parent)
    check_lora_target_modules(model_config, path, trust_remote_code)
    return f"model {name!r}: found at {path}; LoRA target modules checked"


def check_safetensors(folder: Path, field: str) -> None:
    """Every ``*.safetensors`` file directly in ``folder`` must have a readable header covering the
    whole file (``safetensors.safe_open``), so that a truncated download or copy is named here.

    Raises:
        RecipeError: naming ``field`` and the file.
    """
    from safetensors import safe_open

    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt"):
                pass
        except Exception as exc:  # SafetensorError derives from Exception only
            raise RecipeError(
                f"{field}: {path} cannot be read ({exc}; {path.stat().st_size} bytes): truncated or not safetensors"
            ) from None


def check_checkpoint(folder: str | Path, field: str = "resume_from_checkpoint") -> Path:
    """Check a ``Trainer`` checkpoint folder before anything loads: it exists, holds
    ``trainer_state.json`` and the weights (a PEFT adapter: ``adapter_config.json`` and
    ``adapter_model.safetensors``; or full model weights), and its safetensors files are whole.

    Returns:
        The folder.

    Raises:
        RecipeError: naming ``field`` and the missing or unreadable file.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise RecipeError(
            f"{field}: {str(folder)!r} is not a folder (give a checkpoint folder, e.g. outputs/NAME/checkpoint-500)"
        )
    if not (path / TRAINER_STATE).is_file():
        raise RecipeError(f"{field}: {path} has no {TRAINER_STATE}: not a Trainer checkpoint folder")
    has_adapter = any((path / n).is_file() for n in _ADAPTER_WEIGHTS)
    if (path / "adapter_config.json").is_file() or has_adapter:
        if not (path / "adapter_config.json").is_file():
            raise RecipeError(f"{field}: {path} has adapter weights but no adapter_config.json")
        if not has_adapter:
            raise RecipeError(f"{field}: {path} has adapter_config.json but no {_ADAPTER_WEIGHTS[0]}")
    elif not any((path / n).is_file() for n in _MODEL_WEIGHTS) and not any(path.glob("pytorch_model_fsdp_*")):
        raise RecipeError(f"{field}: {path} holds no adapter ({_ADAPTER_WEIGHTS[0]}) and no model weights")
    check_safetensors(path, field)
    return path


def check_recipe_file(path: Path) -> None:
    """Read a recipe file as ``TrlParser`` will, so that a file that is not UTF-8, not YAML or not a
    mapping is one error naming the file and the line (``TrlParser`` would raise a bare
    ``UnicodeDecodeError`` / ``yaml.YAMLError``).

    Raises:
        RecipeError: naming the file, and the byte or the line and column at fault.
    """
    import yaml

    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RecipeError(f"{path}: byte {exc.start} (line {line}) is not UTF-8") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(f"{path}: {where}not valid YAML ({problem})") from None
    if not isinstance(config, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping of field: value, got {type(config).__name__}")


def _in_range(name: str, value, ok: bool, expected: str) -> None:
    if not ok:
        raise RecipeError(f"{name} must be {expected}, got {value!r}")


def check_training_values(sft_config, model_config) -> None:
    """Range checks of the TRL / PEFT fields that ``TrlParser`` parses without checking, and that
    would otherwise fail after the model has loaded (PEFT's LoRA layers, torch's optimizer and data
    loader, numpy's seeding), or train nothing.

    Args:
        sft_config: the recipe's ``trl.SFTConfig``.
        model_config: the recipe's ``trl.ModelConfig``.

    Raises:
        RecipeError: the first field out of range, named with its value: ``lora_r`` < 1,
            ``lora_alpha`` <= 0, ``lora_dropout`` outside [0, 1) (with ``use_peft``);
            ``learning_rate`` or ``weight_decay`` < 0; ``per_device_train_batch_size``,
            ``gradient_accumulation_steps`` or ``max_length`` < 1; ``num_train_epochs`` <= 0
            without ``max_steps``; ``seed`` outside [0, 2**32).
    """
    s, m = sft_config, model_config
    if m.use_peft:
        _in_range("lora_r", m.lora_r, m.lora_r >= 1, "an integer >= 1")
        _in_range("lora_alpha", m.lora_alpha, m.lora_alpha > 0, "> 0")
        _in_range("lora_dropout", m.lora_dropout, 0 <= m.lora_dropout < 1, "in [0, 1)")
    _in_range("learning_rate", s.learning_rate, s.learning_rate >= 0, ">= 0")
    _in_range("weight_decay", s.weight_decay, s.weight_decay >= 0, ">= 0")
    for name in ("per_device_train_batch_size", "gradient_accumulation_steps"):
        _in_range(name, getattr(s, name), getattr(s, name) >= 1, ">= 1")
    _in_range("max_length", s.max_length, s.max_length is None or s.max_length >= 1, ">= 1 (or null: no limit)")
    if s.max_steps <= 0:  # transformers trains num_train_epochs epochs unless max_steps > 0
        _in_range("num_train_epochs", s.num_train_epochs, s.num_train_epochs > 0, "> 0 (or set max_steps > 0)")
    _in_range("seed", s.seed, 0 <= s.seed < 2**32, "in [0, 2**32)")


def check_lora_target_modules(model_config, model_path: str, trust_remote_code: bool = False) -> None:
    """Check, before the weights load, that every entry of ``lora_target_modules`` and
    ``lora_modules_to_save`` names a module of the model. PEFT raises only when *no* target entry
    matches, after loading; it adapts the rest without a word when one entry of a list is a typo,
    and skips a ``modules_to_save`` entry that matches nothing, so that module is silently not trained.

    The model is built from its ``config.json`` on the meta device (``accelerate.init_empty_weights``:
    no weights read, no memory), and each entry is matched by PEFT's own rules: for targets
    ``peft.tuners.tuners_utils.check_target_module_exists`` (a list entry matches a module name or
    its dotted suffix; a string is a regular expression over the whole name); for modules to save,
    the suffix test of ``peft.utils.other._set_trainable`` (``name.endswith(entry)``). A target of
    ``all-linear`` or unset (PEFT's default for the architecture) is not checked.

    Args:
        model_config: the recipe's ``trl.ModelConfig`` (``use_peft``, ``lora_target_modules``,
            ``lora_modules_to_save``, ``model_revision``).
        model_path: what :func:`check_model` returned (a local folder or a hub id whose
            ``config.json`` is cached).
        trust_remote_code: the recipe's (``SFTConfig``) value: a model with its own code is only
            built where the recipe allows that code to run.

    Raises:
        RecipeError: naming the field and its entries that match no module, with the model's Linear
            and Embedding module names to choose from.
    """
    targets = model_config.lora_target_modules
    if targets == "all-linear":
        targets = None
    to_save = list(model_config.lora_modules_to_save or [])
    if not model_config.use_peft or (targets is None and not to_save):
        return
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    model = _meta_model(model_path, model_config.model_revision, bool(trust_remote_code))
    names = [name for name, _ in model.named_modules() if name]

    def matches(pattern: str | list[str]) -> bool:
        lora = LoraConfig(target_modules=pattern)
        return any(check_target_module_exists(lora, name) for name in names)

    if isinstance(targets, str):  # a regular expression over the whole name
        _no_module("lora_target_modules", [] if matches(targets) else [targets], model_config, model)
    elif targets is not None:
        _no_module("lora_target_modules", [e for e in targets if not matches([e])], model_config, model)
    missing = [entry for entry in to_save if not any(name.endswith(entry) for name in names)]
    _no_module("lora_modules_to_save", missing, model_config, model)


def _meta_model(model_path: str, revision: str | None, trust_remote_code: bool):
    """The model of ``config.json`` on the meta device: module names and types, no weights."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_path, revision=revision, trust_remote_code=trust_remote_code)
    with init_empty_weights():
        return AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)


def _no_module(field: str, missing: list[str], model_config, model) -> None:
    """Raise the :class:`RecipeError` of ``field``'s entries that match no module (if any)."""
    if not missing:
        return
    from torch import nn

    kinds = (nn.Linear, nn.Embedding)
    leaves = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if n and isinstance(m, kinds)})
    extra = ", or all-linear" if field == "lora_target_modules" else ""
    raise RecipeError(
        f"{field}: {missing} match no module of {model_config.model_name_or_path} "
        f"({type(model).__name__}); its Linear and Embedding modules: {leaves}{extra}"
    )


def check_push_to_hub(sft_config) -> None:
    """``push_to_hub: true`` uploads at the end of training: check before anything loads that it can.

    Nothing is sent: the token is looked up the way ``huggingface_hub`` will (``HF_TOKEN``, then the
    token file of ``hf auth login``), and never read into a message or a log.

    Raises:
        RecipeError: ``HF_HUB_OFFLINE`` is set (the Makefile sets it), or there is no token.
    """
    if not sft_config.push_to_hub:
        return
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise RecipeError("push_to_hub: true, but HF_HUB_OFFLINE is set (make sets it): unset it to upload")
    if get_token() is None:
        raise RecipeError("push_to_hub: true needs a Hugging Face token: set HF_TOKEN or run `hf auth login`")
