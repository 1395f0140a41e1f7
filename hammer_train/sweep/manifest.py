"""The sweep folder's manifest, ``sweep.json``: which points ran there and with which settings, so
several sweeps run into one folder (the masking ablation runs three) leave one report that covers
them all. Writers hold a file lock (``.sweep.lock``, :mod:`filelock`), so W&B agents or jobs on
several machines sharing the folder do not lose each other's points."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .spec import MANIFEST_FILE, SweepPoint, SweepSpec, point_status, read_json_or_none


__all__ = ["LOCK_FILE", "sweep_lock", "settings", "read_manifest", "write_manifest", "update_manifest"]

LOCK_FILE = ".sweep.lock"


def sweep_lock(sweep_dir: str | Path):
    """A :class:`filelock.FileLock` on ``<sweep_dir>/.sweep.lock`` (created with the folder); use
    as ``with sweep_lock(d): ...``. Not re-entrant across instances: take it once per update."""
    from filelock import FileLock

    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(sweep_dir) / LOCK_FILE))


def settings(spec: SweepSpec) -> dict[str, Any]:
    """What decides a point's training and evaluation besides its swept values."""
    return {
        "recipe": str(spec.recipe),
        "overrides": list(spec.overrides),
        "benchmarks": spec.benchmarks,
        "limit": spec.limit,
        "eval_args": list(spec.eval_args),
    }


def read_manifest(sweep_dir: str | Path) -> dict[str, Any]:
    """The folder's ``sweep.json``: ``{"name", "points": {point: values}, "sweeps": [{"recipe",
    "overrides", "benchmarks", "limit", "eval_args", "axes", "points": [point, ...]}]}``, one
    ``sweeps`` entry per set of settings that ran points here (a masking ablation and an
    irrelevance sweep can share a folder). A manifest of the older one-sweep layout is read as one
    entry; no file gives an empty manifest.

    Raises:
        ValueError: ``sweep.json`` exists but is not a manifest (the path is named).
    """
    path = Path(sweep_dir) / MANIFEST_FILE
    if not path.is_file():
        return {"name": Path(sweep_dir).resolve().name, "points": {}, "sweeps": []}
    data = read_json_or_none(path)
    if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
        raise ValueError(f"{path}: not a sweep manifest (no 'points' object); fix or delete it")
    if "sweeps" not in data:  # one sweep per folder, as written before several could share it
        old = {k: data.get(k) for k in ("recipe", "overrides", "benchmarks", "limit", "eval_args")}
        data = {
            "name": data.get("name"),
            "points": data["points"],
            "sweeps": [{**old, "points": list(data["points"])}],
        }
    return data


def update_manifest(
    spec: SweepSpec, points: Sequence[SweepPoint], log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Add ``points`` to the folder's manifest (:func:`read_manifest`) under ``spec``'s settings,
    without taking the lock (callers hold :func:`sweep_lock`); returns the manifest written.

    A point already recorded under other settings keeps them when it is finished (it will not
    run again, so its results are theirs; ``log`` says so), and moves to ``spec``'s entry when it
    is not (it will run with ``spec``). Entries left without points are dropped; each entry's
    ``axes`` are the values of its points. Written atomically (a temporary file renamed).
    """
    sweep_dir = Path(spec.sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(sweep_dir)
    manifest["name"] = spec.name
    entries: list[dict[str, Any]] = manifest["sweeps"]
    own = settings(spec)
    entry = next((e for e in entries if {k: e.get(k) for k in own} == own), None)
    if entry is None:
        entry = {**own, "points": []}
        entries.append(entry)
    for p in points:
        owner = next((e for e in entries if p.name in e["points"]), None)
        if owner is not None and owner is not entry:
            if point_status(p.output_dir) == "done":
                if log:
                    other = {k: owner.get(k) for k in own if owner.get(k) != own[k]}
                    log(f"[sweep] {p.name}: finished earlier with other settings {other}; kept, not run again")
                continue
            owner["points"].remove(p.name)
        if p.name not in entry["points"]:
            entry["points"].append(p.name)
        manifest["points"][p.name] = p.values
    manifest["sweeps"] = [e for e in entries if e["points"]]
    for e in manifest["sweeps"]:
        axes: dict[str, list[float]] = {}
        for name in e["points"]:
            for k, v in manifest["points"][name].items():
                values = axes.setdefault(k, [])
                if v not in values:
                    values.append(v)
        e["axes"] = axes
    tmp = sweep_dir / f"{MANIFEST_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(sweep_dir / MANIFEST_FILE)
    return manifest


def write_manifest(
    spec: SweepSpec, points: Sequence[SweepPoint], log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """:func:`update_manifest` under the folder's lock."""
    with sweep_lock(spec.sweep_dir):
        return update_manifest(spec, points, log)
