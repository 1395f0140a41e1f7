"""``hammer-train evaluate`` in this process: load the model (transformers, or vLLM where it is
installed beside hammer-train and a GPU is present), generate, score.

The endpoint path (``--backend openai``) and the argument checks stay in
:mod:`hammer_train.cli.evaluate`; both record the gold answers longer than the token limit with
:func:`token_counter`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from ._common import UsageError


__all__ = ["environment", "evaluate_in_process", "load_generation", "token_counter"]


def load_generation(args: argparse.Namespace):
    """Load ``args.model`` (with ``args.adapter``) for generation in this process.

    Args:
        args: the parsed ``hammer-train evaluate`` arguments (``model``, ``adapter``, ``backend``,
            ``dtype``, ``prompt_style``, ``batch_size``, ``max_new_tokens``, ``structured_outputs``,
            ``vllm_kwargs``).

    Returns:
        ``(generate_fn, render_fn, backend, tokenizer)``: ``generate_fn(prompts: list[str]) ->
        list[Generation]``, ``render_fn(example) -> str`` (the training prompt), ``"vllm"`` or
        ``"transformers"`` (``auto`` resolved: vLLM where it is installed and a GPU is present),
        and the tokenizer (the adapter folder's, else the model's: ``modeling.tokenizer_source``).

    Raises:
        FileNotFoundError / ValueError / OSError: a model or adapter that cannot be loaded (as
            :func:`hammer_train.modeling.load_model_and_tokenizer`).
    """
    import torch

    from ..evaluation.generate import chat_renderer, transformers_generate_fn
    from ..evaluation.vllm_backend import vllm_available, vllm_generate_fn
    from ..modeling import load_model_and_tokenizer, resolve_model, tokenizer_source

    backend = args.backend
    if backend == "auto":
        backend = "vllm" if vllm_available() and torch.cuda.is_available() else "transformers"
    if backend == "vllm":
        from transformers import AutoTokenizer

        path = resolve_model(args.model)
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(path, args.adapter))
    else:
        model, tokenizer = load_model_and_tokenizer(args.model, adapter=args.adapter, dtype=args.dtype)
        if torch.cuda.is_available():
            model.to("cuda")
    render, grammar_fn = chat_renderer(tokenizer, args.prompt_style), None
    if args.structured_outputs:
        from ..evaluation.structured import answer_grammar, answer_lark, structured_renderer

        # vLLM reads the Lark text; llguidance in process takes the compiled grammar
        grammar = answer_lark if backend == "vllm" else answer_grammar
        render, grammar_fn = structured_renderer(render, args.structured_outputs, grammar=grammar)
    if backend == "vllm":
        fn = vllm_generate_fn(
            path,
            adapter=args.adapter,
            max_new_tokens=args.max_new_tokens,
            dtype=args.dtype,
            grammar_fn=grammar_fn,
            **args.vllm_kwargs,
        )
    else:
        fn = transformers_generate_fn(
            model, tokenizer, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, grammar_fn=grammar_fn
        )
    return fn, render, backend, tokenizer


def environment() -> dict:
    """Where the numbers were measured (timings depend on it): ``{"device", "torch_threads",
    "omp_num_threads", "torch", "transformers", "started"}`` (a CUDA device's name, else
    ``cpu (<processor>)``; ``started`` as local ``%Y-%m-%dT%H:%M:%S%z``)."""
    import os
    import platform

    import torch
    import transformers

    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu ({platform.processor() or platform.machine()})"
    )
    return {
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def token_counter(tokenizer) -> Callable[[str], int]:
    """``text -> number of tokens`` (an int; no special tokens added): how many new tokens an answer
    needs, for :func:`hammer_train.evaluation.report.gold_over_token_limit`.

    Args:
        tokenizer: a ``transformers`` tokenizer (callable, returning ``{"input_ids": [...]}``).
    """

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count_tokens


def evaluate_in_process(args: argparse.Namespace, benches: list) -> dict:
    """Score ``args.model`` on ``benches`` with transformers or vLLM in this process.

    Args:
        args: the parsed ``hammer-train evaluate`` arguments (see :func:`load_generation`; also
            ``limit`` and ``predictions``).
        benches: loaded :class:`hammer_train.evaluation.benchmarks.Benchmark` objects.

    Returns:
        The results of :func:`hammer_train.evaluation.report.run_evaluation`: ``{"meta":
        {model, adapter, backend, decoding, load_seconds (s), environment...}, "benchmarks":
        {name: scores}}``; with ``prompt_style: hammer``, each benchmark also counts the gold
        answers longer than ``max_new_tokens``.

    Raises:
        UsageError: a model that cannot be found (named as ``MODEL``).
    """
    from ..checks import check_model
    from ..evaluation.report import run_evaluation

    t0 = time.perf_counter()  # load time includes a first GGUF de-quantization, as before
    check_model(args.model, field="MODEL", error=UsageError)
    generate_fn, render_fn, backend, tokenizer = load_generation(args)
    meta = {
        "model": args.model,
        "adapter": args.adapter,
        "prompt_style": args.prompt_style,
        "backend": backend,
        **({"vllm_kwargs": args.vllm_kwargs} if backend == "vllm" else {}),
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "decoding": f"greedy, structured outputs {args.structured_outputs} (llguidance"
        + (", vLLM's guidance backend)" if backend == "vllm" else ")")
        if args.structured_outputs
        else "greedy",
        "limit": args.limit,
        "load_seconds": round(time.perf_counter() - t0, 3),
        **environment(),
    }
    return run_evaluation(
        benches,
        generate_fn,
        render_fn,
        limit=args.limit,
        meta=meta,
        predictions_path=args.predictions,
        # the Hammer answer format is what the gold is written in; a native template writes its own
        count_tokens=token_counter(tokenizer) if args.prompt_style == "hammer" else None,
        max_new_tokens=args.max_new_tokens,
    )
