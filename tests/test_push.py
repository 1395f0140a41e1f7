"""Pushing an output folder to the Hub (hammer_train.train.push_adapter) against a fake
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
    assert u_name == "upload_folder" and upload["repo_id"] == "me/smollm2-hammer" and upload["folder_path"] == str(tmp_path)
    assert {"checkpoint-*", "merged/**", "wandb/**"} <= set(upload["ignore_patterns"])
    assert "hf_secret_value_for_test" not in caplog.text
