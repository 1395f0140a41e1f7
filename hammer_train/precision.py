"""``bf16: auto``: bf16 mixed precision where the training device computes in bf16, fp32 elsewhere.

A recipe may say ``bf16: auto`` (in the YAML or as ``--bf16 auto``); a recipe that sets neither
``bf16`` nor ``fp16`` gets ``auto`` too (TRL's ``SFTConfig`` would default to ``bf16: true``, which
``TrainingArguments`` refuses on a machine without a bf16 GPU unless ``use_cpu`` is set, and which a
CPU without bf16 instructions emulates, several times slower than fp32). TRL's ``SFTConfig.bf16`` is
a bool, so :func:`resolve_bf16_auto` turns ``auto`` into ``true`` or ``false`` before the recipe is
parsed (``hammer_train.recipe_parser.parse_recipe`` calls it), and returns the decision with its reason:

* training on a CUDA device: ``torch.cuda.is_bf16_supported()`` (Ampere and later);
* training on the CPU (``use_cpu: true``, or no accelerator): the CPU's ``flags`` line in
  ``/proc/cpuinfo`` lists ``avx512_bf16`` or ``amx_bf16``. Without them bf16 autocast on a CPU is
  emulated: a bf16 matmul measured 6.7x *slower* than fp32 on such a machine, and 2.2x faster on one
  with ``avx512_bf16`` (``docs/performance.md``);
* any other accelerator (XPU, MPS, ...): off, with a reason asking for an explicit value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


__all__ = ["BF16_CPU_FLAGS", "Bf16Choice", "bf16_choice", "cpu_bf16_flags", "detect_bf16", "resolve_bf16_auto"]

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""``/proc/cpuinfo`` flags of x86 CPUs with bf16 arithmetic (AVX-512 BF16; AMX tiles in bf16)."""

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Bf16Choice:
    """What ``bf16: auto`` resolved to.

    Attributes:
        bf16: the value given to ``SFTConfig.bf16``.
        device: ``"cpu"``, ``"cuda"`` or another accelerator's torch device type: what was checked.
        reason: one sentence naming what was checked and found.
        requested: ``"auto"`` when the recipe or command line said so, ``"unset"`` when neither set
            ``bf16`` nor ``fp16`` (resolved as ``auto``).
    """

    bf16: bool
    device: str
    reason: str
    requested: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        """``{"requested": "auto" | "unset", "bf16": bool, "device": str, "reason": str}`` for a report or log."""
        return {"requested": self.requested, "bf16": self.bf16, "device": self.device, "reason": self.reason}


def cpu_bf16_flags(cpuinfo: str) -> list[str]:
    """The bf16 flags (:data:`BF16_CPU_FLAGS`) that a ``/proc/cpuinfo`` text lists.

    Args:
        cpuinfo: the text of ``/proc/cpuinfo`` (Linux x86: one ``flags : ...`` line per logical CPU).

    Returns:
        The bf16 flags found on any ``flags`` line, sorted; empty when there are none.
    """
    found: set[str] = set()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            found.update(flag for flag in value.split() if flag in BF16_CPU_FLAGS)
    return sorted(found)


def bf16_choice(
    cpuinfo: str | None, accelerator: str | None = None, cuda_bf16: bool = False, cuda_name: str = ""
) -> Bf16Choice:
    """Decide ``bf16: auto`` from what the machine reports (pure: no probing; see :func:`detect_bf16`).

    Args:
        cpuinfo: text of ``/proc/cpuinfo``; None where there is none (not Linux).
        accelerator: torch device type training runs on (``"cuda"``, ``"xpu"``, ...), None for the CPU.
        cuda_bf16: ``torch.cuda.is_bf16_supported()``, read only when ``accelerator == "cuda"``.
        cuda_name: the CUDA device's name, for the reason.

    Returns:
        The :class:`Bf16Choice`.
    """
    if accelerator == "cuda":
        verb = "supports" if cuda_bf16 else "does not support"
        return Bf16Choice(
            cuda_bf16, "cuda", f"CUDA device {cuda_name or '0'} {verb} bf16 (torch.cuda.is_bf16_supported())"
        )
    if accelerator is not None:
        return Bf16Choice(
            False,
            accelerator,
            f"bf16: auto decides for CPUs and CUDA devices only; set bf16 explicitly for {accelerator}",
        )
    if cpuinfo is None:
        return Bf16Choice(False, "cpu", f"no {CPUINFO} to read the CPU's bf16 flags from: fp32")
    flags = cpu_bf16_flags(cpuinfo)
    if flags:
        return Bf16Choice(True, "cpu", f"the CPU reports {' and '.join(flags)} ({CPUINFO})")
    return Bf16Choice(
        False,
        "cpu",
        f"the CPU reports neither avx512_bf16 nor amx_bf16 ({CPUINFO}): bf16 would be emulated, slower than fp32",
    )


def detect_bf16(use_cpu: bool) -> Bf16Choice:
    """:func:`bf16_choice` for this machine: reads ``/proc/cpuinfo`` and asks torch for an accelerator.

    Args:
        use_cpu: the recipe's ``use_cpu`` (True trains on the CPU even where an accelerator exists).
    """
    import torch

    if use_cpu:
        device = None
    elif hasattr(torch, "accelerator"):  # torch >= 2.6
        accelerator = torch.accelerator.current_accelerator()
        device = accelerator.type if accelerator is not None else None
    else:
        device = "cuda" if torch.cuda.is_available() else None
    cuda = device == "cuda"
    return bf16_choice(
        CPUINFO.read_text() if CPUINFO.is_file() else None,
        device,
        cuda_bf16=cuda and torch.cuda.is_bf16_supported(),
        cuda_name=torch.cuda.get_device_name() if cuda else "",
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "y", "t", "on")


def _cli_value(argv: list[str], key: str) -> tuple[int, int, str] | None:
    """``(start, stop, value)`` of the last ``--key VALUE`` / ``--key=VALUE`` in ``argv``; a bare
    ``--key`` (a bool flag) reads as ``"true"``."""
    found = None
    for i, arg in enumerate(argv):
        if arg == f"--{key}":
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                found = (i, i + 2, argv[i + 1])
            else:
                found = (i, i + 1, "true")
        elif arg.startswith(f"--{key}="):
            found = (i, i + 1, arg.split("=", 1)[1])
    return found


def _flag(argv: list[str], config: dict[str, Any], key: str) -> bool:
    """A bool recipe field as parsing will see it: the command line's last ``--key``, else the YAML's."""
    cli = _cli_value(argv, key)
    return _truthy(cli[2] if cli is not None else config.get(key, False))


def resolve_bf16_auto(argv: list[str], detect=detect_bf16) -> tuple[list[str], Bf16Choice | None]:
    """Replace ``bf16: auto`` (recipe YAML or ``--bf16 auto``) with the value for this machine.

    Args:
        argv: ``parse_recipe``'s arguments with the YAML as ``--config PATH`` (a command-line value
            wins over the YAML's, as in TRL's ``TrlParser``).
        detect: ``use_cpu -> Bf16Choice`` (:func:`detect_bf16`; a test passes its own machine).

    Returns:
        ``(argv, choice)``: ``argv`` with ``--bf16 true|false`` in place of ``auto`` (appended when
        ``auto`` came from the YAML or from neither setting ``bf16`` nor ``fp16``, so it overrides
        TRL's default); ``choice`` is None when the recipe set ``bf16`` to a value, or set ``fp16``
        (``argv`` is then returned unchanged). ``choice.requested`` is ``"unset"`` for the default.
        Where bf16 is chosen for the CPU because there is no accelerator, ``--use_cpu true`` is
        appended too (``TrainingArguments`` refuses bf16 without a GPU unless ``use_cpu`` is set).
    """
    import yaml

    argv = list(argv)
    config: dict[str, Any] = {}
    if "--config" in argv:
        path = Path(argv[argv.index("--config") + 1])
        if path.is_file():
            loaded = yaml.safe_load(path.read_text())
            config = loaded if isinstance(loaded, dict) else {}
    cli = _cli_value(argv, "bf16")
    requested = "auto"
    if cli is not None:
        if cli[2].strip().lower() != "auto":
            return argv, None
    elif config.get("bf16") is None:
        if _flag(argv, config, "fp16"):
            return argv, None  # fp16 asked for: TRL then sets bf16 false
        requested = "unset"
    elif str(config["bf16"]).strip().lower() != "auto":
        return argv, None
    use_cpu = _flag(argv, config, "use_cpu")
    choice = replace(detect(use_cpu), requested=requested)
    resolved = ["--bf16", "true" if choice.bf16 else "false"]
    if cli is not None:
        argv[cli[0] : cli[1]] = resolved
    else:
        argv += resolved
    if choice.bf16 and choice.device == "cpu" and not use_cpu:
        # no accelerator, so training runs on the CPU; TrainingArguments takes bf16 there only with use_cpu
        argv += ["--use_cpu", "true"]
        choice = replace(choice, reason=f"{choice.reason}; no accelerator, so use_cpu: true")
    return argv, choice
