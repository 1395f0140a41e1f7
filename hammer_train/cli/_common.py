"""What every command shares: logging, and how a user's mistake ends.

A mistake in what the user gave (a recipe, a data file, a model name, a checkpoint folder, an
argument) ends a command as ONE line on stderr, ``<kind> error: <message>``, with exit status 2,
the message naming the file, the row or line, and the field. Anything else is a bug and keeps its
traceback. ``HAMMER_TRAIN_TRACEBACK=1`` shows the traceback of a user's mistake too.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Callable

from ..config import RecipeError
from ..export import ExportError
from ..formats import SourceError
from ..schema import DataError
from ..serve import ServerError


__all__ = ["UsageError", "USER_ERRORS", "error_line", "positive_int", "setup_logging", "user_errors"]


class UsageError(ValueError):
    """A command-line argument that cannot be used; the message names it."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    RecipeError,  # a recipe field: unknown key, bad value, missing model or checkpoint file
    DataError,  # a row (strict), or a JSON line that is not UTF-8 / not JSON, named by file and line
    SourceError,  # a whole data file or source: not JSON, no usable rows
    UsageError,
    ExportError,  # not an adapter folder, a base model not found, a GGUF type the converter lacks
    ServerError,  # no vLLM python, or the server did not start / answer in time
    UnicodeDecodeError,  # a text file that is not UTF-8, read by code that does not name it itself
    OSError,  # a missing or unreadable file or folder, a model not on the Hub, a full disk
)
"""What ends as one line with exit status 2."""


def positive_int(text: str) -> int:
    """argparse ``type`` of a count, a size or a limit: an integer >= 1.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not an integer, or is below 1 (argparse prints it
            as one usage line naming the flag, exit status 2).
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


_KINDS = ((RecipeError, "recipe error"), (DataError, "data error"), (SourceError, "data error"))


def error_line(exc: BaseException) -> str:
    """``"recipe error: ..."`` / ``"data error: ..."`` / ``"error: ..."``: the kind and the message
    on one line (newlines of a long library message folded)."""
    kind = next((name for cls, name in _KINDS if isinstance(exc, cls)), "error")
    message = " ".join(str(exc).split()) or type(exc).__name__
    return f"{kind}: {message}"


def user_errors(main: Callable[..., int]) -> Callable[..., int]:
    """Decorate a command's ``main(argv=None, ...) -> int`` so that :data:`USER_ERRORS` print
    :func:`error_line` on stderr and return 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except USER_ERRORS as exc:
            if os.environ.get("HAMMER_TRAIN_TRACEBACK", "") not in ("", "0"):
                raise
            print(error_line(exc), file=sys.stderr)
            return 2

    return wrapper


def setup_logging(level: int = logging.INFO) -> None:
    """Timestamped log lines on stderr (once per process; a configured root logger is kept).

    One library warning is dropped: bitsandbytes 0.50 (the ``qlora`` extra, imported by PEFT on every
    command) tries, on a CPU with AVX512-BF16, to fetch a 4-bit matmul kernel from the Hub
    (``kernels-community/quantization-bitsandbytes``, through the ``kernels`` package) and warns
    ``pip install kernels`` when that package is absent. We do not install it: nothing downloads
    from the Hub at run time, and bitsandbytes' own CPU kernels are what QLoRA runs on here
    (``bitsandbytes/backends/cpu/ops.py``).
    """
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level)
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_drop_hub_kernel_notice)


def _drop_hub_kernel_notice(record: logging.LogRecord) -> bool:
    """False for bitsandbytes' "Failed to load CPU gemm_4bit_forward from kernels-community" warning."""
    return not str(record.msg).startswith("Failed to load CPU gemm_4bit_forward from kernels-community")
