"""The synthesis report: every sample seen, kept or dropped by stage and reason, tokens spent.

Like the training data report (:class:`hammer_train.data.DataReport`): nothing is lost silently.
Each stage counts what came in, what it kept, and what it dropped under one reason per sample (the
first check it failed); ``failed_checks`` also counts every check a sample failed, so a linter run
shows how often each rule fires even behind another. A few rejected samples per stage and the first
accepted ones are kept for reading.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


__all__ = ["StageReport", "SynthesisReport", "MAX_SAMPLES"]

MAX_SAMPLES = 5
"""Rejected samples (and their messages) kept per stage; accepted samples kept overall."""


@dataclass
class StageReport:
    """Counts of one stage.

    Attributes:
        seen: samples that entered the stage (invariant: ``kept + sum(dropped) == seen``).
        kept: samples that left it.
        dropped: reason -> samples dropped under it (their first failed check).
        failed_checks: reason -> samples failing that check at all (rule stages).
        rejected: the first :data:`MAX_SAMPLES` dropped samples: ``{"id", "reason", "message",
            "sample"}``.
    """

    seen: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    failed_checks: Counter = field(default_factory=Counter)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def keep(self, n: int = 1) -> None:
        """Count ``n`` samples that passed the stage."""
        self.seen += n
        self.kept += n

    def drop(self, reason: str, message: str = "", sample: Any = None, sample_id: Any = None) -> None:
        """Count one dropped sample under ``reason`` (and keep it for reading while there is room)."""
        self.seen += 1
        self.dropped[reason] += 1
        if len(self.rejected) < MAX_SAMPLES:
            self.rejected.append({"id": sample_id, "reason": reason, "message": message, "sample": sample})

    def to_dict(self) -> dict[str, Any]:
        """JSON form: counts, ``acceptance`` (kept / seen, ``None`` when nothing was seen), reasons."""
        return {
            "seen": self.seen,
            "kept": self.kept,
            "acceptance": round(self.kept / self.seen, 4) if self.seen else None,
            "dropped": dict(self.dropped.most_common()),
            "failed_checks": dict(self.failed_checks.most_common()),
            "rejected": self.rejected,
        }


@dataclass
class SynthesisReport:
    """The whole run's report; JSON with :meth:`to_dict`, a markdown table with :meth:`to_markdown`.

    Attributes:
        settings: the arguments of the run (no secrets: the key is never an argument).
        stages: stage name -> :class:`StageReport`, in run order.
        usage: endpoint role (``generator``, ``judge``) -> requests sent / cached / failed and tokens
            (:meth:`hammer_train.endpoint.EndpointUsage.to_dict`).
        accepted: the first :data:`MAX_SAMPLES` samples that passed every stage.
        outputs: what was written where.
    """

    settings: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, StageReport] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    accepted: list[Any] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def stage(self, name: str) -> StageReport:
        """The report of stage ``name``, created on first use."""
        if name not in self.stages:
            self.stages[name] = StageReport()
        return self.stages[name]

    def accept(self, sample: Any) -> None:
        """Keep ``sample`` as an accepted example while there is room."""
        if len(self.accepted) < MAX_SAMPLES:
            self.accepted.append(sample)

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the whole report."""
        return {
            "settings": self.settings,
            "stages": {k: v.to_dict() for k, v in self.stages.items()},
            "usage": self.usage,
            "accepted": self.accepted,
            "outputs": self.outputs,
        }

    def to_markdown(self) -> str:
        """Two tables: per stage (in, kept, acceptance), then per stage and reason (dropped, and
        how many samples failed that check at all), then token usage."""
        lines = ["| stage | in | kept | acceptance |", "|---|---:|---:|---:|"]
        for name, st in self.stages.items():
            acc = f"{st.kept / st.seen:.3f}" if st.seen else "-"
            lines.append(f"| {name} | {st.seen} | {st.kept} | {acc} |")
        lines += ["", "| stage | reason | dropped | failed the check |", "|---|---|---:|---:|"]
        for name, st in self.stages.items():
            for reason in sorted(set(st.dropped) | set(st.failed_checks), key=lambda r: (-st.dropped[r], r)):
                lines.append(f"| {name} | `{reason}` | {st.dropped[reason]} | {st.failed_checks[reason] or '-'} |")
        if self.usage:
            lines += ["", "| endpoint | sent | cached | failed | prompt tokens | completion tokens |"]
            lines.append("|---|---:|---:|---|---:|---:|")
            for role, u in self.usage.items():
                failed = ", ".join(f"{k}: {v}" for k, v in u.get("failed", {}).items()) or "-"
                lines.append(
                    f"| {role} | {u['sent']} | {u['cached']} | {failed} | {u['prompt_tokens']} | {u['completion_tokens']} |"
                )
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path) -> None:
        """Write the JSON report to ``path`` and the markdown tables next to it (``.md``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        path.with_suffix(".md").write_text(self.to_markdown(), encoding="utf-8")
