"""The length curriculum (hammer_train/curriculum.py): recipe checks, and one real run whose adapter
equals the two-invocation run it replaces (train at the short length with a checkpoint, then resume
at the full length), which is how docs/quality.md measured it."""

import json

import pytest
from conftest import TINY_RECIPE, TWO_STEPS, requires_bfcl, requires_smollm2, train_short

from hammer_train.config import RecipeError
from hammer_train.curriculum import CURRICULUM_DIR, StopAtStepCallback, first_phase
from hammer_train.recipe_parser import parse_recipe


def _parse(tmp_path, *overrides):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(TINY_RECIPE + "max_length: 1024\nmax_steps: 10\nuse_cpu: true\n")
    return parse_recipe([str(recipe), *overrides])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("--length_curriculum_steps", "4"), "needs length_curriculum_max_length"),
        (("--length_curriculum_steps", "4", "--length_curriculum_max_length", "1024"), "must be shorter than"),
        (
            ("--length_curriculum_steps", "10", "--length_curriculum_max_length", "512"),
            r"must be below max_steps \(10\)",
        ),
        (
            ("--length_curriculum_steps", "4", "--length_curriculum_max_length", "512", "--max_steps", "-1"),
            "needs max_steps",
        ),
        (("--length_curriculum_steps", "-1"), "must be >= 0"),
    ],
)
def test_a_curriculum_that_cannot_run_is_a_recipe_error(tmp_path, overrides, message):
    with pytest.raises(RecipeError, match=message):
        _parse(tmp_path, *overrides)


def test_first_phase_settings_and_resume_past_it(tmp_path):
    h, s, _ = _parse(tmp_path)
    assert first_phase(h, s) is None  # off by default
    h, s, _ = _parse(tmp_path, "--length_curriculum_steps", "4", "--length_curriculum_max_length", "512")
    phase = first_phase(h, s)
    assert (phase.max_length, phase.max_steps, phase.output_dir) == (512, 10, f"{s.output_dir}/{CURRICULUM_DIR}")
    assert s.max_length == 1024  # the recipe's own settings are untouched
    for step, expected_none in ((3, False), (4, True)):
        checkpoint = tmp_path / f"checkpoint-{step}"
        checkpoint.mkdir()
        (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        s.resume_from_checkpoint = str(checkpoint)
        assert (first_phase(h, s) is None) == expected_none  # at or past step 4: phase 2 only


def test_stop_callback_saves_and_stops_at_its_step():
    from transformers import TrainerControl, TrainerState

    callback, state = StopAtStepCallback(2), TrainerState()
    state.global_step = 1
    control = callback.on_step_end(None, state, TrainerControl())
    assert not control.should_save and not control.should_training_stop
    state.global_step = 2
    control = callback.on_step_end(None, state, TrainerControl())
    assert control.should_save and control.should_training_stop


@requires_bfcl
@requires_smollm2
def test_curriculum_run_equals_checkpoint_then_resume(tmp_path):
    """3 steps: 2 at 512 tokens, 1 at 640, in one call; against the same run done by hand."""
    import torch
    from safetensors.torch import load_file

    common = (*TWO_STEPS, "--max_steps", "3", "--max_length", "640", "--logging_steps", "1", "--lora_r", "4")
    out = train_short(
        tmp_path / "curriculum", *common, "--length_curriculum_max_length", "512", "--length_curriculum_steps", "2"
    )
    phase1 = tmp_path / "phase1"
    train_short(phase1, *common, "--max_length", "512", "--save_strategy", "steps", "--save_steps", "2")
    by_hand = train_short(tmp_path / "by-hand", *common, "--resume_from_checkpoint", str(phase1 / "checkpoint-2"))

    ours, theirs = (load_file(str(p / "adapter_model.safetensors")) for p in (out, by_hand))
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    checkpoint = out / CURRICULUM_DIR / "checkpoint-2"
    assert json.loads((checkpoint / "trainer_state.json").read_text())["global_step"] == 2
    log = [e for e in json.loads((out / "train_log.json").read_text()) if "loss" in e]
    assert [e["step"] for e in log] == [1, 2, 3]  # phase 1's losses carried over by the resume
    report = json.loads((out / "data_report.json").read_text())
    record = report["settings"]["length_curriculum"]
    assert (record["max_length"], record["steps"], record["checkpoint"]) == (512, 2, str(checkpoint))
    assert record["tokens"]["lengths"]["max"] <= 512 < report["tokens"]["lengths"]["max"] <= 640
