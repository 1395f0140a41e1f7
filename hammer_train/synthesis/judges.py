"""Stage ``judges``: the model layer of ToolACE's dual-layer verification (arXiv 2409.00920, §2.3).

Separate judge prompts (:data:`hammer_train.synthesis.prompts.JUDGES`), each answering one JSON
verdict ``{"verdict": "pass" | "fail", "reason"}``:

=================== ============================================== ================================
judge               question                                       reason when it fails
=================== ============================================== ================================
``hallucination``   is every argument value stated in the dialog?  ``hallucination``
``consistency``     do the calls and answer serve the request?     ``inconsistent``
``tool_response``   is every simulated tool response plausible?    ``implausible_tool_response``
=================== ============================================== ================================

A judge with nothing to judge (no call: an irrelevance dialog, for ``hallucination`` and
``tool_response``) passes as ``n/a`` without a request. A judge whose reply is unusable drops the
sample as ``judge_<name>.<reason>`` (``not_json``, ``refusal``, ``endpoint_timeout``...; or
``bad_verdict`` when ``verdict`` is neither pass nor fail): a sample is kept only when every judge
passed it. Judges sample at temperature 0. Verdicts go into the row's ``provenance.verdicts``.
"""

from __future__ import annotations

from typing import Any

from ..endpoint import ChatEndpoint
from ._common import chat_request, derive_seed
from .prompts import judge_messages
from .replies import BadReply, parse_json_reply
from .report import SynthesisReport


__all__ = ["FAIL_REASONS", "judge_rows"]

FAIL_REASONS = {
    "hallucination": "hallucination",
    "consistency": "inconsistent",
    "tool_response": "implausible_tool_response",
}
"""Judge -> the reason a sample it fails is counted under."""

_NEEDS_CALLS = ("hallucination", "tool_response")


def _verdict(result) -> dict[str, str]:
    value = parse_json_reply(result, dict)
    verdict = str(value.get("verdict", "")).strip().lower()
    if verdict not in ("pass", "fail"):
        raise BadReply("bad_verdict", str(value)[:120])
    return {"verdict": verdict, "reason": str(value.get("reason", ""))[:500]}


def _tools_with_returns(row: dict[str, Any]) -> list[dict[str, Any]]:
    returns = (row.get("provenance") or {}).get("returns") or {}
    out = []
    for tool in row["tools"]:
        fn = dict(tool.get("function", tool))
        if fn.get("name") in returns:
            fn["returns"] = returns[fn["name"]]
        out.append(fn)
    return out


def _requests(rows, judges, seed, max_tokens, json_mode) -> tuple[list[tuple[int, str]], list[dict[str, Any]]]:
    """``(plan, requests)``: one request per row and judge that has something to judge."""
    plan: list[tuple[int, str]] = []
    requests = []
    for i, row in enumerate(rows):
        has_calls = any(m.get("tool_calls") for m in row["messages"])
        tools = _tools_with_returns(row)
        for judge in judges:
            if judge in _NEEDS_CALLS and not has_calls:
                continue
            plan.append((i, judge))
            key = row.get("provenance", {}).get("content_hash", i)
            requests.append(
                chat_request(
                    judge_messages(judge, tools, row["messages"]),
                    seed=derive_seed(seed, "judge", judge, key),
                    temperature=0.0,
                    max_tokens=max_tokens,
                    json_object=json_mode,
                )
            )
    return plan, requests


def _failures(verdicts: dict[str, dict[str, str]], judges: list[str]) -> list[tuple[str, str]]:
    """``(reason, judge's reason)`` of every judge that failed the sample or could not judge it."""
    out = []
    for judge in judges:
        v = verdicts[judge]
        if v["verdict"] == "fail":
            out.append((FAIL_REASONS[judge], v["reason"]))
        elif v["verdict"] == "error":
            out.append((v["reason"], ""))
    return out


def judge_rows(
    rows: list[dict[str, Any]],
    endpoint: ChatEndpoint,
    judges: list[str],
    report: SynthesisReport,
    *,
    seed: int = 0,
    max_tokens: int = 256,
    json_mode: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the judges over ``rows`` and return those every judge passed (see the module docstring).

    Args:
        rows: OpenAI rows with ``provenance`` (the dialogs that passed the rule layer).
        endpoint: the judge model's endpoint.
        judges: judge names, in the order their failures are reported.
        report: counts go to ``report.stage("judges")``; ``failed_checks`` counts every judge that
            failed or could not judge a sample, not only the first.
        seed, max_tokens, json_mode: request settings (temperature is 0).

    Returns:
        The passing rows (with verdicts added to ``provenance.verdicts``), in input order.
    """
    stage = report.stage("judges")
    plan, requests = _requests(rows, judges, seed, max_tokens, json_mode)
    results = endpoint.complete(requests, desc="judges", progress=progress)
    verdicts: list[dict[str, Any]] = [{j: {"verdict": "n/a"} for j in judges} for _ in rows]
    for (i, judge), result in zip(plan, results):
        try:
            verdicts[i][judge] = _verdict(result)
        except BadReply as bad:
            verdicts[i][judge] = {"verdict": "error", "reason": f"judge_{judge}.{bad.reason}"}
    kept = []
    for row, v in zip(rows, verdicts):
        prov = row.setdefault("provenance", {})
        prov.setdefault("verdicts", {}).update({f"judge_{j}": v[j] for j in judges})
        failures = _failures(v, judges)
        for reason, _ in failures:
            stage.failed_checks[reason] += 1
        if failures:
            stage.drop(failures[0][0], failures[0][1], row, prov.get("index"))
            continue
        stage.keep()
        kept.append(row)
    return kept
