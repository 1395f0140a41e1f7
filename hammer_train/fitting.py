"""Fit over-long rows into ``max_length`` by removing distractor tools, instead of dropping them.

Most of a function-calling row's length is its tool list, and most listed tools are distractors:
tools that no answer calls (BFCL v4 live rows with the Hammer prompt: 1057 of the ``make train``
recipe's 1487 rows are longer than its 768 tokens, chiefly by their distractors; dropped whole,
they took the many-tool rows out of training and moved the irrelevance share from 0.10 to 0.18).
Hammer's recipe cuts rows at 2048 tokens from the prompt tail (the authors' ``scripts/train.sh``),
which teaches calls without the tools that justify them. Here a row longer than ``max_length``
loses distractors until it fits, and only a row whose *core* does not fit is dropped:

* core of a row with calls: the query, the called tools (in their order) and the answers;
* core of a row whose answer is ``[]``: the query and its shortest tool (by JSON characters), so an
  irrelevance row keeps at least one tool and the model still learns to refuse a listed tool that
  does not fit the query.

Which distractors go first is drawn from the row's own seed: :func:`removal_order` shuffles the
row's distractor names (in the raw row's order) with ``row_rng(seed + salt, row, epoch)`` (the
project's per-row seeding, salted so that it is independent of the masking draws, which use
``row_rng(seed, row, epoch)``). Tools are removed in that order, one name at a time, until the row
fits; a ``[]`` row never loses its last tool (when that last one alone is too long, its shortest
tool is kept instead).

Masking and fitting. Masked names are random strings (about 0.8 tokens per character with the
SmolLM2 tokenizer): on the BFCL live rows they add a median of 58 tokens to a row, up to 207, and a
different number every epoch. So a row is fitted per rendering, after masking: each epoch in
dynamic mode (in :class:`hammer_train.data.MaskingTransform`, so each epoch keeps its own fresh
names and fits exactly), each copy in static mode. The removal order is the same for the masked
and the unmasked rendering of one epoch (it is drawn over real names). When even the masked core
does not fit, the row is rendered unmasked for that epoch (counted as ``unmasked_to_fit``); its
unmasked core was checked to fit before mixing (:meth:`RowFitter.cores_fit`), so every row handed
to the trainer fits in every epoch.

Speed: tokenizing is the slow part (about 2.5 microseconds a token on these CPUs). A row is
tokenized once with offsets; each tool's token cost is read from the offsets of its span in the
text, the number of tools to remove is estimated from those costs, and the estimate is checked by
tokenizing the fitted row (usually once). Rows are tokenized in batches.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from .masking import mask_row, row_rng
from .prompts import to_conversation
from .schema import Example


__all__ = [
    "FIT_SALT",
    "FittedRow",
    "RowFitter",
    "chat_texts",
    "core_example",
    "labels_for",
    "removal_order",
]

FIT_SALT = int.from_bytes(b"fit_rows", "big") << 64
"""Added to the recipe seed for the removal-order draws: ``row_rng(seed + FIT_SALT, row, epoch)`` is
independent of the masking draws ``row_rng(seed, row, epoch)`` (recipe seeds are far below it)."""

_SLACK = 8  # tokens: an estimate this close to max_length is checked one tool earlier


def chat_texts(conversation: dict[str, Any], tokenizer: Any) -> tuple[str, str]:
    """``(prompt_text, full_text)`` of a TRL prompt / completion row, rendered with the tokenizer's
    chat template as TRL's ``SFTTrainer`` does (the prompt with the generation prompt, the full
    conversation without)."""
    tools = conversation.get("tools")
    kw = {"tools": tools} if tools else {}
    prompt = tokenizer.apply_chat_template(conversation["prompt"], tokenize=False, add_generation_prompt=True, **kw)
    full = tokenizer.apply_chat_template(conversation["prompt"] + conversation["completion"], tokenize=False, **kw)
    return prompt, full


def labels_for(prompt_ids: Sequence[int], full_ids: list[int]) -> list[int]:
    """Labels of ``full_ids``: -100 over the common prefix with ``prompt_ids`` (TRL's prompt /
    completion split), the token ids after it (the completion and its end-of-turn token)."""
    n = 0
    for a, b in zip(prompt_ids, full_ids):
        if a != b:
            break
        n += 1
    return [-100] * n + full_ids[n:]


def _tool_spec(tool: Any, style: str) -> dict[str, Any]:
    return tool.to_xlam() if style == "hammer" else tool.to_openai()


def core_example(example: Example, style: str = "hammer") -> Example:
    """The part of a row that fitting never removes.

    Returns:
        A row with the same query and answers and, as tools, the called ones in their order; for
        a row whose answer is ``[]``, its shortest tool (fewest characters of its JSON in the
        ``style``'s layout, the first of equals), or no tool when it has none.
    """
    if example.answers:
        called = {c.name for c in example.answers}
        tools = [t for t in example.tools if t.name in called]
    elif example.tools:
        sizes = [len(json.dumps(_tool_spec(t, style), ensure_ascii=False)) for t in example.tools]
        tools = [example.tools[sizes.index(min(sizes))]]
    else:
        tools = []
    return replace(example, tools=tools)


def removal_order(example: Example, seed: int, row: int, epoch: int = 0) -> list[str]:
    """Names of the row's distractors (tools no answer calls), in the order fitting removes them.

    The names are taken in the row's tool order and shuffled with
    ``row_rng(seed + FIT_SALT, row, epoch)``, so the order depends only on the raw row and
    ``(seed, row, epoch)``, never on the masking draws.
    """
    called = {c.name for c in example.answers}
    names = list(dict.fromkeys(t.name for t in example.tools if t.name not in called))
    row_rng(seed + FIT_SALT, row, epoch).shuffle(names)
    return names


@dataclass
class FittedRow:
    """One row as handed to the trainer.

    Attributes:
        conversation: the TRL prompt / completion row that was tokenized.
        input_ids, labels: token ids; labels are -100 on the prompt.
        kept_tools: real names of the tools left in the row, in the rendered order.
        tools_removed: distractor tools removed to fit (0 when the row fitted as it was).
        masked_kinds: masking kinds applied (empty when the row is unmasked).
        unmasked_to_fit: the masked core did not fit, so the row was rendered unmasked.
        too_long: the row does not fit even so (only with tool removal off, or a core that was not
            checked before); ``input_ids`` / ``labels`` are then cut to ``max_length``.
    """

    conversation: dict[str, Any]
    input_ids: list[int]
    labels: list[int]
    kept_tools: list[str]
    tools_removed: int = 0
    masked_kinds: set[str] = field(default_factory=set)
    unmasked_to_fit: bool = False
    too_long: bool = False


@dataclass
class _Attempt:
    example: Example  # the rendered row (masked or not)
    real: list[str]  # real name of each of its tools
    conversation: dict[str, Any]
    full_text: str
    ids: list[int]
    starts: list[int] | None  # start offset (characters) of each token; None for a slow tokenizer


class RowFitter:
    """Masks, renders, fits and tokenizes rows for one recipe (see the module docstring).

    Args:
        args: recipe data arguments (:class:`hammer_train.config.HammerArguments`): prompt style,
            system prompt and masking settings.
        tokenizer: a tokenizer with a chat template; a fast (Rust) one is much quicker here (token
            offsets give each tool's cost and the prompt's tokens without tokenizing it again).
        max_length: token limit of a full row (prompt and completion), or ``None`` for none.
        seed: recipe seed (masking and removal order).
        remove_tools: ``False`` turns fitting off: an over-long row is flagged ``too_long`` and cut
            (the behaviour before fitting existed).
    """

    def __init__(self, args: Any, tokenizer: Any, max_length: int | None, seed: int, remove_tools: bool = True):
        self.style = args.prompt_style
        self.system_prompt = args.system_prompt
        self.masking_config = args.masking_config()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.seed = seed
        self.remove_tools = remove_tools
        self._offsets = bool(getattr(tokenizer, "is_fast", False))
        added = getattr(tokenizer, "added_tokens_decoder", None) or {}
        self._added = {t.content for t in added.values() if getattr(t, "content", "")}
        self._tail_ok: bool | None = None  # prompt ids = full ids up to the last added token + the rest

    # ------------------------------------------------------------------ tokenizing
    def _conversation(self, example: Example) -> dict[str, Any]:
        return to_conversation(example, self.style, self.system_prompt)

    def _full_text(self, conv: dict[str, Any]) -> str:
        kw = {"tools": conv["tools"]} if conv.get("tools") else {}
        return self.tokenizer.apply_chat_template(conv["prompt"] + conv["completion"], tokenize=False, **kw)

    def _prompt_text(self, conv: dict[str, Any]) -> str:
        kw = {"tools": conv["tools"]} if conv.get("tools") else {}
        return self.tokenizer.apply_chat_template(conv["prompt"], tokenize=False, add_generation_prompt=True, **kw)

    def _tokenize(self, texts: list[str]) -> list[tuple[list[int], list[int] | None]]:
        """``(ids, token start offsets)`` per text (offsets ``None`` for a slow tokenizer)."""
        if not texts:
            return []
        enc = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=self._offsets)
        if not self._offsets:
            return [(ids, None) for ids in enc["input_ids"]]
        return [(ids, [s for s, _ in om]) for ids, om in zip(enc["input_ids"], enc["offset_mapping"])]

    def _fits(self, n: int) -> bool:
        return self.max_length is None or n <= self.max_length

    def cores_fit(self, examples: Sequence[Example]) -> list[bool]:
        """Whether each row's unmasked core (:func:`core_example`) fits in ``max_length``; a
        ``[]`` row without tools never fits (it could not keep one). All ``True`` without a limit."""
        if self.max_length is None:
            return [True] * len(examples)
        cores = [core_example(ex, self.style) for ex in examples]
        texts = [self._full_text(self._conversation(c)) for c in cores]
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        return [bool(c.tools or c.answers) and self._fits(len(x)) for c, x in zip(cores, ids)]

    def core_fits(self, example: Example) -> bool:
        """:meth:`cores_fit` for one row (the predicate :func:`hammer_train.irrelevance.mix_irrelevance`
        takes)."""
        return self.cores_fit([example])[0]

    def _prompt_ids(self, rows: list[_Attempt]) -> list[list[int]]:
        """Token ids of each row's prompt as TRL tokenizes it (the prompt text alone).

        Added tokens (``<|im_start|>``) split a text into pieces that are tokenized on their own,
        so the prompt's ids are the full row's ids up to the prompt's last added token plus the
        ids of the few characters after it. Checked once against a plain tokenization of the
        prompt; a tokenizer where that does not hold gets the plain one for every row.
        """
        prompts = [self._prompt_text(r.conversation) for r in rows]
        cuts = [self._cut(p, r) if self._tail_ok is not False else None for p, r in zip(prompts, rows)]
        tails = self._tokenize([p[c[0] :] for p, c in zip(prompts, cuts) if c is not None])
        out, it = [], iter(tails)
        for p, r, c in zip(prompts, rows, cuts):
            out.append(None if c is None else r.ids[: c[1]] + next(it)[0])
        if self._tail_ok is None and any(c is not None for c in cuts):
            k = next(i for i, c in enumerate(cuts) if c is not None)
            self._tail_ok = self._tokenize([prompts[k]])[0][0] == out[k]
            if not self._tail_ok:
                out = [None] * len(rows)
        missing = [i for i, x in enumerate(out) if x is None]
        for i, (ids, _) in zip(missing, self._tokenize([prompts[i] for i in missing])):
            out[i] = ids
        return out

    def _cut(self, prompt: str, row: _Attempt) -> tuple[int, int] | None:
        """``(character, token)`` index where the prompt's last added token starts in the full
        row, or ``None`` when the prompt is not a prefix of the row there or no token starts there."""
        if row.starts is None:
            return None
        at = max((prompt.rfind(t) for t in self._added), default=-1)
        if at <= 0 or row.full_text[:at] != prompt[:at]:
            return None
        k = bisect.bisect_left(row.starts, at)
        return (at, k) if k < len(row.starts) and row.starts[k] == at else None

    # ------------------------------------------------------------------ fitting
    def encode(self, examples: Sequence[Example], rows: Sequence[int], epoch: int = 0) -> list[FittedRow]:
        """Mask, render, fit and tokenize rows.

        Args:
            examples: raw rows.
            rows: each row's seed key (its index in the dataset); masking uses
                ``row_rng(seed, row, epoch)``, the removal order ``row_rng(seed + FIT_SALT, row, epoch)``.
            epoch: the training epoch (dynamic masking) or the static copy index.

        Returns:
            One :class:`FittedRow` per row, in order; the same for the same inputs whatever the
            batch they come in.
        """
        masked = [mask_row(ex, self.masking_config, self.seed, r, epoch) for ex, r in zip(examples, rows)]
        convs = [self._conversation(m.example) for m in masked]
        fulls = [self._full_text(c) for c in convs]
        final: list[tuple[_Attempt, FittedRow]] = []
        for ex, row, m, conv, full, (ids, starts) in zip(examples, rows, masked, convs, fulls, self._tokenize(fulls)):
            inv = m.inverse.functions
            att = _Attempt(m.example, [inv.get(t.name, t.name) for t in m.example.tools], conv, full, ids, starts)
            if self._fits(len(ids)):
                final.append((att, FittedRow(conv, ids, [], att.real, masked_kinds=set(m.masked_kinds))))
            else:
                final.append(self._fit(ex, row, epoch, att, m.masked_kinds))
        out = []
        for (att, f), p in zip(final, self._prompt_ids([a for a, _ in final])):
            f.labels = labels_for(p, f.input_ids)
            if f.too_long:
                f.input_ids, f.labels = f.input_ids[: self.max_length], f.labels[: self.max_length]
            out.append(f)
        return out

    def _fit(self, raw: Example, row: int, epoch: int, att: _Attempt, kinds: set[str]) -> tuple[_Attempt, FittedRow]:
        """Fit one over-long rendering: remove distractors; when the masked core is too long, the
        unmasked row (fitted the same way) instead; when that fails too, flag it ``too_long``."""
        if self.remove_tools:
            order = removal_order(raw, self.seed, row, epoch)
            fitted = self._shrink(att, order)
            if fitted is not None:
                return fitted, self._row(fitted, len(att.example.tools), kinds)
            if kinds:  # the masked core is too long: this epoch, unmasked
                plain = self._attempt(raw, list(range(len(raw.tools))))
                fitted = plain if self._fits(len(plain.ids)) else self._shrink(plain, order)
                if fitted is not None:
                    return fitted, self._row(fitted, len(raw.tools), set(), unmasked=True)
        return att, FittedRow(att.conversation, att.ids, [], att.real, 0, set(kinds), too_long=True)

    @staticmethod
    def _row(att: _Attempt, n_before: int, kinds: set[str], unmasked: bool = False) -> FittedRow:
        removed = n_before - len(att.example.tools)
        return FittedRow(att.conversation, att.ids, [], att.real, removed, set(kinds), unmasked)

    def _attempt(self, example: Example, keep: list[int], real: list[str] | None = None) -> _Attempt:
        sub = replace(example, tools=[example.tools[i] for i in keep])
        names = [(real or [t.name for t in example.tools])[i] for i in keep]
        conv = self._conversation(sub)
        full = self._full_text(conv)
        ((ids, starts),) = self._tokenize([full])
        return _Attempt(sub, names, conv, full, ids, starts)

    def _shrink(self, att: _Attempt, order: list[str]) -> _Attempt | None:
        """Remove distractors from ``att`` in ``order`` until it fits; ``None`` when its core
        does not fit."""
        ex = att.example
        present = set(att.real)
        order = [n for n in order if n in present]
        removable = order if ex.answers else order[:-1]
        costs = self._tool_costs(att)
        by_name: dict[str, int] = {}
        for name, c in zip(att.real, costs):
            by_name[name] = by_name.get(name, 0) + c
        est = [len(att.ids)]
        for name in removable:
            est.append(est[-1] - by_name[name])
        # est[0] is the row as it is, known not to fit: at least one tool goes
        k = next((i for i, e in enumerate(est) if i > 0 and e <= self.max_length), len(removable))

        def attempt(n_removed: int) -> _Attempt:
            gone = set(removable[:n_removed])
            return self._attempt(ex, [i for i, nm in enumerate(att.real) if nm not in gone], att.real)

        best = None
        while 0 < k <= len(removable):
            cand = attempt(k)
            if self._fits(len(cand.ids)):
                best = cand
                break
            k += 1
        while best is not None and k > 1 and est[k - 1] <= self.max_length + _SLACK:
            cand = attempt(k - 1)  # the estimate may have removed one tool too many
            if not self._fits(len(cand.ids)):
                break
            best, k = cand, k - 1
        if best is None and not ex.answers and ex.tools:
            core = core_example(ex, self.style)  # the last tool alone is too long: the shortest one
            i = next(j for j, t in enumerate(ex.tools) if t is core.tools[0])
            cand = self._attempt(ex, [i], att.real)
            best = cand if self._fits(len(cand.ids)) else None
        return best

    def _tool_costs(self, att: _Attempt) -> list[int]:
        """Tokens each tool takes in ``att``'s text: read from the token offsets of the tool's span
        in the Hammer prompt's tool list (with one separator), or, where that list is not found
        verbatim (the native style: the chat template renders tools its own way), the tokens of
        the tool's JSON alone."""
        specs = [json.dumps(_tool_spec(t, self.style), ensure_ascii=False) for t in att.example.tools]
        listing = "[" + ", ".join(specs) + "]"
        at = att.full_text.find(listing) if self.style == "hammer" and att.starts is not None else -1
        if at < 0:
            return [len(x) for x in self.tokenizer(specs, add_special_tokens=False)["input_ids"]]
        costs, pos, last = [], at + 1, len(specs) - 1
        for j, s in enumerate(specs):
            lo, hi = (pos, pos + len(s) + 2) if j < last else (pos - 2 * (j > 0), pos + len(s))
            costs.append(bisect.bisect_left(att.starts, hi) - bisect.bisect_left(att.starts, lo))
            pos += len(s) + 2
        return costs
