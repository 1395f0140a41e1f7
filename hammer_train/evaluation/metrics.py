"""Scores for generated function calls: Hammer's F1, our strict F1, irrelevance / relevance.

Inputs are per row: the generated text (or already-parsed calls for :func:`strict_f1` and
:func:`irrelevance_accuracy`) and the gold calls as a list of ``{"name", "arguments"}`` or
``{"tool", "parameters"}`` dicts (``[]`` for a row where the right answer is to refuse).
Every function returns a JSON-able dict.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from .parse import ParseResult, hammer_parse, normalize_calls, parse_calls


__all__ = ["hammer_f1", "strict_f1", "irrelevance_accuracy", "summarize", "normalize_value"]


def _prf(correct: int, predicted: int, gold: int) -> tuple[float, float, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _gold_calls(gold: Any) -> list[dict]:
    try:
        return normalize_calls(gold)
    except ValueError as e:
        raise ValueError(f"bad gold answer: {e}") from None


# --------------------------------------------------------------------------- Hammer F1


def _hammer_hits(gold_args: dict, pred_args: dict) -> int:
    """Argument hits of one (gold, predicted) pair, per the authors' ``get_p_r_exact``."""
    if not gold_args and gold_args == pred_args:
        return 1
    g = {k: str(v) for k, v in gold_args.items() if v != ""}
    p = {k: str(v) for k, v in pred_args.items() if v != ""}
    if not gold_args and g == p:
        return 1
    return sum(1 for k, v in g.items() if k in p and p[k] == v)


def hammer_f1(predictions: Sequence[str], golds: Sequence[list[dict]]) -> dict:
    """Hammer's micro-averaged API and argument F1, bit-compatible with the authors' scorer.

    Follows the Hammer authors' ``evaluation/evaluate.py`` as restated in docs/design.md ("Evaluation
    exactly as the Hammer authors score it"): predictions parsed with
    :func:`~.parse.hammer_parse`; six counters over the whole file; per row ``gold_calls +=
    len(gold)`` and ``gold_args +=`` gold arguments whose value is not ``""``; a prediction that is
    not a list (format error, or a JSON object) adds 1 predicted call and nothing else; ``[]``
    (refusal) adds nothing, even when the gold is ``[]``; otherwise each predicted call adds its
    non-``""`` arguments to ``pred_args`` and, when its name is among the gold names (membership,
    no pairing), 1 correct call plus the hits of the first gold call of that name with at least
    one hit.  Hits are gold keys whose ``str(value)`` equals the prediction's (so ``5 == "5"``,
    ``1 != 1.0``, ``None`` is ``"None"``); a gold call without arguments scores 1 hit when the
    prediction has none.  Quirks kept: a call predicted twice counts twice (recall can exceed
    1), zero-argument calls can push argument scores above 1.

    One deviation, where the reference crashes instead of scoring: a predicted list with an
    element that is not an object with an ``arguments`` object counts as a format error.  A call
    without ``name`` is counted as the reference does (its arguments count, it matches nothing).
    Where the reference omits a precision/recall/F1 because a counter is 0, we report 0.0.

    Args:
        predictions: generated texts, one per row.
        golds: gold calls per row, ``{"name", "arguments"}`` or ``{"tool", "parameters"}`` dicts.

    Returns:
        ``{"n", "format_errors", "gold_calls", "pred_calls", "correct_calls", "gold_args",
        "pred_args", "correct_args", "api_precision", "api_recall", "api_f1", "args_precision",
        "args_recall", "args_f1"}``.

    Raises:
        ValueError: lengths differ, or a gold answer is not a list of calls.
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold rows")
    counts = dict.fromkeys(_HAMMER_COUNTS, 0)
    counts["n"] = len(golds)
    for text, gold_raw in zip(predictions, golds, strict=True):
        _count_hammer_row(counts, text, _gold_calls(gold_raw))
    return _with_f1(counts, {"api": "calls", "args": "args"})


_HAMMER_COUNTS = (
    "n",
    "format_errors",
    "gold_calls",
    "pred_calls",
    "correct_calls",
    "gold_args",
    "pred_args",
    "correct_args",
)
_STRICT_COUNTS = _HAMMER_COUNTS[:5] + ("exact_calls",) + _HAMMER_COUNTS[5:]


def _with_f1(counts: dict[str, int], groups: dict[str, str]) -> dict:
    """``counts`` plus ``{prefix}_precision / _recall / _f1`` per ``prefix -> noun`` of ``groups``,
    from ``correct_{noun}`` / ``pred_{noun}`` / ``gold_{noun}``."""
    out: dict = dict(counts)
    for prefix, noun in groups.items():
        prf = _prf(counts[f"correct_{noun}"], counts[f"pred_{noun}"], counts[f"gold_{noun}"])
        out.update(zip((f"{prefix}_precision", f"{prefix}_recall", f"{prefix}_f1"), prf, strict=True))
    return out


def _count_hammer_row(counts: dict[str, int], text: Any, gold: list[dict]) -> None:
    """Add one row to :func:`hammer_f1`'s counters (its docstring states the rules)."""
    counts["gold_calls"] += len(gold)
    counts["gold_args"] += sum(1 for c in gold for v in c["arguments"].values() if v != "")
    gold_names = [c["name"] for c in gold]
    res = hammer_parse(text) if not isinstance(text, ParseResult) else text
    if res.calls is None:
        counts["pred_calls"] += 1
        counts["format_errors"] += 1
        return
    counts["pred_calls"] += len(res.calls)
    for call in res.calls:
        counts["pred_args"] += sum(1 for v in call["arguments"].values() if v != "")
        name = call.get("name")
        if "name" not in call or name not in gold_names:
            continue
        counts["correct_calls"] += 1
        best = 0
        for g in gold:
            if g["name"] == name:
                hits = _hammer_hits(g["arguments"], call["arguments"])
                if hits > best:
                    best = hits
                    break
        counts["correct_args"] += best


# --------------------------------------------------------------------------- strict F1


def normalize_value(v: Any) -> str:
    """Canonical form of an argument value for :func:`strict_f1`.

    JSON-typed comparison: a float with an integral value becomes an int (``5 == 5.0``), tuples
    become lists, dict keys are sorted; then ``json.dumps``.  Strings are compared exactly (case
    and whitespace matter) and are never equal to numbers (``"5" != 5``); ``True != 1``.
    """

    def canon(x: Any) -> Any:
        if isinstance(x, bool) or x is None or isinstance(x, (str, int)):
            return x
        if isinstance(x, float):
            return int(x) if x.is_integer() else x
        if isinstance(x, dict):
            return {str(k): canon(val) for k, val in x.items()}
        if isinstance(x, (list, tuple)):
            return [canon(i) for i in x]
        return repr(x)

    return json.dumps(canon(v), sort_keys=True, ensure_ascii=False)


def _arg_hits(gold_args: dict, pred_args: dict) -> int:
    return sum(
        1 for k, v in gold_args.items() if k in pred_args and normalize_value(pred_args[k]) == normalize_value(v)
    )


def _exact(gold_args: dict, pred_args: dict) -> bool:
    return gold_args.keys() == pred_args.keys() and _arg_hits(gold_args, pred_args) == len(gold_args)


def _match(gold: list[dict], pred: list[dict]) -> list[tuple[int, int]]:
    """One-to-one pairs (gold index, pred index) of same-name calls maximizing total argument hits.

    Exact search (bitmask dynamic programming) per name when a name has at most 12 predicted
    calls; greedy (best pairs first) beyond that.  Ties prefer earlier calls.
    """
    pairs: list[tuple[int, int]] = []
    for name in dict.fromkeys(c["name"] for c in gold):
        gi = [i for i, c in enumerate(gold) if c["name"] == name]
        pi = [j for j, c in enumerate(pred) if c["name"] == name]
        if not pi:
            continue
        w = [[_arg_hits(gold[i]["arguments"], pred[j]["arguments"]) for j in pi] for i in gi]
        if len(pi) <= 12:
            pairs += [(gi[a], pi[b]) for a, b in _best_assignment(w, len(pi))]
        else:
            used_g: set[int] = set()
            used_p: set[int] = set()
            for _, a, b in sorted((-w[a][b], a, b) for a in range(len(gi)) for b in range(len(pi))):
                if a not in used_g and b not in used_p:
                    used_g.add(a)
                    used_p.add(b)
                    pairs.append((gi[a], pi[b]))
    return pairs


def _best_assignment(w: list[list[int]], n_pred: int) -> list[tuple[int, int]]:
    """Maximum-cardinality, then maximum-weight assignment of rows of ``w`` to distinct columns."""
    n_gold = len(w)

    @functools.cache
    def best(a: int, used: int) -> tuple[int, int, tuple]:
        if a == n_gold:
            return (0, 0, ())
        options = [best(a + 1, used)]  # leave gold a unmatched
        for b in range(n_pred):
            if not used >> b & 1:
                cnt, wt, rest = best(a + 1, used | 1 << b)
                options.append((cnt + 1, wt + w[a][b], ((a, b),) + rest))
        return max(options, key=lambda o: (o[0], o[1]))

    return list(best(0, 0)[2])


def _as_calls(pred: Any) -> list[dict] | None:
    """A prediction (text, parsed calls or None) -> calls, or None for a format error."""
    if pred is None:
        return None
    if isinstance(pred, ParseResult):
        return pred.calls
    if isinstance(pred, str):
        return parse_calls(pred).calls
    try:
        return normalize_calls(pred)
    except ValueError:
        return None


def strict_f1(predictions: Sequence[Any], golds: Sequence[list[dict]]) -> dict:
    """Our stricter call / argument F1 (docs/design.md, "Evaluation exactly as the Hammer authors score it").

    Rules:

    * predictions are parsed leniently with :func:`~.parse.parse_calls` (or given as calls);
    * calls are matched one to one: same name, and among same-name candidates the assignment
      with the most argument hits;
    * a refusal is one pseudo-call on each side: gold ``[]`` with prediction ``[]`` is one correct
      call; gold ``[]`` with calls, or calls with prediction ``[]``, is one missed and one wrong;
    * a format error is one wrong predicted call (and its arguments count 0);
    * arguments: every key counts (``""`` too); a hit is a matched pair's key whose values are
      equal after :func:`normalize_value` (``5 == 5.0``, ``"5" != 5``, strings exact);
    * exact calls: matched pairs with the same keys and all values equal; a row is exact when
      every gold call and every predicted call is in an exact pair (order ignored).

    Args:
        predictions: per row, generated text, parsed calls, a :class:`~.parse.ParseResult` or
            ``None`` (format error).
        golds: gold calls per row (``[]`` = refuse).

    Returns:
        ``{"n", "format_errors", "gold_calls", "pred_calls", "correct_calls", "exact_calls",
        "gold_args", "pred_args", "correct_args", "api_precision", "api_recall", "api_f1",
        "args_precision", "args_recall", "args_f1", "exact_call_precision", "exact_call_recall",
        "exact_call_f1", "row_exact_accuracy"}``.

    Raises:
        ValueError: lengths differ, or a gold answer is not a list of calls.
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold rows")
    counts = dict.fromkeys(_STRICT_COUNTS, 0)
    counts["n"] = n = len(golds)
    rows_exact = sum(
        _count_strict_row(counts, _as_calls(p), _gold_calls(g)) for p, g in zip(predictions, golds, strict=True)
    )
    out = _with_f1(counts, {"api": "calls", "args": "args"})
    prf = _prf(counts["exact_calls"], counts["pred_calls"], counts["gold_calls"])
    out.update(zip(("exact_call_precision", "exact_call_recall", "exact_call_f1"), prf, strict=True))
    out["row_exact_accuracy"] = rows_exact / n if n else 0.0
    return out


def _count_strict_row(counts: dict[str, int], pred: list[dict] | None, gold: list[dict]) -> bool:
    """Add one row to :func:`strict_f1`'s counters (its docstring states the rules); returns
    whether the row is exact."""
    counts["gold_args"] += sum(len(c["arguments"]) for c in gold)
    if pred is None:
        counts["format_errors"] += 1
        counts["gold_calls"] += max(len(gold), 1)
        counts["pred_calls"] += 1
        return False
    counts["pred_args"] += sum(len(c["arguments"]) for c in pred)
    if not gold or not pred:
        counts["gold_calls"] += max(len(gold), 1)
        counts["pred_calls"] += max(len(pred), 1)
        both_refuse = not gold and not pred
        counts["correct_calls"] += both_refuse
        counts["exact_calls"] += both_refuse
        return both_refuse
    counts["gold_calls"] += len(gold)
    counts["pred_calls"] += len(pred)
    pairs = _match(gold, pred)
    counts["correct_calls"] += len(pairs)
    exact = 0
    for i, j in pairs:
        counts["correct_args"] += _arg_hits(gold[i]["arguments"], pred[j]["arguments"])
        exact += _exact(gold[i]["arguments"], pred[j]["arguments"])
    counts["exact_calls"] += exact
    return exact == len(gold) == len(pred)


# --------------------------------------------------------------------------- refusals


def irrelevance_accuracy(predictions: Sequence[Any], golds: Sequence[list[dict]]) -> dict:
    """Refusal quality (docs/design.md, "Evaluation exactly as the Hammer authors score it").

    * irrelevance accuracy: on rows whose gold is ``[]``, the share of predictions that parse to
      ``[]`` (a format error is wrong: unlike BFCL, unparseable output is not a refusal here);
    * relevance rate: on rows with gold calls, the share of predictions that parse to at least one
      call (right or wrong).

    Args:
        predictions: per row, text, parsed calls, a ``ParseResult`` or ``None``.
        golds: gold calls per row.

    Returns:
        ``{"irrelevance_n", "irrelevance_correct", "irrelevance_accuracy", "relevance_n",
        "relevance_called", "relevance_rate"}``; a rate is ``None`` when it has no rows.
    """
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} gold rows")
    irr_n = irr_ok = rel_n = rel_ok = 0
    for pred_raw, gold_raw in zip(predictions, golds, strict=True):
        gold = _gold_calls(gold_raw)
        pred = _as_calls(pred_raw)
        if not gold:
            irr_n += 1
            irr_ok += pred == []
        else:
            rel_n += 1
            rel_ok += bool(pred)
    return {
        "irrelevance_n": irr_n,
        "irrelevance_correct": irr_ok,
        "irrelevance_accuracy": irr_ok / irr_n if irr_n else None,
        "relevance_n": rel_n,
        "relevance_called": rel_ok,
        "relevance_rate": rel_ok / rel_n if rel_n else None,
    }


def summarize(predictions: Sequence[str], golds: Sequence[list[dict]]) -> dict:
    """All scores for one evaluation set in one JSON-able dict.

    Args:
        predictions: generated texts, one per row.
        golds: gold calls per row (``[]`` = refuse).

    Returns:
        ``{"n", "format_errors" (lenient parser), "hammer": hammer_f1(...), "strict":
        strict_f1(...), "irrelevance": irrelevance_accuracy(...)}``.
    """
    parsed = [parse_calls(p) for p in predictions]
    return {
        "n": len(golds),
        "format_errors": sum(1 for r in parsed if r.calls is None),
        "hammer": hammer_f1(predictions, golds),
        "strict": strict_f1(parsed, golds),
        "irrelevance": irrelevance_accuracy(parsed, golds),
    }
