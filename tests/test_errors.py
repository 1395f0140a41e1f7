"""A user's mistake ends as one line naming the file, the row or line and the field, with exit
status 2, in every command (issue 27, item 9): bad bytes, broken JSON, broken BFCL lines, empty
files, strict row errors, missing files, YAML syntax errors, missing models and incomplete
checkpoints. Undecodable JSON lines are dropped and counted where the format allows it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import SMOLLM2, requires_bfcl
from hypothesis import given, settings
from hypothesis import strategies as st

from hammer_train.checks import check_checkpoint
from hammer_train.cli import main as cli
from hammer_train.cli._common import error_line, user_errors
from hammer_train.config import RecipeError
from hammer_train.formats import SourceError, load_records, read_bfcl, read_json_lines, read_source
from hammer_train.schema import DataError


ROOT = Path(__file__).resolve().parents[1]

TOOL = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"city": {"type": "str", "description": "City.", "required": True}},
}


def _row(city: str, name: str = "get_weather") -> dict:
    return {"query": f"Weather in {city}?", "tools": [TOOL], "answers": [{"name": name, "arguments": {"city": city}}]}


ROWS = [_row("Paris"), _row("Lyon"), _row("Nice")]


def _recipe(tmp_path: Path, *paths: Path, extra: str = "") -> Path:
    """A recipe over xLAM files that parses without loading a model (prepare-data reads no model)."""
    sources = "".join(f"  - {{format: xlam, path: {p}}}\n" for p in paths)
    text = (
        f"model_name_or_path: some-org/tiny-model\nuse_cpu: true\nirrelevance_ratio: 0.0\nsources:\n{sources}{extra}"
    )
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def _one_line(err: str) -> str:
    """The single line a command printed on stderr (no traceback)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _json_lines_with_bad_byte(path: Path, line: int = 2) -> int:
    """Write ROWS as JSON lines, with byte 0xff inside the query of ``line``; returns its offset."""
    data = [json.dumps(r).encode() for r in ROWS]
    data[line - 1] = data[line - 1].replace(b"Weather", b"Weath\xffer", 1)
    blob = b"\n".join(data) + b"\n"
    path.write_bytes(blob)
    return blob.index(b"\xff")


# --------------------------------------------------------------------------- non-UTF-8 bytes


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_non_utf8_json_line_is_dropped_and_counted(tmp_path, suffix):
    path = tmp_path / f"rows{suffix}"
    offset = _json_lines_with_bad_byte(path)
    r = read_source("xlam", str(path))
    assert (r.rows_read, len(r), dict(r.dropped)) == (3, 2, {"not_utf8": 1})
    assert r.candidates == len(r) + r.n_dropped
    assert r.errors == [f"{path}: line 2, byte {offset}: 0xff is not UTF-8 [not_utf8]"]
    assert [e.query for e in r] == ["Weather in Paris?", "Weather in Nice?"]
    with pytest.raises(DataError, match=rf"rows{suffix}: line 2, byte {offset}"):
        read_source("xlam", str(path), strict=True)


def test_non_utf8_json_line_through_prepare_data(tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    _json_lines_with_bad_byte(path, line=3)
    recipe = _recipe(tmp_path, path)
    assert cli(["prepare-data", str(recipe), "--report"]) == 0
    out, _ = capsys.readouterr()
    (source,) = json.loads(out)["sources"].values()
    assert source["dropped"] == {"not_utf8": 1} and source["used"] == 2
    assert cli(["prepare-data", str(recipe), "--strict", "true"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"data error: {path}: line 3, byte ") and line.endswith("is not UTF-8 [not_utf8]")


def test_non_utf8_byte_in_a_json_document_names_file_and_offset(tmp_path, capsys):
    path = tmp_path / "rows.json"
    text = json.dumps(ROWS, indent=2).encode().replace(b"Lyon", b"Ly\xe9on")  # Latin-1, not UTF-8
    path.write_bytes(text)
    offset = text.index(b"\xe9")
    line = text[:offset].count(b"\n") + 1
    with pytest.raises(SourceError, match=rf"rows.json: line {line}, column \d+ \(byte {offset}\): byte 0xe9"):
        load_records(path)
    assert cli(["prepare-data", str(_recipe(tmp_path, path))]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith(f"data error: {path}: line {line}, column ") and f"(byte {offset})" in msg


def test_non_utf8_recipe_names_the_byte(tmp_path, capsys):
    recipe = _recipe(tmp_path, tmp_path / "x.json")
    recipe.write_bytes(b"# caf\xe9\n" + recipe.read_bytes())
    assert cli(["train", str(recipe)]) == 2
    assert _one_line(capsys.readouterr().err) == f"recipe error: {recipe}: byte 5 (line 1) is not UTF-8"


# --------------------------------------------------------------------------- broken JSON


@pytest.mark.parametrize("layout", ["list", "object"])
def test_missing_comma_is_reported_at_its_real_line(tmp_path, capsys, layout):
    doc = ROWS if layout == "list" else ROWS[0]
    lines = json.dumps(doc, indent=2).splitlines()
    k = max(i for i, s in enumerate(lines) if s.strip().startswith('"query"'))  # the last row's query line
    assert lines[k].endswith(",")
    lines[k] = lines[k][:-1]  # one missing comma, deep in the file
    path = tmp_path / "rows.json"
    path.write_text("\n".join(lines) + "\n")
    # JSON reports the defect at the next token: the line after the one that lost its comma.
    with pytest.raises(SourceError, match=rf"rows.json, line {k + 2}, column \d+: not valid JSON \(Expecting ','"):
        load_records(path)
    assert cli(["prepare-data", str(_recipe(tmp_path, path))]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith(f"data error: {path}, line {k + 2}, column ") and "line 1," not in msg


def test_broken_json_line_is_dropped_and_counted(tmp_path):
    path = tmp_path / "rows.jsonl"
    lines = [json.dumps(r) for r in ROWS]
    lines[1] = lines[1][:-3]  # a truncated line
    path.write_text("\n".join(lines) + "\n")
    r = read_source("xlam", str(path))
    assert (len(r), dict(r.dropped)) == (2, {"broken_json_line": 1})
    assert r.errors[0].startswith(f"{path}: line 2, column ")
    path.write_text("{not json\n{nor this\n")  # no line readable: not JSON lines at all
    with pytest.raises(SourceError, match="no line could be read"):
        load_records(path)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.dictionaries(st.text(max_size=6), _JSON_VALUES, max_size=4), min_size=1, max_size=8),
    damage=st.lists(st.sampled_from([b"\xff", b"\xc3", b"{", b"]"]), max_size=8),
)
def test_json_lines_keep_every_readable_line_in_order(tmp_path_factory, rows, damage):
    """Whatever lines are damaged (a byte that is not UTF-8, or broken JSON), the others are kept
    in order and each damaged line is named by its number, once."""
    path = tmp_path_factory.mktemp("jl") / "rows.jsonl"
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in rows]
    bad = {}
    for i, junk in enumerate(damage[: len(lines) - 1]):  # at least one line stays whole
        bad[i + 1] = junk
        lines[i + 1] = lines[i + 1] + junk
    path.write_bytes(b"\n".join(lines) + b"\n")
    got = read_json_lines(path)
    assert list(got) == [r for i, r in enumerate(rows) if i not in bad]
    assert [p.message.split(",")[0] for p in got.problems] == [f"line {i + 1}" for i in sorted(bad)]
    assert all(p.reason in ("not_utf8", "broken_json_line") and p.source == str(path) for p in got.problems)


# --------------------------------------------------------------------------- BFCL files


def _bfcl_copy(tmp_path: Path, n: int = 6) -> Path:
    """The first ``n`` real rows of BFCL v4 live_simple (and their answers) in a folder of our own."""
    from hammer_train.formats import bfcl_data_dir

    src = bfcl_data_dir()
    out = tmp_path / "bfcl"
    (out / "possible_answer").mkdir(parents=True)
    for rel in ("BFCL_v4_live_simple.json", "possible_answer/BFCL_v4_live_simple.json"):
        with open(src / rel, "rb") as f:
            (out / rel).write_bytes(b"".join(next(f) for _ in range(n)))
    return out


@requires_bfcl
def test_broken_bfcl_line_names_file_and_line(tmp_path):
    data_dir = _bfcl_copy(tmp_path)
    assert len(read_bfcl("live_simple", data_dir=data_dir)) == 6
    questions = data_dir / "BFCL_v4_live_simple.json"
    lines = questions.read_bytes().split(b"\n")
    lines[2] = lines[2][:40]  # line 3 cut short
    lines[4] = lines[4].replace(b"the", b"th\xffe", 1)  # line 5: a byte that is not UTF-8
    questions.write_bytes(b"\n".join(lines))
    r = read_bfcl("live_simple", data_dir=data_dir)
    assert (r.rows_read, len(r), dict(r.dropped)) == (6, 4, {"broken_json_line": 1, "not_utf8": 1})
    assert any(e.startswith(f"{questions}: line 3, column ") for e in r.errors)
    assert any(e.startswith(f"{questions}: line 5, byte ") for e in r.errors)
    with pytest.raises(DataError, match=r"BFCL_v4_live_simple.json: line 3, column \d+: not valid JSON"):
        read_bfcl("live_simple", data_dir=data_dir, strict=True)


@requires_bfcl
def test_broken_bfcl_answer_line_leaves_its_row_without_gold(tmp_path):
    data_dir = _bfcl_copy(tmp_path)
    answers = data_dir / "possible_answer" / "BFCL_v4_live_simple.json"
    lines = answers.read_text().split("\n")
    lines[1] = lines[1].replace('"ground_truth":', '"ground_truth"', 1)
    answers.write_text("\n".join(lines))
    r = read_bfcl("live_simple", data_dir=data_dir)
    assert (len(r), dict(r.dropped)) == (5, {"no_ground_truth": 1})
    assert any(e.startswith(f"{answers}: line 2, column ") for e in r.errors)
    with pytest.raises(DataError, match=r"possible_answer/BFCL_v4_live_simple.json: line 2"):
        read_bfcl("live_simple", data_dir=data_dir, strict=True)


# --------------------------------------------------------------------------- empty files


def test_empty_file_next_to_good_sources_warns_in_report_and_on_stderr(tmp_path):
    good, empty = tmp_path / "good.json", tmp_path / "empty.json"
    good.write_text(json.dumps(ROWS))
    empty.write_text("")
    recipe = _recipe(tmp_path, good, empty)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "hammer_train.cli", "prepare-data", str(recipe), "--report"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["warnings"] == [f"1:xlam:{empty}: the source is empty (0 rows read)"]
    assert report["final_rows"] == 3
    assert f": 1:xlam:{empty}: the source is empty" in proc.stderr and " WARNING hammer_train." in proc.stderr


def test_only_empty_sources_is_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert cli(["prepare-data", str(_recipe(tmp_path, empty))]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith("data error: no usable rows") and "empty.jsonl: the source is empty" in msg


# --------------------------------------------------------------------------- rows, files, recipes


def test_strict_row_error_names_file_row_and_field(tmp_path, capsys):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([ROWS[0], _row("Lyon", name="get_time")]))
    recipe = _recipe(tmp_path, path)
    assert cli(["prepare-data", str(recipe), "--report"]) == 0  # not strict: dropped and counted
    (source,) = json.loads(capsys.readouterr().out)["sources"].values()
    assert source["dropped"] == {"unknown_function": 1}
    for command in ("prepare-data", "train"):
        assert cli([command, str(recipe), "--strict", "true", "--model_name_or_path", str(tmp_path)]) == 2
        msg = _one_line(capsys.readouterr().err)
        if command == "prepare-data":  # train stops earlier, at the model (a folder without config.json)
            assert msg.startswith(f"data error: {path}, row 1, field 'answers[0].name': ")
            assert msg.endswith("[unknown_function]")
        else:
            assert msg == f"recipe error: model_name_or_path {str(tmp_path)!r}: folder has no config.json"


def test_missing_data_file_names_the_source_field(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(ROWS))
    recipe = _recipe(tmp_path, good, tmp_path / "missing.json")
    assert cli(["prepare-data", str(recipe)]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"recipe error: sources[1].path: no such data file: {tmp_path / 'missing.json'}"
    )


@pytest.mark.parametrize("command", ["train", "prepare-data", "sweep"])
def test_yaml_syntax_error_names_file_line_and_column(tmp_path, capsys, command):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model_name_or_path: x\nsources:\n  - {format: xlam, path: a.json\noutput_dir: y\n")
    argv = [command, str(recipe)] + (["--irrelevance_ratio", "0.1"] if command == "sweep" else [])
    assert cli(argv) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith(f"recipe error: {recipe}: line 4, column 11: not valid YAML (expected ',' or ")


def test_missing_recipe_names_the_shipped_ones(tmp_path, capsys):
    assert cli(["train", "smollm3-135m"]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith("recipe error: recipe file 'smollm3-135m' does not exist") and "smollm2-135m" in msg


# --------------------------------------------------------------------------- models


def test_missing_model_is_one_line(tmp_path, capsys, monkeypatch):
    import huggingface_hub.constants

    good = tmp_path / "good.json"
    good.write_text(json.dumps(ROWS))
    recipe = _recipe(tmp_path, good)
    assert cli(["train", str(recipe), "--model_name_or_path", "./no-such-model"]) == 2
    assert _one_line(capsys.readouterr().err) == (
        "recipe error: model_name_or_path './no-such-model': no such folder, and not a valid hub id"
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert cli(["train", str(recipe), "--model_name_or_path", "no-such-org/no-such-model"]) == 2
    assert _one_line(capsys.readouterr().err) == (
        "recipe error: model_name_or_path 'no-such-org/no-such-model': not found in the local Hugging Face "
        "cache (HF_HUB_OFFLINE is set)"
    )
    assert cli(["prepare-data", str(recipe), "--tokenize", "--model_name_or_path", "./no-such-model"]) == 2
    assert "model_name_or_path './no-such-model'" in _one_line(capsys.readouterr().err)


def test_lora_target_typo_is_named_before_the_weights_load(tmp_path, capsys, smollm2_path):
    from hammer_train.checks import check_lora_target_modules
    from hammer_train.recipe_parser import parse_recipe

    good = tmp_path / "good.json"
    good.write_text(json.dumps(ROWS))
    recipe = str(_recipe(tmp_path, good))

    def model_config(*targets: str):
        argv = [recipe, "--model_name_or_path", smollm2_path, "--use_peft", "true", "--lora_target_modules", *targets]
        return parse_recipe(argv)[2]

    # One name: TRL's ModelConfig makes it the string "q_proj", which PEFT reads as a regular
    # expression over the whole dotted name and so matches nothing; the recipe gets its list back.
    one = model_config("q_proj")
    assert one.lora_target_modules == ["q_proj"]
    check_lora_target_modules(one, smollm2_path)
    check_lora_target_modules(model_config("q_proj", "self_attn.v_proj", "lm_head"), smollm2_path)
    check_lora_target_modules(model_config(r".*\.(q|v)_proj"), smollm2_path)  # a real pattern stays one
    one.lora_target_modules = "q_proj"  # what TRL alone hands PEFT
    with pytest.raises(RecipeError, match=r"lora_target_modules: \['q_proj'\] match no module"):
        check_lora_target_modules(one, smollm2_path)
    # A typo in one entry of a list: PEFT would adapt q_proj alone after loading, with a warning.
    argv = ["train", recipe, "--model_name_or_path", smollm2_path, "--use_peft", "true"]
    assert cli([*argv, "--lora_target_modules", "q_proj", "vproj"]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith(f"recipe error: lora_target_modules: ['vproj'] match no module of {smollm2_path} (")
    assert "'v_proj'" in msg and "'down_proj'" in msg and "all-linear" in msg
    # modules_to_save: PEFT skips an entry that matches nothing, so that module would not be trained
    assert cli([*argv, "--lora_modules_to_save", "lm_head", "embedtokens"]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith("recipe error: lora_modules_to_save: ['embedtokens'] match no module of ")
    save = model_config("q_proj")
    save.lora_modules_to_save = ["lm_head", "embed_tokens"]
    check_lora_target_modules(save, smollm2_path)


def test_dry_run_checks_a_model_already_here_and_stays_offline(tmp_path, capsys, monkeypatch, smollm2_path):
    """``train --dry_run`` runs the LoRA target check on a local folder, a hub id whose
    ``config.json`` is in the HF cache (a cache laid out as ``huggingface_hub`` writes it) and a
    converted GGUF file, and names, without failing, a model it would have to download or convert."""
    import huggingface_hub.constants

    good = tmp_path / "good.json"
    good.write_text(json.dumps(ROWS))
    recipe = str(_recipe(tmp_path, good))
    snapshot = tmp_path / "hub" / "models--tiny-org--tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text((Path(smollm2_path) / "config.json").read_text())
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    typo = ["--use_peft", "true", "--lora_target_modules", "q_proj", "vproj", "--dry_run"]
    for model in (smollm2_path, "tiny-org/tiny", SMOLLM2):
        assert cli(["train", recipe, "--model_name_or_path", model, *typo]) == 2
        msg = _one_line(capsys.readouterr().err)
        assert msg.startswith(f"recipe error: lora_target_modules: ['vproj'] match no module of {model} ("), msg
        assert cli(["train", recipe, "--model_name_or_path", model, *typo[:-2], "--dry_run"]) == 0
        out, err = capsys.readouterr()
        assert yaml.safe_load(out)["model_name_or_path"] == model
        assert f"model {model!r}: found at " in err and "LoRA target modules checked" in err
    assert cli(["train", recipe, "--model_name_or_path", "tiny-org/not-cached", *typo]) == 0
    assert "not checked (not in the local Hugging Face cache; a dry run stays offline)" in capsys.readouterr().err
    monkeypatch.setenv("HAMMER_TRAIN_CACHE", str(tmp_path / "empty-cache"))
    assert cli(["train", recipe, "--model_name_or_path", SMOLLM2, *typo]) == 0
    assert "not checked (the GGUF file is not converted yet" in capsys.readouterr().err
    assert not (tmp_path / "empty-cache").exists()  # nothing converted
    assert cli(["train", recipe, "--model_name_or_path", "./no-such-model", "--dry_run"]) == 2
    assert "no such folder, and not a valid hub id" in _one_line(capsys.readouterr().err)


@requires_bfcl
def test_evaluate_missing_model_and_unknown_benchmark(capsys):
    assert cli(["evaluate", "./no-such-model", "--benchmarks", "bfcl_simple", "--limit", "1"]) == 2
    assert (
        _one_line(capsys.readouterr().err) == "error: MODEL './no-such-model': no such folder, and not a valid hub id"
    )
    assert cli(["evaluate", "./no-such-model", "--benchmarks", "bfcl_simpel"]) == 2
    assert _one_line(capsys.readouterr().err).startswith("error: --benchmarks: unknown ['bfcl_simpel']")


def test_evaluate_without_data_dir_names_both_ways(capsys, monkeypatch):
    monkeypatch.delenv("HAMMER_EVAL_DATA", raising=False)
    assert cli(["evaluate", "./no-such-model", "--benchmarks", "sealtool"]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert "--data_dir" in msg and "HAMMER_EVAL_DATA" in msg


# --------------------------------------------------------------------------- checkpoints


def _checkpoint(folder: Path) -> Path:
    """A Trainer checkpoint folder as TRL + PEFT write it: state, adapter config, adapter weights."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 10, "log_history": []}))
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    save_file(
        {"base_model.model.lm_head.lora_A.weight": torch.zeros(4, 64)}, str(folder / "adapter_model.safetensors")
    )
    return folder


def test_checkpoint_folder_is_checked_file_by_file(tmp_path):
    ck = _checkpoint(tmp_path / "checkpoint-10")
    assert check_checkpoint(ck) == ck
    with pytest.raises(RecipeError, match="resume_from_checkpoint: 'nope' is not a folder"):
        check_checkpoint("nope")
    adapter = ck / "adapter_model.safetensors"
    data = adapter.read_bytes()
    adapter.write_bytes(data[:-100])  # a copy that stopped early
    with pytest.raises(RecipeError, match=rf"{adapter} cannot be read \(.*\): truncated"):
        check_checkpoint(ck)
    adapter.unlink()
    with pytest.raises(RecipeError, match="has adapter_config.json but no adapter_model.safetensors"):
        check_checkpoint(ck)
    (ck / "trainer_state.json").unlink()
    with pytest.raises(RecipeError, match="has no trainer_state.json"):
        check_checkpoint(ck)


def test_truncated_checkpoint_stops_train_before_any_model_loads(tmp_path, capsys):
    ck = _checkpoint(tmp_path / "checkpoint-10")
    adapter = ck / "adapter_model.safetensors"
    adapter.write_bytes(adapter.read_bytes()[:50])
    good = tmp_path / "good.json"
    good.write_text(json.dumps(ROWS))
    # The model does not exist either: the checkpoint is checked first, so its file is what is named.
    argv = ["train", str(_recipe(tmp_path, good)), "--resume_from_checkpoint", str(ck)]
    assert cli([*argv, "--model_name_or_path", "./no-such-model"]) == 2
    msg = _one_line(capsys.readouterr().err)
    assert msg.startswith(f"recipe error: resume_from_checkpoint: {adapter} cannot be read (")


# --------------------------------------------------------------------------- the wrapper


def test_wrapper_keeps_tracebacks_of_bugs_and_folds_messages(monkeypatch, capsys):
    @user_errors
    def bug(argv=None):
        raise KeyError("a bug, not a user's mistake")

    @user_errors
    def mistake(argv=None):
        raise RecipeError("first line\n  second line")

    with pytest.raises(KeyError):
        bug()
    assert mistake() == 2
    assert _one_line(capsys.readouterr().err) == "recipe error: first line second line"
    assert error_line(FileNotFoundError(2, "No such file or directory", "x.json")).startswith("error: [Errno 2]")
    monkeypatch.setenv("HAMMER_TRAIN_TRACEBACK", "1")
    with pytest.raises(RecipeError):
        mistake()
