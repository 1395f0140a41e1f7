"""One tiny real end-to-end run: the SmolLM2 model, real BFCL rows, LoRA, 3 optimizer steps on CPU.

Asserts what could break: finite losses, adapter weights moved away from their initialization,
and the output folder holds adapter, tokenizer, resolved recipe, data report and model card."""

import importlib.util
import json
import math

from conftest import SMOLLM2, offline_wandb_run_file, requires_bfcl, requires_smollm2, train_short


pytestmark = [requires_bfcl, requires_smollm2]

_TRAIN_ARGS = {
    "--max_steps": "3",
    "--per_device_train_batch_size": "2",
    "--max_length": "512",
    "--learning_rate": "1e-3",
    "--logging_steps": "1",
    "--lora_r": "4",
    "--lora_alpha": "8",
    "--run_name": "e2e-tiny",
}


def _use_offline_wandb(tmp_path, monkeypatch) -> bool:
    """wandb (in the dev extra) logs offline: no network, no account; the run lands in WANDB_DIR."""
    if importlib.util.find_spec("wandb") is None:
        return False
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    return True


def _check_losses_and_weights(out):
    import torch
    from safetensors.torch import load_file

    log = json.loads((out / "train_log.json").read_text())
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 3 and all(math.isfinite(x) and x > 0 for x in losses)
    weights = load_file(str(out / "adapter_model.safetensors"))
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b, "no LoRA B matrices saved"
    # PEFT initializes B to zero: any non-zero value means training moved the adapter
    assert any(torch.count_nonzero(v) > 0 for v in lora_b)


def _check_output_files(out) -> str:
    """The folder's files, the card's content and the data report; returns the card's text."""
    for name in ("adapter_config.json", "tokenizer_config.json", "recipe.yaml", "data_report.json", "README.md"):
        assert (out / name).is_file(), name
    card = (out / "README.md").read_text()
    assert "irrelevance" in card and SMOLLM2 in card
    report = json.loads((out / "data_report.json").read_text())
    assert report["final_rows"] > 0 and report["tokens"]["lengths"]["max"] <= 512
    return card


def _check_saved_chat_template(out, card, smollm2_path):
    """The saved chat template is the training prompt, in both places transformers and vLLM read."""
    from transformers import AutoTokenizer

    from hammer_train.chat_template import is_hammer_template
    from hammer_train.evaluation.generate import render_prompt
    from hammer_train.formats import read_source

    template = (out / "chat_template.jinja").read_text()
    assert is_hammer_template(template)
    assert json.loads((out / "tokenizer_config.json").read_text())["chat_template"] == template
    assert "chat template" in card and "training prompt" in card
    base_tok = AutoTokenizer.from_pretrained(smollm2_path)
    saved_tok = AutoTokenizer.from_pretrained(str(out))
    rows = read_source("bfcl", "live_parallel").examples[:3]
    assert all(render_prompt(ex, saved_tok) == render_prompt(ex, base_tok) for ex in rows)


def _check_adapter_generates(out):
    """Base + adapter loads and generates through the saved chat template's tools path."""
    import torch

    from hammer_train.modeling import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(SMOLLM2, adapter=str(out), dtype=torch.float32)
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "Weather in Paris?"}],
        tools=[tool],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    gen = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]


def test_tiny_training_run(tmp_path, smollm2_path, monkeypatch):
    out = tmp_path / "adapter"
    use_wandb = _use_offline_wandb(tmp_path, monkeypatch)
    args = [x for kv in _TRAIN_ARGS.items() for x in kv] + ["--report_to", "wandb" if use_wandb else "none"]
    train_short(out, *args)

    _check_losses_and_weights(out)
    if use_wandb:
        assert offline_wandb_run_file(tmp_path).stat().st_size > 0
    card = _check_output_files(out)
    _check_saved_chat_template(out, card, smollm2_path)
    _check_adapter_generates(out)
