"""Stage ``apis``: the API pool, grown from the user's tools and seed domains (ToolACE, arXiv
2409.00920, §2.1, tool self-evolution synthesis).

* The user's tools are the seeds; each is checked as an API definition (strict JSON Schema after
  the input normalization), and one that fails is dropped with its reason (``seed.<reason>``).
* Speciation: for every seed domain the generator designs ``new_apis_per_domain`` new APIs.
* Evolution: for ``expansion_rounds`` rounds, each API of the previous round gets
  ``evolutions_per_api`` variants, each made by one diversity operation drawn (seeded) from
  ``evolution_ops``: add a parameter, add a constraint (enum, range, pattern), change a type,
  change the return.

Every generated spec must be a JSON object that passes :func:`~hammer_train.synthesis.apispec.check_api`
in strict mode (:mod:`jsonschema`), must show the operation it was asked for
(``operation_not_applied`` otherwise), and must be new: a name already in the pool is a
``duplicate_name``, the same description, parameters and return under another name a
``duplicate_signature``. Bad generator replies are counted as ``api_design.<reason>`` /
``api_evolution.<reason>`` (:mod:`hammer_train.synthesis.replies`).
"""

from __future__ import annotations

import logging
import random
from typing import Any

from ..endpoint import ChatEndpoint
from ..schema import DataError
from ._common import chat_request, derive_seed
from .apispec import CONSTRAINT_KEYS, api_signature, check_api
from .config import SynthesisArguments
from .prompts import api_design_messages, api_evolution_messages
from .replies import BadReply, parse_json_reply
from .report import SynthesisReport


__all__ = ["expand_apis", "operation_applied"]

logger = logging.getLogger(__name__)

_API_KEYS = ("name", "description", "parameters", "returns")


def _props(api: dict[str, Any]) -> dict[str, Any]:
    props = (api.get("parameters") or {}).get("properties") or {}
    return props if isinstance(props, dict) else {}


def operation_applied(parent: dict[str, Any], child: dict[str, Any], operation: str) -> bool:
    """Whether ``child`` shows ``operation`` relative to ``parent``: a parameter name it did not
    have (``add_parameter``); a constraint keyword (:data:`CONSTRAINT_KEYS`) on a parameter that
    lacked it (``add_constraint``); a shared parameter whose type changed (``change_type``); a
    different return schema (``change_return``)."""
    old, new = _props(parent), _props(child)
    if operation == "add_parameter":
        return bool(set(new) - set(old))
    if operation == "add_constraint":
        return any(
            isinstance(spec, dict) and any(k in spec and k not in (old.get(p) or {}) for k in CONSTRAINT_KEYS)
            for p, spec in new.items()
        )
    if operation == "change_type":
        return any(
            isinstance(new[p], dict) and isinstance(old[p], dict) and new[p].get("type") != old[p].get("type")
            for p in set(old) & set(new)
        )
    if operation == "change_return":
        return child.get("returns") is not None and child.get("returns") != parent.get("returns")
    raise ValueError(f"unknown evolution operation {operation!r}")


class _Pool:
    """The API pool with its name and signature indexes."""

    def __init__(self) -> None:
        self.apis: list[dict[str, Any]] = []
        self.names: set[str] = set()
        self.signatures: set[str] = set()

    def duplicate(self, api: dict[str, Any]) -> str | None:
        if api["name"].lower() in self.names:
            return "duplicate_name"
        if api_signature(api) in self.signatures:
            return "duplicate_signature"
        return None

    def add(self, api: dict[str, Any]) -> None:
        self.apis.append(api)
        self.names.add(api["name"].lower())
        self.signatures.add(api_signature(api))


def _admit_seeds(seeds: list[dict[str, Any]], pool: _Pool, report: SynthesisReport) -> None:
    stage = report.stage("apis")
    for i, api in enumerate(seeds):
        try:
            check_api(api, f"seed tools[{i}]", strict=True)
            reason = pool.duplicate(api)
        except DataError as err:
            logger.warning("seed tool dropped: %s", err)
            stage.drop(f"seed.{err.reason}", str(err), api, api.get("name"))
            continue
        if reason:
            stage.drop(f"seed.{reason}", f"seed tools[{i}] {api['name']!r}", api, api.get("name"))
            continue
        pool.add({**api, "origin": api.get("origin") or {"seed": True}})
        stage.keep()


def _admit_generated(
    result, job: dict[str, Any], pool: _Pool, report: SynthesisReport, new: list[dict[str, Any]]
) -> None:
    stage = report.stage("apis")
    task = job["task"]
    try:
        value = parse_json_reply(result, dict)
    except BadReply as bad:
        stage.drop(f"{task}.{bad.reason}", bad.detail, None, job["id"])
        return
    api = {k: value[k] for k in _API_KEYS if k in value}
    try:
        check_api(api, f"{task} {job['id']}", strict=True)
    except DataError as err:
        stage.drop(err.reason, str(err), value, job["id"])
        return
    if "operation" in job and not operation_applied(job["parent"], api, job["operation"]):
        stage.drop("operation_not_applied", f"{job['operation']} of {job['parent']['name']!r}", api, job["id"])
        return
    reason = pool.duplicate(api)
    if reason:
        stage.drop(reason, f"{api['name']!r}", api, job["id"])
        return
    origin = {"operation": job["operation"], "parent": job["parent"]["name"]} if "operation" in job else {}
    api["origin"] = origin or {"domain": job["domain"]}
    pool.add(api)
    new.append(api)
    stage.keep()


def _run_jobs(jobs, endpoint, args, pool, report, desc) -> list[dict[str, Any]]:
    requests = [
        chat_request(
            job["messages"],
            seed=job["seed"],
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            json_object=args.json_mode,
        )
        for job in jobs
    ]
    new: list[dict[str, Any]] = []
    for job, result in zip(jobs, endpoint.complete(requests, desc=desc, progress=args.progress)):
        _admit_generated(result, job, pool, report, new)
    return new


def _evolution_jobs(parents: list[dict[str, Any]], args: SynthesisArguments, round_no: int) -> list[dict[str, Any]]:
    jobs = []
    for parent in parents:
        view = {k: parent[k] for k in _API_KEYS if k in parent}
        for k in range(args.evolutions_per_api):
            seed = derive_seed(args.seed, "evolve", round_no, parent["name"], k)
            operation = random.Random(seed).choice(args.evolution_ops)
            jobs.append(
                {
                    "task": "api_evolution",
                    "id": f"r{round_no}:{parent['name']}:{k}",
                    "seed": seed,
                    "operation": operation,
                    "parent": view,
                    "messages": api_evolution_messages(view, operation),
                }
            )
    return jobs


def expand_apis(
    seeds: list[dict[str, Any]],
    endpoint: ChatEndpoint | None,
    args: SynthesisArguments,
    report: SynthesisReport,
) -> list[dict[str, Any]]:
    """Build the API pool (see the module docstring).

    Args:
        seeds: the user's tools as API specs (:mod:`hammer_train.synthesis.inputs`).
        endpoint: the generator; ``None`` only when nothing is to be generated.
        args: ``domains``, ``new_apis_per_domain``, ``evolutions_per_api``, ``expansion_rounds``,
            ``evolution_ops``, sampling settings and ``seed``.
        report: counts go to ``report.stage("apis")``.

    Returns:
        The pool: seeds first (``origin: {"seed": true}``), then generated APIs with their
        ``origin`` (``{"domain"}`` or ``{"operation", "parent"}``).
    """
    pool = _Pool()
    _admit_seeds(seeds, pool, report)
    wants_design = bool(args.domains) and args.new_apis_per_domain > 0
    wants_evolution = args.expansion_rounds > 0 and args.evolutions_per_api > 0 and args.evolution_ops
    if endpoint is None or not (wants_design or wants_evolution):
        return pool.apis
    generation = list(pool.apis)
    for j in range(args.new_apis_per_domain if wants_design else 0):
        jobs = [
            {
                "task": "api_design",
                "id": f"{domain}:{j}",
                "seed": derive_seed(args.seed, "design", domain, j),
                "domain": domain,
                "messages": api_design_messages(domain, pool.apis[-5:]),
            }
            for domain in args.domains
        ]
        generation += _run_jobs(jobs, endpoint, args, pool, report, f"API design {j + 1}")
    for round_no in range(1, args.expansion_rounds + 1 if wants_evolution else 1):
        jobs = _evolution_jobs(generation, args, round_no)
        generation = _run_jobs(jobs, endpoint, args, pool, report, f"API evolution {round_no}")
        if not generation:
            break
    return pool.apis
