"""Structured outputs for the transformers backend: greedy decoding under the answer format's grammar.

The Hammer answer is a JSON list of calls in a ``` fence (:func:`hammer_train.prompts.format_answers`)::

    ```
    [{"name": "f", "arguments": {"a": 1}}]
    ```

With ``hammer-train evaluate --structured_outputs`` each generation is constrained to that shape:
the fence, then a JSON array of objects with exactly a string ``name`` and an object ``arguments``
(any JSON values), written with ``json.dumps``' separators as in training, then the closing fence
and an end-of-turn token. Which function and which argument values are the model's choice; only
the syntax is fixed, so the scores measure the same answers without the JSON syntax errors a small
model makes (unquoted values, broken nesting). A generation that reaches ``max_new_tokens`` before
the grammar completes is still a format error. This is what vLLM's structured outputs
(``guided_json`` / ``response_format``) do on a served model; here it runs inside ``model.generate``.

The grammar engine is llguidance (https://github.com/guidance-ai/llguidance, the ``structured``
extra: ``pip install hammer-train[structured]``), one of vLLM's structured-output backends. This
module builds the grammar and the ``transformers`` logits processor that applies its token mask.
"""

from __future__ import annotations

import json
import logging
from typing import Any


logger = logging.getLogger(__name__)

__all__ = ["ANSWER_SCHEMA", "answer_grammar", "GrammarConstraint", "structured_available"]

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 1}, "arguments": {"type": "object"}},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    },
}
"""JSON Schema of the answer list: calls ``{"name": str, "arguments": {...}}``; ``[]`` is a refusal."""

_JSON_OPTIONS = {"item_separator": ", ", "key_separator": ": ", "whitespace_flexible": False}


def structured_available() -> bool:
    """True when llguidance (the ``structured`` extra) is importable."""
    import importlib.util

    return importlib.util.find_spec("llguidance") is not None


def answer_grammar(schema: dict[str, Any] | None = None) -> str:
    """The llguidance grammar of a fenced answer: ``"```\\n" + JSON(schema) + "\\n```"``.

    Args:
        schema: JSON Schema of the list (default :data:`ANSWER_SCHEMA`).

    Returns:
        The grammar as llguidance's serialized form (a string for ``LLMatcher``).

    Raises:
        ImportError: llguidance is not installed.
        ValueError: llguidance rejects the grammar (its message).
    """
    from llguidance import LLMatcher

    body = json.dumps({**(schema or ANSWER_SCHEMA), "x-guidance": _JSON_OPTIONS})
    grammar = LLMatcher.grammar_from_lark('start: "```\\n" calls "\\n```"\ncalls: %json ' + body + "\n")
    error = LLMatcher.validate_grammar(grammar)
    if error:
        raise ValueError(f"answer grammar: {error}")
    return grammar


class GrammarConstraint:
    """Builds a ``transformers`` logits processor per ``generate`` batch for one tokenizer.

    Args:
        tokenizer: a fast ``transformers`` tokenizer (llguidance reads its ``tokenizer.json``).
        stop_ids: the token ids that end a generation (EOS, ``<|im_end|>``); the grammar allows
            only these once the answer is complete.
        vocab_size: the model's logits width (``>=`` the tokenizer's vocabulary; extra ids are masked).
        grammar: an llguidance grammar (default :func:`answer_grammar`).

    Raises:
        ImportError: llguidance is not installed.
        ValueError: a slow tokenizer (llguidance needs the fast one), or an invalid grammar.
    """

    def __init__(self, tokenizer: Any, stop_ids: list[int], vocab_size: int, grammar: str | None = None) -> None:
        import llguidance.hf

        self.ll_tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=stop_ids)
        self.grammar = grammar or answer_grammar()
        self.vocab_size = vocab_size
        self.unconstrained_rows = 0
        """Rows whose matcher entered an error state and were decoded without the mask (logged)."""

    def processor(self, batch_size: int, prompt_length: int) -> Any:
        """A fresh logits processor for one left-padded batch of ``batch_size`` prompts of
        ``prompt_length`` tokens (the padded width)."""
        return _GrammarLogitsProcessor(self, batch_size, prompt_length)


class _GrammarLogitsProcessor:
    """``transformers`` logits processor: one llguidance matcher per row; each step it consumes the
    row's last token (after the prompt) and masks the logits of tokens the grammar forbids."""

    def __init__(self, owner: GrammarConstraint, batch_size: int, prompt_length: int) -> None:
        from llguidance import LLMatcher
        from llguidance.torch import allocate_token_bitmask

        self.owner = owner
        self.matchers = [LLMatcher(owner.ll_tokenizer, owner.grammar) for _ in range(batch_size)]
        self.free = [False] * batch_size
        self.bitmask = allocate_token_bitmask(batch_size, owner.vocab_size)
        self.prompt_length = prompt_length

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch
        from llguidance.torch import fill_next_token_bitmask

        new_token = input_ids.shape[1] > self.prompt_length
        allowed = torch.ones_like(scores, dtype=torch.bool)
        for i, matcher in enumerate(self.matchers):
            if self.free[i]:
                continue
            if new_token and not matcher.is_stopped():
                matcher.consume_token(int(input_ids[i, -1]))
            if matcher.is_error():
                self.free[i] = True
                self.owner.unconstrained_rows += 1
                logger.warning(
                    "structured outputs: row %d left the grammar (%s); decoded freely", i, matcher.get_error()
                )
                continue
            fill_next_token_bitmask(matcher, self.bitmask, i)
            allowed[i] = _unpack(self.bitmask[i], scores.shape[1])
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))


def _unpack(words: Any, width: int) -> Any:
    """Bit ``j`` of a packed int32 bitmask row (little-endian within each word) as a bool vector of
    ``width`` entries; ids past the mask's end are False."""
    import torch

    bits = (words.unsqueeze(1) >> torch.arange(32, dtype=torch.int32)) & 1
    flat = bits.flatten().bool()
    if flat.numel() >= width:
        return flat[:width]
    return torch.cat([flat, torch.zeros(width - flat.numel(), dtype=torch.bool)])
