"""Recipe -> ``datasets.Dataset`` for TRL's ``SFTTrainer``, with a data report.

Data flows one way (DESIGN.md, "The shape we build")::

    readers -> Example -> weighting -> irrelevance mixing -> masking -> prompt -> tokens

Two masking modes:

* ``static`` (Hammer's way, paper arXiv 2410.04587 §3): the rows are masked once into
  ``masking_copies`` copies (copy ``k`` of row ``i`` seeded by ``(seed, i, k)``) and tokenized here;
  TRL's normal preparation path takes the result (truncation, empty-label filter, packing).
* ``dynamic`` (our improvement): the dataset keeps the raw rows and a transform masks, renders and
  tokenizes each batch with the seed ``(seed, row, epoch)``; :class:`EpochCallback` writes the epoch
  into a shared-memory tensor the transform reads, so persistent dataloader workers see it too
  (DESIGN.md, "SFTTrainer tokenizes once"). The trainer must get
  ``dataset_kwargs={"skip_prepare_dataset": True}`` and ``remove_unused_columns=False``.

Both produce ``input_ids`` and ``labels`` (prompt tokens at -100, the completion including the
end-of-turn token kept) plus a ``length`` column for length-grouped sampling. Tokenization mirrors
TRL's prompt / completion tokenization (prompt rendered with the generation prompt, completion =
what the full conversation adds). Rows longer than ``max_length`` are dropped and counted
(``too_long``): a truncated row loses its completion or its query, and Hammer's prompt-tail
truncation teaches calls without the tools that justify them.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .config import DataSource, HammerArguments, RecipeError
from .formats import SourceError, read_source
from .schema import DataError, Example


logger = logging.getLogger(__name__)

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


@dataclass
class DataReport:
    """What happened to every row; JSON via :meth:`to_dict`.

    Attributes:
        sources: per source: ``rows_read``, ``examples`` (valid rows), ``dropped`` (reason ->
            count), ``warnings`` (reason -> rows kept although a check failed; the Hammer
            evaluation-set reader is run with ``validate=True`` for training, so this is empty
            unless a reader keeps such rows by design), ``used`` (after weight / max_rows),
            ``errors`` (first messages).
        irrelevance: the mixing report (target and achieved share, rows by origin).
        masking: rows rendered, rows masked, rows masked per kind (function / parameter /
            default / shuffle), for epoch 0 (dynamic) or all copies (static).
        tokens: token-length percentiles of the final rows, rows dropped as too long, and the
            padding share expected for the recipe's batch settings.
        final_rows: rows in the dataset handed to the trainer.
        warnings: one message per source that gave no rows (an empty file, or every row
            dropped), also logged as a warning (stderr).
    """

    sources: dict[str, Any] = field(default_factory=dict)
    irrelevance: dict[str, Any] = field(default_factory=dict)
    masking: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    final_rows: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "sources": self.sources,
            "irrelevance": self.irrelevance,
            "masking": self.masking,
            "tokens": self.tokens,
            "final_rows": self.final_rows,
            "warnings": self.warnings,
        }

    def warn(self, message: str) -> None:
        """Record a warning in the report and log it."""
        self.warnings.append(message)
        logger.warning("%s", message)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _source_name(src: DataSource, i: int) -> str:
    return f"{i}:{src.format}:{src.path}"


def _weighted(examples: list[Example], weight: float, rng: random.Random) -> list[Example]:
    whole = int(math.floor(weight))
    out = examples * whole
    rest = round((weight - whole) * len(examples))
    if rest:
        picks = sorted(rng.sample(range(len(examples)), rest))
        out += [examples[j] for j in picks]
    return out


def load_examples(
    args: HammerArguments, seed: int, sources: list[DataSource] | None = None, mix: bool = True
) -> tuple[list[Example], DataReport]:
    """Read every source, apply weights, and mix in irrelevance rows.

    Args:
        args: recipe arguments (sources, strict, irrelevance settings).
        seed: recipe seed; weighting and mixing are deterministic from it.
        sources: override ``args.sources`` (used for ``eval_sources``).
        mix: apply irrelevance mixing (off for evaluation-loss sets).

    Returns:
        ``(examples, report)``: examples in their final order (row index = position).

    A source that gives no rows (an empty file, or every row dropped) is a warning in
    ``report.warnings`` and the log, not an error, as long as another source gives rows.

    Raises:
        DataError: in strict mode, the first invalid row (message names source, row and field);
            a local file is named by its path as the recipe writes it.
        RecipeError: a source's file does not exist (the message names ``sources[i].path``).
        SourceError: no usable rows at all (a ``ValueError``).
    """
    from .irrelevance import mix_irrelevance

    report = DataReport()
    rng = random.Random(seed)
    call_rows: list[Example] = []
    no_call_rows: list[Example] = []
    external: list[Example] = []
    field_name = "sources" if sources is None else "eval_sources"
    for i, src in enumerate(args.sources if sources is None else sources):
        result = _read(src, args.strict, f"{field_name}[{i}]")
        if result.rows_read == 0:
            report.warn(f"{_source_name(src, i)}: the source is empty (0 rows read)")
        elif not result.examples:
            reasons = ", ".join(f"{k}: {v}" for k, v in result.dropped.most_common())
            report.warn(f"{_source_name(src, i)}: no usable rows, all {result.candidates} dropped ({reasons})")
        examples = [ex for ex in result.examples if ex.kind != "relevance"]
        dropped = dict(result.dropped)
        if len(examples) < len(result.examples):
            # BFCL live_relevance: a call is expected but no gold call exists; evaluation only.
            dropped["relevance_without_gold"] = len(result.examples) - len(examples)
        if src.max_rows is not None:
            examples = examples[: src.max_rows]
        used = _weighted(examples, src.weight, rng)
        report.sources[_source_name(src, i)] = {
            "rows_read": result.rows_read,
            "examples": len(result.examples),
            "dropped": dropped,
            "warnings": dict(result.warnings),
            "used": len(used),
            "errors": list(result.errors)[:5],
        }
        for ex in used:
            if src.kind == "irrelevance" or ex.kind == "irrelevance":
                external.append(ex)
            elif ex.answers:
                call_rows.append(ex)
            else:
                no_call_rows.append(ex)
    if not mix:
        rows = call_rows + no_call_rows + external
    else:
        rows, irr = mix_irrelevance(
            call_rows,
            args.irrelevance_ratio,
            seed,
            external=external if external else None,
            existing_no_call=no_call_rows if no_call_rows else None,
        )
        report.irrelevance = irr.to_dict()
    if not rows:
        raise SourceError(
            "no usable rows: every source was empty or every row was dropped"
            + (f" ({'; '.join(report.warnings)})" if report.warnings else "")
        )
    return rows, report


def _read(src: DataSource, strict: bool, field_name: str):
    """``read_source`` for a recipe's source. A missing file (or an unreachable hub dataset) is a
    :class:`RecipeError` naming the field (``sources[2].path``); a strict error names a local file
    by its path as the recipe writes it (the reader's own name for it is the file stem)."""
    try:
        return read_source(
            src.format,
            src.path,
            split=src.split,
            config=src.name,
            strict=strict,
            kind=src.kind if src.format == "xlam" else None,
            # the evaluation-set reader keeps rows that fail a check by default; training drops them
            **({"validate": True} if src.format == "hammer_eval" else {}),
        )
    except (FileNotFoundError, ConnectionError) as exc:  # no such file; a hub dataset that cannot be reached
        raise RecipeError(f"{field_name}.path: {exc}") from None
    except DataError as err:
        if err.source == Path(src.path).stem:
            raise err.located(source=src.path) from None
        raise


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
    tools = conversation.get("tools")
    kw = {"tools": tools} if tools else {}
    prompt_text = tokenizer.apply_chat_template(
        conversation["prompt"], tokenize=False, add_generation_prompt=True, **kw
    )
    full_text = tokenizer.apply_chat_template(
        conversation["prompt"] + conversation["completion"], tokenize=False, **kw
    )
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    n = 0
    for a, b in zip(prompt_ids, full_ids):
        if a != b:
            break
        n += 1
    return {"input_ids": full_ids, "labels": [-100] * n + full_ids[n:]}


class MaskingTransform:
    """Batched ``Dataset.with_transform`` function for dynamic masking.

    Input batch: ``{"example": list[str] (JSON of :meth:`Example.to_dict`), "row": list[int], ...}``.
    Output: ``{"input_ids": list[list[int]], "labels": list[list[int]], "length": list[int]}``.
    The epoch is read from ``epoch_tensor`` (a shared-memory ``torch.int64`` scalar written by
    :class:`EpochCallback`), or fixed with ``fixed_epoch`` (evaluation sets).
    Rows longer than ``max_length`` are truncated keeping the start (rare: lengths were checked at
    epoch 0, and masked names change lengths by a few tokens).
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
        out: dict[str, list] = {"input_ids": [], "labels": [], "length": []}
        for raw, row in zip(batch["example"], batch["row"]):
            conv, _ = render_row(
                Example.from_storage(json.loads(raw)), row, self.args, self.masking_config, self.seed, epoch
            )
            tok = tokenize_conversation(conv, self.tokenizer)
            if self.max_length is not None and len(tok["input_ids"]) > self.max_length:
                tok = {k: v[: self.max_length] for k, v in tok.items()}
            out["input_ids"].append(tok["input_ids"])
            out["labels"].append(tok["labels"])
            out["length"].append(len(tok["input_ids"]))
        return out


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


def padding_share(lengths: list[int], batch_size: int, strategy: str = "random", seed: int = 0) -> float:
    """Share of padding tokens when ``lengths`` are batched ``batch_size`` at a time.

    Args:
        strategy: ``"random"`` (shuffled, the Trainer default) or ``"group_by_length"``
            (transformers' ``LengthGroupedSampler`` order).

    Returns:
        padding tokens / all tokens processed, in [0, 1).
    """
    if not lengths:
        return 0.0
    import torch

    g = torch.Generator().manual_seed(seed)
    if strategy == "group_by_length":
        from transformers.trainer_pt_utils import get_length_grouped_indices

        order = get_length_grouped_indices(lengths, batch_size, generator=g)
    else:
        order = torch.randperm(len(lengths), generator=g).tolist()
    real = padded = 0
    for s in range(0, len(order), batch_size):
        chunk = [lengths[j] for j in order[s : s + batch_size]]
        real += sum(chunk)
        padded += max(chunk) * len(chunk)
    return 1 - real / padded


def _percentiles(lengths: list[int]) -> dict[str, Any]:
    if not lengths:
        return {}
    s = sorted(lengths)

    def q(p: float) -> int:
        return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]

    return {
        "min": s[0],
        "p50": q(0.5),
        "p90": q(0.9),
        "p99": q(0.99),
        "max": s[-1],
        "mean": round(sum(s) / len(s), 1),
        "total": sum(s),
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
):
    """Build the training (or evaluation) dataset a recipe describes.

    Args:
        args: recipe data arguments.
        seed: recipe seed (same seed -> same rows, same masked names, same report).
        tokenizer: when given, rows are tokenized (``input_ids``, ``labels``, ``length``); when
            ``None``, the dataset holds TRL conversational ``prompt`` / ``completion`` rows of
            epoch 0 / all static copies (for inspection and for plain TRL scripts).
        max_length: rows with more tokens are dropped and counted (needs ``tokenizer``).
        batch_size: per-device batch, for the padding share in the report.
        sampling_strategy: the trainer's ``train_sampling_strategy``, for the padding share.
        sources, mix: see :func:`load_examples`.
        epoch_tensor: dynamic mode: shared epoch tensor (created when ``None``).
        fixed_epoch: dynamic mode: always use this epoch (evaluation sets).

    Returns:
        ``(dataset, report)``. In dynamic mode with a tokenizer the dataset carries the
        :class:`MaskingTransform` (``dataset.epoch_tensor`` is not set; pass your own tensor to
        share it with :class:`EpochCallback`).
    """
    from datasets import Dataset

    examples, report = load_examples(args, seed, sources=sources, mix=mix)
    mcfg = args.masking_config()
    dynamic = args.masking_mode == "dynamic" and tokenizer is not None
    copies = 1 if args.masking_mode == "dynamic" else args.masking_copies
    report.settings = {
        "seed": seed,
        "prompt_style": args.prompt_style,
        "masking_mode": args.masking_mode,
        "masking_copies": copies,
        "masking_row_prob": args.masking_row_prob,
        "irrelevance_ratio": args.irrelevance_ratio if mix else None,
        "max_length": max_length,
    }

    kinds: Counter = Counter()
    masked_rows = 0
    rows: list[dict[str, Any]] = []
    lengths: list[int] = []
    too_long = 0
    kept_empty = 0  # rows whose answer is [] that survive the length filter
    for copy in range(copies):
        for i, ex in enumerate(examples):
            conv, mk = render_row(ex, i, args, mcfg, seed, copy)
            masked_rows += bool(mk)
            kinds.update(mk)
            if tokenizer is None:
                rows.append({**conv, "kind": ex.kind})
                continue
            tok = tokenize_conversation(conv, tokenizer)
            n = len(tok["input_ids"])
            if max_length is not None and n > max_length:
                too_long += 1
                continue
            lengths.append(n)
            kept_empty += not ex.answers
            if dynamic:
                rows.append({"example": json.dumps(ex.to_dict(), ensure_ascii=False), "row": i, "length": n})
            else:
                rows.append({"input_ids": tok["input_ids"], "labels": tok["labels"], "length": n})
    report.masking = {
        "rows_rendered": len(examples) * copies,
        "rows_masked": masked_rows,
        "by_kind": dict(sorted(kinds.items())),
    }
    if tokenizer is not None:
        report.tokens = {
            "lengths": _percentiles(lengths),
            "dropped_too_long": too_long,
            # the irrelevance share after over-long rows are dropped (mixing hits its target before)
            "irrelevance_share_after_length_filter": round(kept_empty / len(lengths), 4) if lengths else None,
            "completion_tokens_note": "labels cover the completion and its end-of-turn token",
            "padding_share": {
                "batch_size": batch_size,
                "random": round(padding_share(lengths, batch_size, "random", seed), 4),
                "group_by_length": round(padding_share(lengths, batch_size, "group_by_length", seed), 4),
                "recipe_strategy": sampling_strategy,
            },
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
