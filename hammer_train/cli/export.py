"""Export an adapter for serving: merged model with the training chat template, README, and GGUF on request.

    hammer-train export ADAPTER_DIR [--output_dir DIR] [--base MODEL] [--gguf f16|q8_0] [--name NAME]

ADAPTER_DIR is a ``train`` output folder (adapter_config.json, adapter_model.safetensors,
recipe.yaml). The export folder (default ADAPTER_DIR/export) is a plain model folder that vLLM,
SGLang or ``transformers`` load, with the Hammer training prompt as its chat template and a
README.md of serving commands; ``--gguf`` adds gguf/NAME-TYPE.gguf (llama.cpp's converter, from
the llama-cpp-python 0.3.36 sdist) and gguf/Modelfile for Ollama. See docs/serving.md.
"""

from __future__ import annotations

import argparse

from ._common import setup_logging, user_errors


__all__ = ["make_parser", "main"]

PROG = "hammer-train export"


def make_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The ``hammer-train export`` argument parser."""
    from ..gguf_convert import GGUF_TYPES

    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("adapter", help="adapter folder written by train")
    p.add_argument("--output_dir", help="export folder (default: ADAPTER/export)")
    p.add_argument("--base", help="base model instead of recipe.yaml's model_name_or_path")
    p.add_argument(
        "--gguf",
        metavar="TYPE",
        help=f"also write a GGUF file of this type ({', '.join(GGUF_TYPES)}) and an Ollama Modelfile",
    )
    p.add_argument("--name", help="served model name, in the README and the GGUF file name (default: ADAPTER's name)")
    p.add_argument(
        "--converter", help="llama.cpp's convert_hf_to_gguf.py to use (default: from the llama-cpp-python sdist)"
    )
    return p


@user_errors
def main(argv: list[str] | None = None) -> int:
    """``hammer-train export``: 0, or 2 with one line on stderr for bad input (not an adapter
    folder, a base model that cannot be found, a GGUF type the converter does not write)."""
    args = make_parser().parse_args(argv)
    setup_logging()
    from ..export import export

    result = export(
        args.adapter, args.output_dir, base=args.base, gguf=args.gguf, name=args.name, converter=args.converter
    )
    print(f"merged model: {result.folder} (base {result.base}, {result.seconds['merge']:.0f} s)")
    if result.chat_template:
        print("chat template: the Hammer training prompt (tokenizer_config.json, chat_template.jinja)")
    if result.gguf:
        size = result.gguf.stat().st_size / 2**20
        print(f"GGUF: {result.gguf} ({size:.0f} MiB, {result.seconds['gguf']:.0f} s)")
    if result.modelfile:
        print(f"Ollama Modelfile: {result.modelfile}")
    print(f"how to serve it: {result.folder / 'README.md'}")
    return 0
