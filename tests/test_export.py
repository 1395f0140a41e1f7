"""Export: bad input ends as one clear line before anything heavy loads (not an adapter folder, a base
model that cannot be found, a GGUF type llama.cpp's converter does not write). The real export of a
trained adapter is tested in tests/test_serve_roundtrip.py."""

from __future__ import annotations

import json

import pytest

from hammer_train.cli.export import main
from hammer_train.export import ExportError, export, read_adapter
from hammer_train.gguf_convert import GGUF_TYPES, check_gguf_type, find_converter


def _fake_adapter(folder, base: str):
    """The three files of a train output (contents good enough to fail on the base model)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": base}))
    (folder / "adapter_model.safetensors").write_bytes(b"")
    (folder / "recipe.yaml").write_text(f"model_name_or_path: {base}\nprompt_style: hammer\n")
    return folder


def test_not_an_adapter_folder_names_the_missing_files(tmp_path, capsys):
    (tmp_path / "recipe.yaml").write_text("model_name_or_path: x\n")
    with pytest.raises(ExportError, match="adapter_config.json, adapter_model.safetensors missing"):
        read_adapter(tmp_path)
    with pytest.raises(ExportError, match="no such adapter folder"):
        read_adapter(tmp_path / "nope")
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "is not an adapter folder" in err and "\n" not in err


def test_base_model_that_cannot_be_found(tmp_path, capsys):
    adapter = _fake_adapter(tmp_path / "run", str(tmp_path / "missing-base"))
    with pytest.raises(ExportError, match="base model of .* cannot be found"):
        export(adapter, tmp_path / "out")
    assert main([str(adapter), "--base", "pypi:no_such_module_xyz/m.gguf"]) == 2
    err = capsys.readouterr().err
    assert "cannot be found" in err and "no_such_module_xyz" in err
    assert not (tmp_path / "out" / "config.json").exists()


def test_export_into_an_adapter_folder_is_refused_before_loading(tmp_path, capsys):
    adapter = _fake_adapter(tmp_path / "run", "some-org/some-model")  # the base exists nowhere
    (adapter / "README.md").write_text("# the adapter's model card\n")
    assert main([str(adapter), "--output_dir", str(adapter)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: export folder {adapter} is the adapter folder itself") and "\n" not in err
    assert f"default {adapter / 'export'}" in err
    other = _fake_adapter(tmp_path / "other", "some-org/some-model")
    with pytest.raises(ExportError, match=f"export folder {other} is an adapter folder"):
        export(adapter, other)
    assert (adapter / "README.md").read_text() == "# the adapter's model card\n"
    assert sorted(p.name for p in other.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "recipe.yaml",
    ]


@pytest.mark.parametrize("bad", ["q4_k_m", "Q4_0", "int8"])
def test_gguf_type_the_converter_does_not_know(tmp_path, capsys, bad):
    adapter = _fake_adapter(tmp_path / "run", "some-org/some-model")
    # checked before the base model is resolved or loaded (some-org/some-model exists nowhere)
    with pytest.raises(ExportError, match=f"--gguf {bad}: llama.cpp's converter writes f16, q8_0"):
        export(adapter, tmp_path / "out", gguf=bad)
    assert main([str(adapter), "--gguf", bad]) == 2
    assert "llama-quantize" in capsys.readouterr().err
    assert check_gguf_type("F16") == "f16" and set(GGUF_TYPES) >= {"f16", "q8_0"}


def test_converter_given_but_missing(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        find_converter(tmp_path / "convert_hf_to_gguf.py")
