"""The synthesis pipeline: four stages, each a function and a ``--stage`` of the command, linked by
JSON-lines files in ``output_dir``.

============ ===================================================== ===============================
stage        does                                                  reads -> writes
============ ===================================================== ===============================
``apis``     the API pool: seeds, domains, evolution               tools -> ``apis.jsonl``
             (:func:`~hammer_train.synthesis.expansion.expand_apis`)
``dialogs``  three-agent dialogs                                   ``apis.jsonl`` -> ``dialogs.jsonl``
             (:func:`~hammer_train.synthesis.dialogs.generate_dialogs`)
``rules``    the rule layer, strict (:func:`verify_rules`)          ``dialogs.jsonl`` -> ``verified.jsonl``
``judges``   the model layer (:func:`~hammer_train.synthesis.judges.judge_rows`)
                                                                   ``verified.jsonl`` -> ``output_file``
============ ===================================================== ===============================

``--stage all`` runs them in order. The report (``report.json`` and ``report.md``; ``report_<stage>``
for one stage) counts every sample by stage and reason, and the tokens spent. A killed run started
again with the same arguments asks the same questions (seeded requests) and gets the answers it
already paid for from the endpoint cache without sending them.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from ..endpoint import ChatEndpoint, EndpointConfig
from ._common import read_jsonl, write_jsonl
from .config import SynthesisArguments
from .dialogs import generate_dialogs
from .expansion import expand_apis
from .inputs import load_tools, tools_from_dataset
from .judges import judge_rows
from .lint import lint_rows
from .report import SynthesisReport
from .rules import RuleConfig


__all__ = ["load_seed_apis", "verify_rules", "make_endpoint", "run_pipeline", "output_path"]

logger = logging.getLogger(__name__)


def load_seed_apis(args: SynthesisArguments) -> list[dict[str, Any]]:
    """The user's tools from ``tools_file`` and ``tools_data`` (names unique, file first).

    Raises:
        ValueError: neither tools nor ``domains`` given; see also :func:`load_tools`.
    """
    apis: list[dict[str, Any]] = []
    if args.tools_file:
        apis += load_tools(args.tools_file, args.tools_format)
    if args.tools_data:
        names = {a["name"] for a in apis}
        apis += [a for a in tools_from_dataset(args.tools_data) if a["name"] not in names]
    if not apis and not args.domains:
        raise ValueError("nothing to start from: give --tools_file, --tools_data or --domains")
    return apis


def verify_rules(
    rows: list[dict[str, Any]], args: SynthesisArguments, report: SynthesisReport
) -> list[dict[str, Any]]:
    """The rule layer on generated dialogs (:mod:`hammer_train.synthesis.rules`), strict: API
    definitions in JSON Schema's own types and a final answer required. Passing rows get
    ``provenance.verdicts.rules = "pass"``; counts go to ``report.stage("rules")``."""
    config = RuleConfig(max_turn_chars=args.max_turn_chars, strict_api=True, require_final_answer=True)
    kept = lint_rows(rows, report, config, source="dialogs")
    for row in kept:
        row.setdefault("provenance", {}).setdefault("verdicts", {})["rules"] = "pass"
    return kept


def make_endpoint(
    base_url: str | None, model: str | None, args: SynthesisArguments, cache_scope: str | None = None
) -> ChatEndpoint:
    """A :class:`~hammer_train.endpoint.ChatEndpoint` with the run's timeout, retries, concurrency
    and cache (``cache_dir``, default ``output_dir/cache``; keyed by ``cache_scope`` in place of
    ``base_url`` when given). Without ``model`` the server is asked for its models and the first one
    is used (vLLM serves one)."""
    cache = args.cache_dir or str(Path(args.output_dir) / "cache")
    if not model:
        model = _first_model(base_url, args)
    config = EndpointConfig(
        base_url=base_url,
        model=model,
        api_key_env=args.api_key_env,
        timeout=args.timeout,
        max_retries=args.max_retries,
        concurrency=args.concurrency,
        cache_dir=cache,
        cache_scope=cache_scope,
    )
    return ChatEndpoint(config)


def _first_model(base_url: str | None, args: SynthesisArguments) -> str:
    import os

    from openai import OpenAI

    from ..endpoint import NO_KEY

    client = OpenAI(
        base_url=base_url, api_key=os.environ.get(args.api_key_env) or NO_KEY, timeout=args.timeout, max_retries=1
    )
    models = [m.id for m in client.models.list()]
    if not models:
        raise ValueError(f"the server at {base_url} serves no model; pass --model")
    return models[0]


def output_path(args: SynthesisArguments) -> Path:
    """Where the accepted rows go: ``output_file``, or ``output_dir/synthesized.jsonl``."""
    return Path(args.output_file) if args.output_file else Path(args.output_dir) / "synthesized.jsonl"


def _pool(args: SynthesisArguments, out: Path, generator, report: SynthesisReport) -> list[dict[str, Any]]:
    if args.stage == "dialogs":
        if (out / "apis.jsonl").is_file():
            return read_jsonl(out / "apis.jsonl")
        return expand_apis(load_seed_apis(args), None, args, report)
    pool = expand_apis(load_seed_apis(args), generator, args, report)
    report.outputs["apis"] = str(out / "apis.jsonl")
    write_jsonl(out / "apis.jsonl", pool)
    return pool


def run_pipeline(
    args: SynthesisArguments, generator: ChatEndpoint | None, judge: ChatEndpoint | None = None
) -> SynthesisReport:
    """Run ``args.stage`` (see the module docstring) and write its files and report.

    Args:
        args: the run's arguments.
        generator: the generator endpoint (``None`` only for ``--stage rules``).
        judge: the judge endpoint (default: ``generator``).

    Returns:
        The report (also written to ``output_dir``).

    Raises:
        ValueError: no tools, an empty pool; FileNotFoundError: a stage's input file is missing
            (run the stage before it first). The report so far (e.g. why each seed tool was
            dropped) is written before the error propagates.
    """
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    judge = judge or generator
    report = SynthesisReport(settings=dataclasses.asdict(args))
    try:
        _run_stages(args, out, generator, judge, report)
    finally:
        report.usage = {"generator": generator.usage.to_dict()} if generator is not None else {}
        if judge is not None and judge is not generator:
            report.usage["judge"] = judge.usage.to_dict()
        name = "report.json" if args.stage == "all" else f"report_{args.stage}.json"
        report.outputs["report"] = str(out / name)
        report.write(out / name)
    return report


def _run_stages(
    args: SynthesisArguments, out: Path, generator: ChatEndpoint | None, judge, report: SynthesisReport
) -> None:
    """The stages of ``args.stage``, in order, each writing its file into ``out``."""
    run = {args.stage} if args.stage != "all" else {"apis", "dialogs", "rules", "judges"}
    rows: list[dict[str, Any]] | None = None
    if run & {"apis", "dialogs"}:
        pool = _pool(args, out, generator, report)
        if "dialogs" in run:
            rows = generate_dialogs(pool, generator, args, report)
            write_jsonl(out / "dialogs.jsonl", rows)
            report.outputs["dialogs"] = str(out / "dialogs.jsonl")
    if "rules" in run:
        rows = verify_rules(rows if rows is not None else read_jsonl(out / "dialogs.jsonl"), args, report)
        write_jsonl(out / "verified.jsonl", rows)
        report.outputs["verified"] = str(out / "verified.jsonl")
    if "judges" in run:
        rows = rows if rows is not None else read_jsonl(out / "verified.jsonl")
        if args.judges:
            rows = judge_rows(
                rows,
                judge,
                args.judges,
                report,
                seed=args.seed,
                max_tokens=min(args.max_tokens, 256),
                json_mode=args.json_mode,
                progress=args.progress,
            )
        write_jsonl(output_path(args), rows)
        report.outputs["accepted"] = str(output_path(args))
        for row in rows[:5]:
            report.accept(row)
