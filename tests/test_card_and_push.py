"""Model card scores (update_model_card) and pushing an output folder to the Hub (push_adapter) against a fake
huggingface_hub client: the right repo, folder and exclusions, and no token handled by our code."""

from __future__ import annotations

import huggingface_hub

from hammer_train.train import push_adapter


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
    assert {"checkpoint-*", "merged/**", "wandb/**"} <= set(upload["ignore_patterns"])
    assert "hf_secret_value_for_test" not in caplog.text


def test_update_model_card_adds_scores(tmp_path):
    import json

    import pytest
    import yaml

    from hammer_train.train import update_model_card

    with pytest.raises(FileNotFoundError, match="recipe.yaml"):
        update_model_card(tmp_path, {"benchmarks": {}})
    (tmp_path / "recipe.yaml").write_text(
        yaml.safe_dump({"model_name_or_path": "Qwen/Qwen2.5-1.5B-Instruct", "max_steps": 20})
    )
    (tmp_path / "data_report.json").write_text(json.dumps({"settings": {"prompt_style": "hammer"}, "final_rows": 448}))
    results = {
        "benchmarks": {
            "sealtool": {
                "subset": "first 100 of 294 rows",
                "format_errors": 3,
                "hammer": {"gold_calls": 120, "api_f1": 0.8, "args_f1": 0.4},
                "bfcl_ast": None,
                "irrelevance": None,
            },
            "bfcl_irrelevance": {
                "subset": "first 100 of 240 rows",
                "format_errors": 0,
                "hammer": {"gold_calls": 0, "api_f1": 0.0},
                "bfcl_ast": {"accuracy": 0.9},
                "irrelevance": {"irrelevance_n": 100, "irrelevance_accuracy": 0.55},
            },
        }
    }
    card = update_model_card(tmp_path, results).read_text()
    assert (
        "| sealtool | hammer_api_f1 | 0.8 |" in card and "| bfcl_irrelevance | irrelevance_accuracy | 0.55 |" in card
    )
    assert (
        "hammer_api_f1" not in json.loads((tmp_path / "eval_results.json").read_text())["bfcl_irrelevance"]
    )  # no calls: no F1
    assert "base_model: Qwen/Qwen2.5-1.5B-Instruct" in card and "| sealtool | subset | first 100 of 294 rows |" in card
    # scoring another benchmark later keeps the first one
    update_model_card(
        tmp_path,
        {
            "benchmarks": {
                "bfcl_simple": {
                    "subset": "first 10",
                    "format_errors": 1,
                    "hammer": {"gold_calls": 10, "api_f1": 1.0, "args_f1": 0.5},
                    "bfcl_ast": {"accuracy": 0.6},
                }
            }
        },
    )
    assert set(json.loads((tmp_path / "eval_results.json").read_text())) == {
        "sealtool",
        "bfcl_irrelevance",
        "bfcl_simple",
    }
