"""Prompt rendering and batched greedy generation for evaluation.

The evaluation pipeline (:func:`~.report.run_evaluation`) only needs two callables:

* a *renderer* ``render(example) -> str``: :func:`chat_renderer` renders with the tokenizer's
  chat template (``add_generation_prompt=True``), :func:`plain_renderer` without any tokenizer
  (tests, stub models);
* a *generator* ``generate_fn(prompts: list[str]) -> list[str]`` (one output per prompt, same
  order): :func:`transformers_generate_fn` wraps :func:`generate` (``model.generate``, greedy,
  left padding, batches of similar length), :func:`~.vllm_backend.vllm_generate_fn` uses vLLM when it is
  installed (optional, never required).  Any function with that signature works, e.g. a stub that
  returns gold answers.

Decoding follows docs/design.md ("Evaluation exactly as the Hammer authors score it"): greedy; generation stops at the tokenizer's EOS or
``<|im_end|>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..prompts import SYSTEM_PROMPT, to_conversation
from ..schema import Example


logger = logging.getLogger(__name__)

__all__ = [
    "GenerateFn",
    "Generation",
    "RenderFn",
    "STOP_TOKENS",
    "render_prompt",
    "chat_renderer",
    "plain_renderer",
    "stop_token_ids",
    "finish_reason",
    "cut_at_token_limit",
    "generate",
    "transformers_generate_fn",
]

GenerateFn = Callable[[list[str]], list[str]]
"""``generate_fn(prompts) -> outputs``: one generated string per prompt, in order (the backends
here return :class:`Generation` strings, which also say why each generation stopped)."""


class Generation(str):
    """A generated text that also says why generation stopped.

    It is a ``str`` (every consumer of a :data:`GenerateFn` reads it as text); the evaluation
    report counts the outputs cut at the token limit from :attr:`finish_reason`.

    Attributes:
        finish_reason: why it ended, in the words of vLLM's ``CompletionOutput.finish_reason``
            and OpenAI's ``choice.finish_reason``: ``"stop"`` (EOS or a stop token), ``"length"``
            (the token limit), another value a server sent (``"tool_calls"``), or ``None`` when
            the backend did not say.
    """

    finish_reason: str | None

    def __new__(cls, text: str, finish_reason: str | None = None) -> Generation:
        obj = super().__new__(cls, text)
        obj.finish_reason = finish_reason
        return obj


def finish_reason(output: str) -> str | None:
    """The finish reason of one :data:`GenerateFn` output: :attr:`Generation.finish_reason`, or
    ``None`` for a plain string (a stub generator, a results file)."""
    return getattr(output, "finish_reason", None)


def cut_at_token_limit(outputs: Sequence[str]) -> list[bool] | None:
    """Per output, whether it reached the token limit (finish reason ``"length"``); ``None`` when
    no output says why it stopped (plain strings: a stub generator, a results file)."""
    reasons = [finish_reason(o) for o in outputs]
    if all(r is None for r in reasons):
        return None
    return [r == "length" for r in reasons]


RenderFn = Callable[[Example], str]
"""``render(example) -> prompt text`` (what :data:`GenerateFn` receives)."""

STOP_TOKENS = ("<|im_end|>",)
"""Tokens that end a generation besides the tokenizer's EOS (when the vocabulary has them)."""


def render_prompt(
    example: Example, tokenizer: Any, style: str = "hammer", system_prompt: str | None = SYSTEM_PROMPT
) -> str:
    """The prompt text for one row, rendered by the tokenizer's chat template.

    ``tokenizer.apply_chat_template(to_conversation(example, style)["prompt"],
    add_generation_prompt=True, tokenize=False)``; the ``native`` style also passes ``tools=``. A
    tokenizer whose template is the Hammer chat template (an adapter folder written by training,
    :mod:`hammer_train.chat_template`) gets the row as a client sends it, ``messages`` + ``tools``
    (the template renders the same text; its system prompt is the one trained with).

    Args:
        example: the row (masked for a renamed benchmark).
        tokenizer: a ``transformers`` tokenizer with a chat template.
        style: ``"hammer"`` or ``"native"`` (see :mod:`hammer_train.prompts`).
        system_prompt: the system turn (``None``: none).

    Returns:
        The prompt string, ending where the assistant's answer starts.

    Raises:
        ValueError: unknown style, or the tokenizer has no chat template.
    """
    from ..chat_template import is_hammer_template, template_messages, template_tools

    if style == "hammer" and is_hammer_template(getattr(tokenizer, "chat_template", None)):
        # a tokenizer saved by training carries the training prompt as its chat template: send the
        # row as a client would (messages + tools); the template renders the same prompt text
        return tokenizer.apply_chat_template(
            template_messages(example), tools=template_tools(example), add_generation_prompt=True, tokenize=False
        )
    conv = to_conversation(example, style, system_prompt)
    kw: dict[str, Any] = {}
    if style == "native":
        kw["tools"] = conv["tools"]
    return tokenizer.apply_chat_template(conv["prompt"], add_generation_prompt=True, tokenize=False, **kw)


def chat_renderer(tokenizer: Any, style: str = "hammer", system_prompt: str | None = SYSTEM_PROMPT) -> RenderFn:
    """A :data:`RenderFn` using :func:`render_prompt` with this tokenizer and style.

    Logs a warning when ``style="native"`` and the template ignores ``tools=`` (SmolLM2).
    """
    if style == "native":
        from ..prompts import template_renders_tools

        if not template_renders_tools(tokenizer):
            logger.warning(
                "prompt style 'native': this chat template ignores tools=, the model will not see the tools"
            )

    def render(example: Example) -> str:
        return render_prompt(example, tokenizer, style, system_prompt)

    return render


def plain_renderer(style: str = "hammer", system_prompt: str | None = SYSTEM_PROMPT) -> RenderFn:
    """A tokenizer-free :data:`RenderFn`: the conversation's messages as ``"<role>: <content>"``
    blocks (with the tools as JSON for ``native``). For tests and stub models, not for real models."""
    import json

    def render(example: Example) -> str:
        conv = to_conversation(example, style, system_prompt)
        parts = [f"{m['role']}: {m.get('content') or ''}" for m in conv["prompt"]]
        if style == "native":
            parts.insert(0, "tools: " + json.dumps(conv["tools"], ensure_ascii=False))
        return "\n\n".join(parts) + "\n\nassistant:"

    return render


def stop_token_ids(tokenizer: Any, extra: Sequence[str] = STOP_TOKENS) -> list[int]:
    """Token ids that end generation: the tokenizer's EOS plus those of ``extra`` in its vocabulary.

    Returns:
        A list of distinct ids (possibly empty for a tokenizer with neither).
    """
    ids: list[int] = []
    eos = tokenizer.eos_token_id
    for i in eos if isinstance(eos, (list, tuple)) else [eos]:
        if isinstance(i, int) and i not in ids:
            ids.append(i)
    unk = getattr(tokenizer, "unk_token_id", None)
    vocab = tokenizer.get_vocab()
    for tok in extra:
        i = vocab.get(tok)
        if isinstance(i, int) and i != unk and i not in ids:
            ids.append(i)
    return ids


def _generate_batch(
    model: Any,
    tokenizer: Any,
    input_ids: list[list[int]],
    max_new_tokens: int,
    eos: list[int],
    logits_processor: Any = None,
) -> list[Generation]:
    """Greedy ``model.generate`` on one left-padded batch; the new tokens decoded (special tokens
    skipped) and stripped, in the batch's order, each with its finish reason (``"stop"`` when a
    token of ``eos`` was generated, else ``"length"``). ``logits_processor``: one for this batch
    (structured outputs), or ``None``."""
    import torch
    from transformers import LogitsProcessorList

    batch = tokenizer.pad({"input_ids": input_ids}, padding=True, return_tensors="pt")
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    processors = LogitsProcessorList([logits_processor] if logits_processor is not None else [])
    with torch.inference_mode():
        out = model.generate(
            **batch,
            logits_processor=processors,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            repetition_penalty=1.0,  # not the base's generation_config.json (Qwen2.5 Instruct: 1.05)
            max_new_tokens=max_new_tokens,
            eos_token_id=eos or None,
            pad_token_id=tokenizer.pad_token_id,
        )
    new = out[:, batch["input_ids"].shape[1] :]
    stopped = torch.isin(new, torch.tensor(eos, device=new.device)).any(dim=1).tolist() if eos else [False] * len(new)
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    return [Generation(t.strip(), "stop" if s else "length") for t, s in zip(texts, stopped, strict=True)]


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    batch_size: int = 8,
    max_new_tokens: int = 256,
    stop_tokens: Sequence[str] = STOP_TOKENS,
    progress: Callable[[int, int], None] | None = None,
    grammars: Sequence[str] | None = None,
) -> list[Generation]:
    """Greedy batched generation with ``model.generate``.

    Greedy means the argmax at every step, as vLLM's ``temperature=0``: sampling settings and a
    repetition penalty in the model's ``generation_config.json`` (the Qwen2.5 Instruct bases ship
    ``repetition_penalty`` 1.05), which ``model.generate`` would otherwise apply, are overridden.
    A penalty costs function-calling answers (docs/quality.md, "A repetition penalty at decoding").

    Prompts are tokenized without extra special tokens (the chat template already wrote them),
    sorted by token length (longest first, so an out-of-memory shows up in the first batch) and cut
    into batches of ``batch_size``, so that each batch pads little; padding is on the left. Each
    output is the decoded new tokens with special tokens skipped, stripped.

    Args:
        model: a ``transformers`` causal LM (or PEFT model) in eval mode, on its device.
        tokenizer: its tokenizer (``pad_token`` set; padding side is forced to left here).
        prompts: prompt strings, ``N`` of them.
        batch_size: prompts per ``generate`` call (>= 1).
        max_new_tokens: generation limit per prompt.
        stop_tokens: token strings that end a generation besides EOS (see :func:`stop_token_ids`).
        progress: called as ``progress(done, N)`` after each batch.
        grammars: structured outputs: one llguidance grammar per prompt, each generation decoded
            under its own (:mod:`hammer_train.evaluation.structured`, needs llguidance).

    Returns:
        ``N`` :class:`Generation` strings, in the order of ``prompts``; ``finish_reason`` is
        ``"length"`` where the output used all ``max_new_tokens`` without a stop token.

    Raises:
        ValueError: ``batch_size < 1`` or ``max_new_tokens < 1``, or not one grammar per prompt.
        ImportError: ``grammars`` without llguidance installed.
    """
    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size and max_new_tokens must be >= 1, got {batch_size}, {max_new_tokens}")
    if not prompts:
        return []
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    eos = stop_token_ids(tokenizer, stop_tokens)
    constraint = None
    if grammars is not None:
        from .structured import GrammarConstraint

        if len(grammars) != len(prompts):
            raise ValueError(f"{len(grammars)} grammars for {len(prompts)} prompts")
        constraint = GrammarConstraint(tokenizer, eos, model.get_output_embeddings().weight.shape[0])
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    outputs: list[Generation | None] = [None] * len(prompts)
    done = 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        processor = None
        if constraint is not None:  # prompts are left-padded to the batch's longest
            width = max(len(encoded[i]) for i in idx)
            processor = constraint.processor([grammars[i] for i in idx], width, idx)
        texts = _generate_batch(model, tokenizer, [encoded[i] for i in idx], max_new_tokens, eos, processor)
        for i, text in zip(idx, texts, strict=True):
            outputs[i] = text
        done += len(idx)
        if progress is not None:
            progress(done, len(prompts))
    return [o if o is not None else Generation("") for o in outputs]


def transformers_generate_fn(
    model: Any,
    tokenizer: Any,
    *,
    batch_size: int = 8,
    max_new_tokens: int = 256,
    stop_tokens: Sequence[str] = STOP_TOKENS,
    log_every: bool = True,
    grammar_fn: Callable[[str], str] | None = None,
) -> GenerateFn:
    """A :data:`GenerateFn` over :func:`generate` with fixed settings (logs progress at INFO).
    ``grammar_fn(prompt)``: the prompt's structured-outputs grammar
    (:func:`hammer_train.evaluation.structured.structured_renderer`); ``None``: free decoding."""

    def fn(prompts: list[str]) -> list[str]:
        t0 = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if log_every:
                logger.info("generated %d/%d (%.0f s)", done, total, time.perf_counter() - t0)

        return generate(
            model,
            tokenizer,
            prompts,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            stop_tokens=stop_tokens,
            progress=progress,
            grammars=[grammar_fn(p) for p in prompts] if grammar_fn is not None else None,
        )

    return fn
