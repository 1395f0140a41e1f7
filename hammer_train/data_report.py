"""The data report: what happened to every row of a recipe's data, as JSON.

Written by :func:`hammer_train.data.build_dataset`, printed by ``hammer-train prepare-data
--report`` and saved as ``data_report.json`` next to every adapter.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any


logger = logging.getLogger(__name__)

__all__ = ["DataReport", "padding_share", "length_percentiles"]


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
        length: the length step (with a tokenizer and ``max_length``): ``rows_used`` (sum of the
            sources' ``used``), ``dropped_too_long`` (source rows whose core does not fit, by pool:
            ``call``, ``no_call``, ``irrelevance``), ``not_drawn`` (``[]`` rows the mixer did not
            need), ``built`` (irrelevance rows built from call rows), ``rows_kept``
            (= rows_used - dropped_too_long - not_drawn + built), ``built_too_long`` (built rows
            rejected); then, over epoch 0 (dynamic) or all copies (static): ``renderings``,
            ``rows_fitted`` (renderings that lost tools), ``tools_removed``, ``unmasked_to_fit``
            (masked core too long: rendered unmasked) and ``too_long`` (renderings that still do
            not fit: dropped, or cut in later epochs; only with ``fit_long_rows: false``).
        tokens: token-length percentiles of the final rows, rows dropped as too long (in total),
            and the padding share expected for the recipe's batch settings.
        final_rows: rows in the dataset handed to the trainer.
        warnings: one message per source that gave no rows (an empty file, or every row
            dropped), also logged as a warning (stderr).
    """

    sources: dict[str, Any] = field(default_factory=dict)
    irrelevance: dict[str, Any] = field(default_factory=dict)
    masking: dict[str, Any] = field(default_factory=dict)
    length: dict[str, Any] = field(default_factory=dict)
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
            "length": self.length,
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


def length_percentiles(lengths: list[int]) -> dict[str, Any]:
    """``{"min", "p50", "p90", "p99", "max", "mean", "total"}`` of token lengths (``{}`` for none)."""
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
