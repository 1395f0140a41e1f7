"""FLOPs of a LoRA training step and the machine's matmul peak, for ``benchmarks/train_throughput.py``.

FLOP formula (matmul FLOPs only; norms, activations, softmax and the optimizer are left out). Per
micro-batch of ``B`` rows padded to ``S`` tokens, ``T = B x S`` tokens are *processed* (padding
included: padding positions are computed like any other):

* frozen weights: forward ``2 x N`` per token, backward ``2 x N`` (activation gradients only: frozen
  weights get no weight gradients), where ``N`` = weight elements of the frozen linear layers of the
  decoder (attention and MLP projections; not the embedding, which is a lookup, nor the LM head);
* LoRA: per adapted matrix ``d_in -> d_out`` of rank ``r``, forward ``2 x r x (d_in + d_out)`` per
  token, backward twice that (activation gradients ``2 x r x (d_in + d_out)`` and weight gradients
  ``2 x r x (d_in + d_out)``): ``6 x L_r`` per token in all, ``L_r = sum r x (d_in + d_out)``;
* attention scores and values: forward ``4 x layers x S x W`` per token (``Q K^T`` and ``P V``,
  ``W`` = heads x head dim; the full ``S x S`` square, causal masking not discounted), backward twice
  that: ``12 x layers x W x B x S^2`` per micro-batch;
* LM head: ``2 x hidden x vocab`` forward plus ``2 x hidden x vocab`` backward (activation gradient;
  the head is frozen, tied or not) at each position *where the head runs*: every position of the
  batch for TRL's loss on a CPU (its fused head tiles all positions) or transformers' own loss, the
  positions whose next token has a label where the head is trimmed (``HammerSFTTrainer``'s
  ``label_logits_only``, TRL's fused head on a Triton device).

``model`` FLOPs are these (what MFU counts); ``hardware`` FLOPs add the forward pass that activation
checkpointing recomputes in the backward (frozen + LoRA + attention forward, once more).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any


__all__ = ["DATASHEET_PEAK_TFLOPS", "FORMULA", "FlopSpec", "flop_spec", "matmul_peak", "peak_shapes", "training_flops"]

FORMULA = (
    "per processed token (padding included): frozen 4*N (forward 2*N + activation gradients 2*N; N = frozen "
    "linear weight elements of the decoder layers) + LoRA 6*sum(r*(d_in+d_out)) (forward 2x, backward 4x: "
    "activation + weight gradients) + attention 12*layers*S*W (forward 4*layers*S*W, backward twice that; S = padded "
    "length of the micro-batch, W = heads*head_dim) + LM head 4*hidden*vocab per position where the head runs "
    "(forward 2x + activation gradient 2x; all positions for A/B/C/F, label positions for D). Hardware FLOPs add "
    "the forward recomputed by activation checkpointing (2*N + 2*sum(r*(d_in+d_out)) + 4*layers*S*W per token). "
    "Matmuls only."
)

DATASHEET_PEAK_TFLOPS = {"H200": {"bf16": 989.4}}
"""Dense (no sparsity) tensor-core peaks: NVIDIA H200 (SXM) datasheet, "BFLOAT16 Tensor Core 1,979 TFLOPS"
with sparsity, i.e. 989.4 dense. The device notes of this workplace measured ~790 TFLOP/s for an
8192^3 bf16 matmul through PyTorch (the matmul peak measured in the run is reported beside it)."""


@dataclass(frozen=True)
class FlopSpec:
    """What the FLOP formula needs to know about a model with a LoRA adapter (see the module docstring).

    Attributes:
        frozen_params: weight elements of the frozen linear layers of the decoder (``N``).
        lora_terms: ``sum r x (d_in + d_out)`` over the adapted matrices (= trainable linear weight elements).
        layers: decoder layers.
        attention_width: attention heads x head dimension (``W``; the hidden size for SmolLM2 and Qwen2).
        hidden: the LM head's input width.
        vocab: the LM head's output width.
    """

    frozen_params: int
    lora_terms: int
    layers: int
    attention_width: int
    hidden: int
    vocab: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def flop_spec(model: Any) -> FlopSpec:
    """Read a :class:`FlopSpec` off a (PEFT-wrapped) causal LM.

    Frozen linear layers are the ``nn.Linear`` modules (bitsandbytes' 4-bit layers are ``nn.Linear`` too)
    whose weight does not require a gradient, less the LM head; LoRA terms are the weight elements of
    the trainable ``nn.Linear`` modules (``lora_A``: ``r x d_in``, ``lora_B``: ``d_out x r``).

    Args:
        model: a ``transformers`` causal LM, or PEFT's wrapper around one.

    Raises:
        ValueError: the model has no linear output embedding (LM head).
    """
    from torch import nn

    head = model.get_output_embeddings()
    if not isinstance(head, nn.Linear):
        raise ValueError(f"{type(model).__name__} has no nn.Linear LM head (got {type(head).__name__})")
    frozen = lora = 0
    for module in model.modules():
        if not isinstance(module, nn.Linear) or module is head:
            continue
        size = module.in_features * module.out_features
        if module.weight.requires_grad:
            lora += size
        else:
            frozen += size
    config = model.config
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return FlopSpec(frozen, lora, config.num_hidden_layers, heads * head_dim, head.in_features, head.out_features)


def training_flops(
    spec: FlopSpec, *, tokens: int, tokens_x_seq: int, head_positions: int, recompute: bool = False
) -> dict[str, float]:
    """FLOPs of training on some micro-batches (the formula of the module docstring).

    Args:
        spec: the model's :class:`FlopSpec`.
        tokens: tokens processed, padding included (``sum B x S`` over the micro-batches).
        tokens_x_seq: ``sum B x S^2`` over the micro-batches (each token attends over its padded length).
        head_positions: positions where the LM head (and the loss) ran.
        recompute: activation checkpointing was on (adds the recomputed forward to ``hardware``).

    Returns:
        ``{"frozen", "lora", "attention", "head", "model", "recompute", "hardware"}`` in FLOPs
        (``model`` = the first four; ``hardware`` = ``model`` + ``recompute``).
    """
    frozen = 4 * spec.frozen_params * tokens
    lora = 6 * spec.lora_terms * tokens
    attention = 12 * spec.layers * spec.attention_width * tokens_x_seq
    head = 4 * spec.hidden * spec.vocab * head_positions
    model = frozen + lora + attention + head
    # the recomputed forward: frozen 2N of 4N, LoRA 2x of 6x, attention 4 of 12
    redo = frozen / 2 + lora / 3 + attention / 3 if recompute else 0
    return {
        "frozen": float(frozen),
        "lora": float(lora),
        "attention": float(attention),
        "head": float(head),
        "model": float(model),
        "recompute": float(redo),
        "hardware": float(model + redo),
    }


def peak_shapes(hidden: int, intermediate: int, vocab: int, tokens: int, cuda: bool) -> list[tuple[int, int, int]]:
    """``(m, k, n)`` products of ``(m x k) @ (k x n)`` typical of the model, plus a square reference.

    Args:
        hidden, intermediate, vocab: the model's widths.
        tokens: rows of the activations (tokens of a micro-batch; at most 2048 on a CPU).
        cuda: pick the reference square for a GPU (8192) rather than a CPU (2048).

    Returns:
        MLP up ``(tokens, hidden, intermediate)``, MLP down ``(tokens, intermediate, hidden)``, LM head
        ``(tokens, hidden, vocab)`` and the square; a tiny model's own shapes underuse the machine, so
        the square keeps the peak a property of the machine.
    """
    square = 8192 if cuda else 2048
    tokens = tokens if cuda else min(tokens, 2048)  # a CPU reaches its peak well below 2048 rows
    return [
        (tokens, hidden, intermediate),
        (tokens, intermediate, hidden),
        (tokens, hidden, vocab),
        (square, square, square),
    ]


def matmul_peak(
    shapes: list[tuple[int, int, int]], dtypes: tuple[str, ...] = ("fp32", "bf16"), min_seconds: float = 1.0
) -> dict[str, Any]:
    """Best matmul throughput on this machine, per dtype (on the GPU when torch sees one, else on the CPU
    with ``torch.get_num_threads()`` threads).

    Each product runs once to warm up, then again until ``min_seconds`` have passed (at least 3 times);
    its best time gives its GFLOP/s (``2 x m x k x n`` FLOPs).

    Args:
        shapes: ``(m, k, n)`` products (:func:`peak_shapes`).
        dtypes: among ``"fp32"`` and ``"bf16"``.
        min_seconds: timing budget per product and dtype.

    Returns:
        ``{dtype: {"best_gflops": float, "best_shape": [m, k, n], "by_shape": {"MxKxN": gflops}}, "device": str,
        "threads": int}``.
    """
    import torch

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch_dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    out: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "threads": torch.get_num_threads(),
        "min_seconds": min_seconds,
    }
    gen = torch.Generator(device=device).manual_seed(0)
    for name in dtypes:
        by_shape: dict[str, float] = {}
        for m, k, n in shapes:
            a = torch.randn(m, k, device=device, dtype=torch_dtypes[name], generator=gen)
            b = torch.randn(k, n, device=device, dtype=torch_dtypes[name], generator=gen)
            best = _best_time(torch.matmul, (a, b), cuda, min_seconds)
            by_shape[f"{m}x{k}x{n}"] = 2 * m * k * n / best / 1e9
            del a, b
        top = max(by_shape, key=by_shape.get)
        out[name] = {
            "best_gflops": by_shape[top],
            "best_shape": [int(x) for x in top.split("x")],
            "by_shape": by_shape,
        }
    return out


def _best_time(fn, operands: tuple, cuda: bool, min_seconds: float) -> float:
    import torch

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    fn(*operands)
    sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn(*operands)
        sync()
        times.append(time.perf_counter() - t0)
    return min(times)
