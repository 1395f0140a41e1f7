"""Recipe -> ``datasets.Dataset`` for TRL's ``SFTTrainer``, with a data report.

Data flows one way::

    readers -> Example -> weighting -> irrelevance mixing -> masking -> prompt -> tokens

Two masking modes:

* ``static`` (Hammer's way, paper arXiv 2410.04587 §3): the rows are masked once into
  ``masking_copies`` copies (copy ``k`` of row ``i`` seeded by ``(seed, i, k)``) and tokenized here;
  TRL's normal preparation path takes the result (truncation, empty-label filter, packing).
* ``dynamic`` (our improvement): the dataset keeps the raw rows and a transform masks, renders and
  tokenizes each batch with the seed ``(seed, row, epoch)``; :class:`EpochCallback` writes the epoch
  into a shared-memory tensor the transform reads, so persistent dataloader workers see it too
  (docs/design.md, "TRL and transformers traps"). The trainer must get
  ``dataset_kwargs={"skip_prepare_dataset": True}`` and ``remove_unused_columns=False``.

Both produce ``input_ids`` and ``labels`` (prompt tokens at -100, the completion including the
end-of-turn token kept) plus a ``length`` column for length-grouped sampling. Tokenization mirrors
TRL's prompt / completion tokenization (prompt rendered with the generation prompt, completion =
what the full conversation adds).

Rows longer than ``max_length`` are fitted, not dropped (:mod:`hammer_train.fitting`): each
rendering (epoch or static copy) loses distractor tools until it fits. Rows whose query, called
tools and answers alone do not fit are dropped before irrelevance mixing, and the mixer skips
``[]`` candidates that cannot fit, so the irrelevance share asked for holds in the rows trained on.
A truncated row would lose its completion or its query, and Hammer's prompt-tail truncation
teaches calls without the tools that justify them. ``fit_long_rows: false`` restores the earlier
behaviour (over-long rows dropped whole after mixing, counted as ``dropped_too_long``).
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from typing import Any

from transformers import TrainerCallback

from .config import DataSource, HammerArguments, RecipeError
from .data_report import DataReport, length_percentiles, padding_share
from .fitting import RowFitter, chat_texts, labels_for
from .schema import Example
from .sources import load_examples


logger = logging.getLogger(__name__)

_CHUNK = 256  # rows tokenized per batch (token offsets of a whole recipe at once take ~1 GB)

__all__ = [
    "DataReport",
    "load_examples",
    "render_row",
    "tokenize_conversation",
    "MaskingTransform",
    "EpochCallback",
    "build_dataset",
    "padding_share",
]


def render_row(example: Example, row: int, args: HammerArguments, masking_config, seed: int, epoch: int):
    """Mask (seeded by ``(seed, row, epoch)``) and render one example.

    Returns:
        ``(conversation, masked_kinds)``: a TRL prompt / completion row (see
        :func:`hammer_train.prompts.to_conversation`) and the set of kinds masked in this row.
    """
    from .masking import mask_row
    from .prompts import to_conversation

    masked = mask_row(example, masking_config, seed, row, epoch)
    return to_conversation(masked.example, args.prompt_style, args.system_prompt), masked.masked_kinds


def tokenize_conversation(conversation: dict[str, Any], tokenizer: Any) -> dict[str, list[int]]:
    """Tokenize a prompt / completion conversation with the tokenizer's chat template.

    Mirrors TRL's ``SFTTrainer`` preparation: the prompt is rendered with the generation prompt,
    the full conversation without; the completion is what follows the common prefix.

    Returns:
        ``{"input_ids": list[int], "labels": list[int]}``: labels are -100 on the prompt and equal
        to ``input_ids`` on the completion (its end-of-turn token included).
    """
    prompt_text, full_text = chat_texts(conversation, tokenizer)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    return {"input_ids": full_ids, "labels": labels_for(prompt_ids, full_ids)}


class MaskingTransform:
    """Batched ``Dataset.with_transform`` function for dynamic masking.

    Input batch: ``{"example": list[str] (JSON of :meth:`Example.to_dict`), "row": list[int], ...}``.
    Output: ``{"input_ids": list[list[int]], "labels": list[list[int]], "length": list[int]}``.
    The epoch is read from ``epoch_tensor`` (a shared-memory ``torch.int64`` scalar written by
    :class:`EpochCallback`), or fixed with ``fixed_epoch`` (evaluation sets).
    Each epoch's rendering is fitted into ``max_length`` on its own (:class:`RowFitter`: fresh
    names change the length, so the distractors removed can differ between epochs); with
    ``fit_long_rows: false`` an over-long rendering is cut keeping the start instead.
    """

    def __init__(
        self,
        args: HammerArguments,
        tokenizer: Any,
        seed: int,
        max_length: int | None,
        epoch_tensor=None,
        fixed_epoch: int | None = None,
    ):
        self.args = args
        self.masking_config = args.masking_config()
        self.tokenizer = tokenizer
        self.fitter = RowFitter(args, tokenizer, max_length, seed, remove_tools=args.fit_long_rows)
        self.seed = seed
        self.max_length = max_length
        self.epoch_tensor = epoch_tensor
        self.fixed_epoch = fixed_epoch

    @property
    def epoch(self) -> int:
        if self.fixed_epoch is not None:
            return self.fixed_epoch
        return int(self.epoch_tensor.item()) if self.epoch_tensor is not None else 0

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        if "example" not in batch:  # e.g. the trainer reading the `length` column alone
            return batch
        epoch = self.epoch if self.masking_config.dynamic else 0
        examples = [Example.from_storage(json.loads(raw)) for raw in batch["example"]]
        fitted = self.fitter.encode(examples, batch["row"], epoch)
        return {
            "input_ids": [f.input_ids for f in fitted],
            "labels": [f.labels for f in fitted],
            "length": [len(f.input_ids) for f in fitted],
        }


class EpochCallback(TrainerCallback):
    """Writes ``floor(state.epoch)`` into the shared epoch tensor at each epoch start, so the
    dynamic-masking transform draws fresh names per epoch (also in persistent dataloader
    workers and after resuming from a checkpoint)."""

    def __init__(self, epoch_tensor):
        self.epoch_tensor = epoch_tensor

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.epoch_tensor.fill_(int(math.floor(state.epoch or 0)))

    def on_train_begin(self, args, state, control, **kwargs):
        self.epoch_tensor.fill_(int(math.floor(state.epoch or 0)))


def _render_rows(examples: list[Example], args: HammerArguments, seed: int, copies: int) -> tuple[list, Counter, int]:
    """Conversational rows of epoch 0 / every static copy (no tokenizer: no length step)."""
    mcfg = args.masking_config()
    rows, kinds, masked = [], Counter(), 0
    for copy in range(copies):
        for i, ex in enumerate(examples):
            conv, mk = render_row(ex, i, args, mcfg, seed, copy)
            masked += bool(mk)
            kinds.update(mk)
            rows.append({**conv, "kind": ex.kind})
    return rows, kinds, masked


def _tokenized_rows(
    examples: list[Example], fitter: RowFitter, copies: int, dynamic: bool, report: DataReport, conversations: bool
) -> tuple[list, list[int], int, Counter, int]:
    """Fit and tokenize epoch 0 / every static copy; fills the fitting counts of ``report.length``.
    Rows are raw examples (``dynamic``), the fitted conversations (``conversations``) or token ids.

    Returns:
        ``(rows, lengths, kept_empty, kinds, masked)``: dataset rows, their token lengths, how many
        have the answer ``[]``, masking kinds and masked rows of the renderings kept.
    """
    rows, lengths, kinds = [], [], Counter()
    kept_empty = masked = fitted_rows = removed = unmasked = too_long = 0
    for copy, start in ((c, s) for c in range(copies) for s in range(0, len(examples), _CHUNK)):
        chunk = examples[start : start + _CHUNK]
        for i, ex, f in zip(
            range(start, len(examples)), chunk, fitter.encode(chunk, range(start, len(examples)), copy)
        ):
            if f.too_long:  # fit_long_rows: false (the earlier behaviour): dropped whole
                too_long += 1
                continue
            fitted_rows += f.tools_removed > 0
            removed += f.tools_removed
            unmasked += f.unmasked_to_fit
            masked += bool(f.masked_kinds)
            kinds.update(f.masked_kinds)
            n = len(f.input_ids)
            lengths.append(n)
            kept_empty += not ex.answers
            if conversations:
                rows.append({**f.conversation, "kind": ex.kind, "row": i, "length": n})
            elif dynamic:
                rows.append({"example": json.dumps(ex.to_dict(), ensure_ascii=False), "row": i, "length": n})
            else:
                rows.append({"input_ids": f.input_ids, "labels": f.labels, "length": n})
    report.length.update(
        renderings=len(examples) * copies,
        rows_fitted=fitted_rows,
        tools_removed=removed,
        unmasked_to_fit=unmasked,
        too_long=too_long,
    )
    return rows, lengths, kept_empty, kinds, masked


def _settings_record(args: HammerArguments, seed: int, copies: int, max_length: int | None, mix: bool) -> dict:
    """The data report's ``settings``: what decided the rows (seed, prompt, masking, ratio, length)."""
    return {
        "seed": seed,
        "prompt_style": args.prompt_style,
        "masking_mode": args.masking_mode,
        "masking_copies": copies,
        "masking_row_prob": args.masking_row_prob,
        "irrelevance_ratio": args.irrelevance_ratio if mix else None,
        "max_length": max_length,
        "fit_long_rows": args.fit_long_rows,
    }


def _tokens_record(
    report: DataReport, lengths: list[int], kept_empty: int, batch_size: int, sampling_strategy: str, seed: int
) -> dict:
    """The data report's ``tokens``: length percentiles (tokens), rows dropped as too long, the
    ``[]`` share of the rows trained on and the padding share for ``batch_size`` rows per batch."""
    dropped = sum(report.length.get("dropped_too_long", {}).values()) + report.length["too_long"]
    return {
        "lengths": length_percentiles(lengths),
        "dropped_too_long": dropped,
        # the irrelevance share in the rows trained on (with fitting, the mixer's own share)
        "irrelevance_share_after_length_filter": round(kept_empty / len(lengths), 4) if lengths else None,
        "completion_tokens_note": "labels cover the completion and its end-of-turn token",
        "padding_share": {
            "batch_size": batch_size,
            "random": round(padding_share(lengths, batch_size, "random", seed), 4),
            "group_by_length": round(padding_share(lengths, batch_size, "group_by_length", seed), 4),
            "recipe_strategy": sampling_strategy,
        },
    }


def build_dataset(
    args: HammerArguments,
    seed: int,
    tokenizer: Any = None,
    max_length: int | None = None,
    batch_size: int = 1,
    sampling_strategy: str = "random",
    sources: list[DataSource] | None = None,
    mix: bool = True,
    epoch_tensor=None,
    fixed_epoch: int | None = None,
    conversations: bool = False,
):
    """Build the training (or evaluation) dataset a recipe describes.

    Args:
        args: recipe data arguments (``fit_long_rows`` chooses fitting or dropping over-long rows).
        seed: recipe seed (same seed -> same rows, same masked names, same fitting, same report).
        tokenizer: when given, rows are tokenized (``input_ids``, ``labels``, ``length``); when
            ``None``, the dataset holds TRL conversational ``prompt`` / ``completion`` rows of
            epoch 0 / all static copies (for inspection and for plain TRL scripts), without the
            length step.
        max_length: token limit (needs ``tokenizer``): over-long rows are fitted by removing
            distractor tools; rows whose core does not fit are dropped before mixing and counted
            (:mod:`hammer_train.fitting`; ``report.length``).
        batch_size: per-device batch, for the padding share in the report.
        sampling_strategy: the trainer's ``train_sampling_strategy``, for the padding share.
        sources, mix: see :func:`load_examples`.
        epoch_tensor: dynamic mode: shared epoch tensor (created when ``None``).
        fixed_epoch: dynamic mode: always use this epoch (evaluation sets).
        conversations: with a tokenizer, return the rows of epoch 0 / all static copies as the
            fitted TRL ``prompt`` / ``completion`` conversations the trainer sees (plus ``kind``,
            ``row``, ``length``), not token ids (the same rows and report as without it).

    Returns:
        ``(dataset, report)``. In dynamic mode with a tokenizer the dataset carries the
        :class:`MaskingTransform` (``dataset.epoch_tensor`` is not set; pass your own tensor to
        share it with :class:`EpochCallback`); its rows hold the raw examples, fitted per epoch.

    Raises:
        RecipeError (a ValueError naming ``max_length``): no rows left (every source empty, or every row too long).
    """
    from datasets import Dataset

    fitter = RowFitter(args, tokenizer, max_length, seed, args.fit_long_rows) if tokenizer is not None else None
    step = fitter if fitter is not None and max_length is not None and args.fit_long_rows else None
    examples, report = load_examples(args, seed, sources=sources, mix=mix, fitter=step)
    dynamic = args.masking_mode == "dynamic" and tokenizer is not None and not conversations
    copies = 1 if args.masking_mode == "dynamic" else args.masking_copies
    report.settings = _settings_record(args, seed, copies, max_length, mix)
    if fitter is None:
        rows, kinds, masked_rows = _render_rows(examples, args, seed, copies)
    else:
        rows, lengths, kept_empty, kinds, masked_rows = _tokenized_rows(
            examples, fitter, copies, dynamic, report, conversations
        )
        report.tokens = _tokens_record(report, lengths, kept_empty, batch_size, sampling_strategy, seed)
    report.masking = {
        "rows_rendered": len(rows),
        "rows_masked": masked_rows,
        "by_kind": dict(sorted(kinds.items())),
    }
    if not rows:
        raise RecipeError(f"max_length: no rows left after tokenization, every row is longer than {max_length} tokens")
    dataset = Dataset.from_list(rows)
    if dynamic:
        if epoch_tensor is None:
            import torch

            epoch_tensor = torch.zeros((), dtype=torch.int64).share_memory_()
        dataset = dataset.with_transform(
            MaskingTransform(args, tokenizer, seed, max_length, epoch_tensor, fixed_epoch)
        )
    report.final_rows = len(dataset)
    return dataset, report
