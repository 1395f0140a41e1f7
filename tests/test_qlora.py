"""QLoRA on the CPU, through the normal path: the CPU recipe's base in 4-bit nf4 (bitsandbytes, nested
quantization), 2 optimizer steps of real training, the adapter saved, then reloaded onto a 4-bit base and
onto the fp32 base, and generating; the merge of a QLoRA adapter; an evaluation pass in the middle of
training leaving the gradients as they were."""

import json
import math

import pytest
from conftest import DEFAULT_RECIPE, SMOLLM2, TWO_STEPS, requires_bfcl, requires_smollm2, train_short


try:
    import bitsandbytes  # noqa: F401
except ImportError as exc:  # not installed, or no build of it for this platform
    pytest.skip(
        f"bitsandbytes cannot be imported ({exc}); QLoRA needs the qlora extra (pip install -e '.[qlora]', "
        "which `make test` installs)",
        allow_module_level=True,
    )

pytestmark = [requires_bfcl, requires_smollm2]

QLORA = ["--load_in_4bit", "true", "--bnb_4bit_quant_type", "nf4", "--use_bnb_nested_quant", "true"]


def _quantization_config():
    """The recipe's own 4-bit config, as ``hammer_train.train`` builds it (compute dtype: the recipe's fp32)."""
    from trl import get_quantization_config

    from hammer_train.recipe_parser import parse_recipe

    _, _, m = parse_recipe([str(DEFAULT_RECIPE), *QLORA, "--output_dir", "unused"])
    return get_quantization_config(m)


@pytest.fixture(scope="module")
def qlora_adapter(tmp_path_factory):
    out = tmp_path_factory.mktemp("qlora") / "adapter"
    return train_short(
        out,
        *QLORA,
        *TWO_STEPS,
        "--logging_steps",
        "1",
        "--merge",
        "true",
    )


def test_qlora_trains_two_steps_and_saves_adapter(qlora_adapter):
    import torch
    import yaml
    from safetensors.torch import load_file

    log = json.loads((qlora_adapter / "train_log.json").read_text())
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 2 and all(math.isfinite(x) and x > 0 for x in losses)
    recipe = yaml.safe_load((qlora_adapter / "recipe.yaml").read_text())
    assert recipe["load_in_4bit"] is True and recipe["use_bnb_nested_quant"] is True
    weights = load_file(str(qlora_adapter / "adapter_model.safetensors"))
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and any(torch.count_nonzero(v) > 0 for v in lora_b), "training did not move the adapter"
    # the adapter holds LoRA weights only, no 4-bit base weights or quantization state
    assert all("lora_" in k for k in weights)
    # merge: true folds the adapter into the unquantized base (merged_model), not into 4-bit weights
    assert "quantization_config" not in json.loads((qlora_adapter / "merged" / "config.json").read_text())


def _logits(model, ids):
    import torch

    with torch.no_grad():
        return model(**ids).logits.float()


def test_qlora_adapter_reloads_on_4bit_and_fp32_base_and_generates(qlora_adapter):
    import bitsandbytes as bnb
    import torch

    from hammer_train.modeling import is_quantized, load_model_and_tokenizer, merged_model

    model4, tok = load_model_and_tokenizer(
        SMOLLM2, adapter=str(qlora_adapter), quantization_config=_quantization_config(), dtype=torch.float32
    )
    assert is_quantized(model4)
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model4.modules())
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "What is the weather in Paris?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with_adapter = _logits(model4, ids)
    with model4.disable_adapter():
        without = _logits(model4, ids)
    assert not torch.allclose(with_adapter, without), "the reloaded adapter changes nothing on the 4-bit base"
    gen = model4.generate(**ids, max_new_tokens=4, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]

    # onto the fp32 base: unmerged, and merged as ``merge: true`` does for a QLoRA model
    fp32, _ = load_model_and_tokenizer(SMOLLM2, adapter=str(qlora_adapter), dtype=torch.float32, merge_adapter=False)
    merged = merged_model(model4, SMOLLM2, str(qlora_adapter), dtype=torch.float32)
    assert not is_quantized(merged)
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in merged.modules())
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    torch.testing.assert_close(_logits(merged, ids), _logits(fp32, ids), atol=1e-3, rtol=1e-4)
    gen = merged.generate(**ids, max_new_tokens=4, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]


@pytest.mark.filterwarnings("ignore:bitsandbytes::gemv_4bit")  # the unguarded half backprops through it on purpose
def test_eval_pass_keeps_4bit_lora_gradients(smollm2_path):
    """An evaluation pass (eval mode, no gradients) between training steps must not change the next
    gradients. bitsandbytes repacks 4-bit weights for CPU inference there on AVX512-BF16 CPUs unless
    :func:`keep_4bit_weights_trainable` was called; the second half shows the trap it guards against."""
    import bitsandbytes as bnb
    import torch
    from bitsandbytes.functional import has_avx512bf16
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from hammer_train.modeling import keep_4bit_weights_trainable

    base = AutoModelForCausalLM.from_pretrained(
        smollm2_path, dtype=torch.float32, quantization_config=_quantization_config()
    )
    model = get_peft_model(base, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert keep_4bit_weights_trainable(model) == (len(layers) if has_avx512bf16() else 0)
    ids = torch.arange(100, 132).unsqueeze(0)

    def lora_grads():
        model.train()
        model.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad])

    def eval_pass():
        model.eval()
        with torch.no_grad():
            model(input_ids=ids)

    before = lora_grads()
    eval_pass()
    torch.testing.assert_close(lora_grads(), before)

    if has_avx512bf16():  # bitsandbytes' own behaviour, which the guard exists for
        for layer in layers:
            layer.support_avx512bf16_for_cpu = True
        eval_pass()
        assert not torch.allclose(lora_grads(), before, rtol=1e-2, atol=0)
