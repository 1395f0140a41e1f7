"""The package works outside its checkout: installed into a throwaway virtualenv (the dependencies
reused from the running one), ``hammer-train`` runs from a folder far from the checkout and finds
its recipes by name, with no path into ``scripts/`` or ``../shared``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import requires_bfcl


ROOT = Path(__file__).resolve().parents[1]


def _venv_with_package(tmp_path: Path) -> Path:
    """A virtualenv holding only hammer-train (``pip install --no-deps``, no build isolation, so no
    network); the dependencies come from the running interpreter's site-packages through a ``.pth``
    line (``--system-site-packages`` would reach the base Python's, not this virtualenv's). The
    package is built from a copy of what the wheel takes (pyproject, README, ``hammer_train/``), so the
    build leaves nothing in the checkout.

    Returns:
        The new virtualenv's ``bin`` folder.
    """
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "hammer_train", src / "hammer_train", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    python = bin_dir / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "_hammer_train_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(src)]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return bin_dir


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HAMMER_EVAL_DATA")}
    return {**env, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.mark.slow
@requires_bfcl
def test_installed_command_runs_far_from_the_checkout(tmp_path):
    bin_dir = _venv_with_package(tmp_path)
    far = tmp_path / "far" / "away"
    far.mkdir(parents=True)

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir / "hammer-train"), *argv], cwd=far, env=_env(), capture_output=True, text=True, timeout=600
        )

    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import hammer_train; print(hammer_train.__file__)"],
        cwd=far,
        env=_env(),
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(tmp_path / "venv")), where  # the installed copy, not the checkout

    help_ = run("--help")
    assert help_.returncode == 0 and all(c in help_.stdout for c in ("train", "prepare-data", "evaluate", "sweep"))
    listing = run("recipes")
    assert listing.returncode == 0 and "smollm2-135m " in listing.stdout and "hammer7b " in listing.stdout

    report = run("prepare-data", "smollm2-135m", "--report")
    assert report.returncode == 0, report.stderr[-3000:]
    data = json.loads(report.stdout)
    assert data["final_rows"] > 1000 and data["irrelevance"]["achieved_ratio"] > 0
    assert list(far.iterdir()) == []  # prepare-data writes nothing

    missing = run("evaluate", "./no-model", "--benchmarks", "sealtool")  # no ../shared fallback
    assert missing.returncode == 2 and "--data_dir" in missing.stderr and "HAMMER_EVAL_DATA" in missing.stderr
