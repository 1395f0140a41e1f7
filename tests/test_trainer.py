"""``HammerSFTTrainer``: the LM head and the loss only at labelled positions, against TRL's full path.

Tiny Llama (tied embeddings) and Qwen2 (untied head) models built from configs, and the real
SmolLM2-135M-Instruct for one batch, each under a PEFT LoRA adapter, on right-padded batches whose
rows have label spans of different lengths at different places. The reference is TRL 1.16's own
``SFTTrainer.compute_loss`` on the same trainer (its fused head scores every position on a CPU) and
transformers' loss from the full logits.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import requires_bfcl, requires_smollm2, train_short
from hypothesis import given, settings
from hypothesis import strategies as st
from trl import SFTTrainer

from hammer_train.trainer import HammerSFTTrainer, label_positions


PAD = 0


def _tiny_tokenizer():
    """A word-level tokenizer with a pad token: the trainer only needs ``pad_token_id``."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": PAD, "<unk>": 1}
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")), pad_token="<pad>", eos_token="<pad>"
    )


def _tiny_model(arch: str):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    common = dict(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        pad_token_id=PAD,
        attn_implementation="sdpa",
    )
    if arch == "llama_tied":
        return LlamaForCausalLM(LlamaConfig(vocab_size=3001, tie_word_embeddings=True, **common))
    return Qwen2ForCausalLM(Qwen2Config(vocab_size=4099, tie_word_embeddings=False, **common))


def _trainer(model, tokenizer, tmp_path, label_logits_only=True, **sft_kwargs) -> HammerSFTTrainer:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig

    args = SFTConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=False,
        report_to="none",
        dataset_kwargs={"skip_prepare_dataset": True},
        remove_unused_columns=False,
        **sft_kwargs,
    )
    # init_lora_weights=False: B is random, not zero, so the gradients of A are not all zero
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False)
    trainer = HammerSFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"input_ids": [[2, 3]], "labels": [[-100, 3]]}),
        processing_class=tokenizer,
        peft_config=lora,
        label_logits_only=label_logits_only,
    )
    trainer.model.train()
    return trainer


def _padded_batch(rows: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
    """Right-padded batch; each row is ``(token ids, label start)``: the tokens from the start on are labels."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), PAD)
    labels = torch.full((len(rows), width), -100)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (ids, start) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, start : len(ids)] = torch.tensor(ids[start:])
        attention[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def _random_batch(vocab: int, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def ids(n):
        return torch.randint(2, vocab, (n,), generator=g).tolist()

    # label spans of 8, 4 and 6 tokens, ending at different places; the third row is short
    return _padded_batch([(ids(26), 18), (ids(19), 15), (ids(11), 5)])


def _with_some_correct_labels(model, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Set every other label to the model's own top-1 prediction, so token accuracy is neither 0 nor 1."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"].clone()
    rows, cols = (labels[:, 1:] != -100).nonzero(as_tuple=True)
    for k, (b, t) in enumerate(zip(rows.tolist(), cols.tolist())):
        if k % 2 == 0:
            labels[b, t + 1] = logits[b, t].argmax()
    return {**batch, "labels": labels}


def _relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def _loss_grads_metrics(compute_loss, trainer, batch, **kwargs):
    trainer.model.zero_grad(set_to_none=True)
    loss = compute_loss(trainer, trainer.model, dict(batch), **kwargs)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    return loss.detach(), grads, metrics


@pytest.mark.parametrize("arch", ["llama_tied", "qwen2_untied"])
@pytest.mark.parametrize("num_items", [None, 23])
def test_label_logits_match_full_computation(arch, num_items, tmp_path):
    model = _tiny_model(arch)
    trainer = _trainer(model, _tiny_tokenizer(), tmp_path)
    assert type(trainer.model).__name__ == "PeftModelForCausalLM"
    batch = _with_some_correct_labels(trainer.model, _random_batch(model.config.vocab_size))
    kwargs = {"num_items_in_batch": torch.tensor(num_items)} if num_items else {}

    head_rows = []
    hook = model.get_output_embeddings().register_forward_hook(lambda m, args, out: head_rows.append(args[0].shape))
    ours = _loss_grads_metrics(HammerSFTTrainer.compute_loss, trainer, batch, **kwargs)
    hook.remove()
    trl = _loss_grads_metrics(SFTTrainer.compute_loss, trainer, batch, **kwargs)

    n_labels = int((batch["labels"][:, 1:] != -100).sum())
    assert head_rows == [torch.Size([n_labels, model.config.hidden_size])], "the head ran at other positions too"
    torch.testing.assert_close(ours[0], trl[0], rtol=1e-6, atol=0)
    if num_items is None:  # transformers' own loss from the full logits (mean over label tokens)
        with torch.no_grad():
            full = trainer.model(**batch).loss
        torch.testing.assert_close(ours[0], full, rtol=1e-6, atol=0)
    assert ours[1].keys() == trl[1].keys() and any("lora_A" in n for n in ours[1])
    for name in ours[1]:
        assert ours[1][name].abs().sum() > 0, name
        torch.testing.assert_close(ours[1][name], trl[1][name], rtol=1e-5, atol=1e-8, msg=name)
    assert 0 < ours[2]["mean_token_accuracy"] < 1
    assert ours[2]["mean_token_accuracy"] == trl[2]["mean_token_accuracy"]
    assert ours[2]["entropy"] == pytest.approx(trl[2]["entropy"], rel=1e-6)
    assert ours[2]["num_tokens"] == trl[2]["num_tokens"] - int(batch["attention_mask"].sum())  # counted once each


def test_flag_off_is_trl_exactly(tmp_path):
    model = _tiny_model("qwen2_untied")
    trainer = _trainer(model, _tiny_tokenizer(), tmp_path, label_logits_only=False)
    batch = _random_batch(model.config.vocab_size)
    off = _loss_grads_metrics(HammerSFTTrainer.compute_loss, trainer, batch)
    trl = _loss_grads_metrics(SFTTrainer.compute_loss, trainer, batch)
    assert torch.equal(off[0], trl[0])
    assert all(torch.equal(off[1][n], trl[1][n]) for n in trl[1])
    assert off[2]["entropy"] == trl[2]["entropy"] and off[2]["mean_token_accuracy"] == trl[2]["mean_token_accuracy"]


def test_batch_without_labels_gives_zero_loss_and_zero_gradients(tmp_path):
    model = _tiny_model("llama_tied")
    trainer = _trainer(model, _tiny_tokenizer(), tmp_path)
    batch = _random_batch(model.config.vocab_size)
    batch["labels"][:] = -100
    loss, grads, metrics = _loss_grads_metrics(HammerSFTTrainer.compute_loss, trainer, batch)
    assert loss.item() == 0.0
    assert all(torch.count_nonzero(g) == 0 for g in grads.values())
    assert metrics["mean_token_accuracy"] == 0.0 and metrics["entropy"] == 0.0


def test_bf16_autocast_close_to_trl(tmp_path):
    model = _tiny_model("qwen2_untied")
    trainer = _trainer(model, _tiny_tokenizer(), tmp_path)
    batch = _random_batch(model.config.vocab_size)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = HammerSFTTrainer.compute_loss(trainer, trainer.model, dict(batch))
        trl = SFTTrainer.compute_loss(trainer, trainer.model, dict(batch))
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, trl, rtol=1e-2, atol=0)


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(min_value=-1, max_value=50), min_size=1, max_size=12), min_size=1, max_size=4)
)
def test_label_positions_is_the_causal_shift(rows):
    width = max(len(r) for r in rows)
    labels = torch.full((len(rows), width), -100)
    for i, r in enumerate(rows):
        labels[i, : len(r)] = torch.tensor([-100 if x < 0 else x for x in r])
    keep, targets = label_positions(labels)
    expected = [
        labels[b, t + 1].item() for b in range(len(rows)) for t in range(width - 1) if labels[b, t + 1] != -100
    ]
    assert keep[:, -1].sum() == 0
    assert targets.tolist() == expected
    assert int(keep.sum()) == len(expected)


def test_label_positions_rejects_a_flat_tensor():
    with pytest.raises(ValueError, match="batch, seq"):
        label_positions(torch.tensor([1, 2, 3]))


@requires_smollm2
def test_smollm2_batch_matches_trl(smollm2_path, smollm2_tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(smollm2_path, dtype=torch.float32)
    trainer = _trainer(model, smollm2_tokenizer, tmp_path)

    def tokens(text):
        return smollm2_tokenizer(text, add_special_tokens=False)["input_ids"]

    rows = []
    for query, answer in (
        ("What is the weather in Paris today?", '```\n[{"name": "get_weather", "arguments": {"city": "Paris"}}]\n```'),
        ("Book a table for two.", "```\n[]\n```"),
    ):
        turns = [{"role": "user", "content": query}, {"role": "assistant", "content": answer}]
        prompt = tokens(smollm2_tokenizer.apply_chat_template(turns[:1], tokenize=False, add_generation_prompt=True))
        full = tokens(smollm2_tokenizer.apply_chat_template(turns, tokenize=False))
        assert full[: len(prompt)] == prompt
        rows.append((full, len(prompt)))
    batch = _padded_batch(rows)
    batch["input_ids"][batch["attention_mask"] == 0] = smollm2_tokenizer.pad_token_id
    ours = _loss_grads_metrics(HammerSFTTrainer.compute_loss, trainer, batch)
    trl = _loss_grads_metrics(SFTTrainer.compute_loss, trainer, batch)
    torch.testing.assert_close(ours[0], trl[0], rtol=1e-6, atol=0)
    for name in trl[1]:  # 30 layers of fp32 sums in another order: compare whole tensors
        assert _relative_difference(ours[1][name], trl[1][name]) < 1e-5, name
    assert 0 < ours[2]["mean_token_accuracy"] < 1
    assert ours[2]["mean_token_accuracy"] == trl[2]["mean_token_accuracy"]
    assert ours[2]["entropy"] == pytest.approx(trl[2]["entropy"], rel=1e-6)


@requires_bfcl
@requires_smollm2
def test_short_training_runs_through_label_logits(tmp_path, monkeypatch):
    """2 optimizer steps of the CPU recipe; needs ``hammer_train.train`` to construct ``HammerSFTTrainer``."""
    calls = []
    original = HammerSFTTrainer._label_logits_loss

    def counted(self, *args, **kwargs):
        calls.append(self.label_logits_only)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HammerSFTTrainer, "_label_logits_loss", counted)
    out = train_short(
        tmp_path / "adapter",
        "--max_steps",
        "2",
        "--max_length",
        "512",
        "--logging_steps",
        "1",
        "--lora_r",
        "4",
        "--lora_alpha",
        "8",
    )
    assert calls, "training did not go through HammerSFTTrainer's label-only loss"
    log = [e for e in json.loads((out / "train_log.json").read_text()) if "loss" in e]
    assert len(log) == 2
    assert all(math.isfinite(e["loss"]) and e["loss"] > 0 and 0 <= e["mean_token_accuracy"] <= 1 for e in log)
