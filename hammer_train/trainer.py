"""TRL's ``SFTTrainer`` with the LM head and the loss run only at the positions that have a label.

In a Hammer row the label tokens (the answer and its end-of-turn token) are about 6% of the tokens:
the prompt and the tool descriptions are the rest (``docs/performance.md``). TRL 1.16's
``SFTTrainer`` computes the loss without building the full logits (``trl.trainer.utils.
add_fused_lm_head``), and on a CUDA or XPU device with Triton it projects only the positions whose
next-token label is set. On every other device (a CPU, a CUDA device without Triton) it projects
*every* position onto the vocabulary in tiles and masks the result afterwards, because compacting
would change the tile shapes per batch and make compiled devices recompile. On a CPU that makes the
head, its log-softmax and their backward run at the ~94% prompt positions that carry no loss: over
49,152 entries per position for SmolLM2, 151,936 for Qwen2.5.

:class:`HammerSFTTrainer` closes that gap with what transformers already offers:
``*ForCausalLM.forward(..., logits_to_keep=mask)`` with a boolean ``(batch, seq)`` mask projects only
the masked hidden states (``transformers.modeling_utils.slice_logits_to_keep``, transformers 5.x;
PEFT's ``PeftModelForCausalLM`` passes the argument through). The loss, the entropy and the
top-1 accuracy are then computed on those ``(n_labels, vocab)`` logits exactly as TRL computes them
on its fused head (same reduction, same ``num_items_in_batch`` handling, same logged
``entropy`` / ``mean_token_accuracy`` / ``num_tokens``). Where TRL's own head already trims (Triton
devices), or where TRL needs the full logits (a custom ``compute_loss_func``, label smoothing, MoE
auxiliary loss, sequence / context parallelism, prompt-learning adapters that prepend virtual
tokens, ``return_outputs=True``), TRL's ``compute_loss`` runs unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from trl import SFTTrainer


logger = logging.getLogger(__name__)

__all__ = ["HammerSFTTrainer", "label_positions"]

IGNORE_INDEX = -100


def label_positions(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> tuple[torch.Tensor, torch.Tensor]:
    """The positions whose *next* token carries a label, and those labels (the causal shift).

    Args:
        labels: ``(batch, seq)`` token ids, ``ignore_index`` where there is no loss.
        ignore_index: the "no label" value (-100, as transformers and TRL use).

    Returns:
        ``(keep, targets)``: ``keep`` is a ``(batch, seq)`` bool tensor, True at position ``t`` when
        ``labels[:, t + 1]`` is set (the last position is never kept); ``targets`` is the ``(n,)``
        int64 tensor of those labels in row-major order of ``keep``, ``n = keep.sum()``.

    Raises:
        ValueError: ``labels`` is not 2-D.
    """
    if labels.dim() != 2:
        raise ValueError(f"labels must be (batch, seq), got shape {tuple(labels.shape)}")
    following = labels[:, 1:]
    has_label = following != ignore_index
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = has_label
    return keep, following[has_label]


def _triton_head(device: torch.device) -> bool:
    """Whether TRL 1.16's fused LM head already projects only the labelled positions on ``device``
    (``trl.kernels.chunked_logprob._use_triton``: Triton importable and a CUDA or XPU device)."""
    from transformers.utils import is_triton_available

    return device.type in ("cuda", "xpu") and is_triton_available()


class HammerSFTTrainer(SFTTrainer):
    """``trl.SFTTrainer`` whose loss projects hidden states to the vocabulary only where a label is set.

    Same arguments as ``SFTTrainer``, plus:

    Args:
        label_logits_only: True (the default) runs the LM head and the loss at the labelled
            positions only (see the module docstring for when TRL's path runs instead); False is
            TRL's ``compute_loss`` unchanged. The loss equals TRL's to float rounding, and so do the
            gradients and the logged ``mean_token_accuracy`` and ``entropy`` (both are taken over
            the labelled positions in TRL too).

    Raises (from ``compute_loss``):
        RuntimeError: the model ignored ``logits_to_keep`` (a model class without transformers'
            ``slice_logits_to_keep``); set the recipe's ``label_logits_only: false``.
    """

    def __init__(self, *args: Any, label_logits_only: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_logits_only = label_logits_only
        self._fallbacks_logged: set[str] = set()

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        reason = "return_outputs=True needs the full logits" if return_outputs else self._full_head_reason(inputs)
        if reason is not None:
            if self.label_logits_only and reason not in self._fallbacks_logged:
                self._fallbacks_logged.add(reason)
                logger.info("label_logits_only: TRL's loss runs instead (%s)", reason)
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        return self._label_logits_loss(model, inputs, num_items_in_batch)

    def _full_head_reason(self, inputs: dict[str, Any]) -> str | None:
        """Why TRL's own ``compute_loss`` must (or may as well) run for this batch; None when ours applies."""
        if not self.label_logits_only:
            return "off by the recipe"
        if "labels" not in inputs or "shift_labels" in inputs:
            return "no labels, or pre-shifted labels (context parallelism)"
        if self.compute_loss_func is not None or self.label_smoother is not None:
            return "a custom compute_loss_func or label smoothing needs the full logits"
        if self.args.loss_type not in ("nll", "dft") or self.aux_loss_enabled:
            return f"loss_type {self.args.loss_type!r} / MoE auxiliary loss"
        pc = getattr(self.accelerator, "parallelism_config", None)
        if pc is not None and (getattr(pc, "sp_enabled", False) or getattr(pc, "cp_enabled", False)):
            return "sequence or context parallelism"
        peft_config = getattr(self.model, "active_peft_config", None)
        if peft_config is not None and peft_config.is_prompt_learning:
            return "a prompt-learning adapter prepends virtual tokens"
        if _triton_head(inputs["labels"].device):
            return "TRL's fused LM head already scores only the labelled positions on this device"
        return None

    def _label_logits_loss(self, model, inputs: dict[str, Any], num_items_in_batch) -> torch.Tensor:
        """TRL 1.16's ``SFTTrainer.compute_loss`` (nll / dft branch and its metrics) on the labelled
        positions' logits only."""
        mode = "train" if self.model.training else "eval"
        keep, targets = label_positions(inputs["labels"])
        model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        model_inputs["use_cache"] = False
        logits = model(**model_inputs, logits_to_keep=keep).logits
        if logits.dim() != 2 or logits.shape[0] != targets.numel():
            raise RuntimeError(
                f"{type(self.model).__name__} returned logits of shape {tuple(logits.shape)} for a boolean "
                f"logits_to_keep with {targets.numel()} positions: this model ignores logits_to_keep; "
                "set the recipe's label_logits_only: false"
            )
        logits = logits.float()
        log_z = torch.logsumexp(logits, dim=-1)
        target_logits = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        log_probs = target_logits - log_z
        per_token_loss = -log_probs
        if self.args.loss_type == "dft":  # as TRL: DFT, https://huggingface.co/papers/2508.05629
            per_token_loss = per_token_loss * log_probs.exp().detach()
        num_tokens = keep.sum() if num_items_in_batch is None else num_items_in_batch
        loss = per_token_loss.sum() / torch.as_tensor(num_tokens).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())

        with torch.no_grad():
            # TRL's formula (log Z - E_p[z], with exp taken after subtracting the max): log Z - sum(softmax * z)
            # loses ~1e-4 of the entropy to cancellation in fp32 over a 49k vocabulary
            top = logits.amax(dim=-1, keepdim=True)
            e = torch.exp(logits - top)
            sum_e = e.sum(-1)
            entropy = top.squeeze(-1) + torch.log(sum_e) - (e * logits).sum(-1) / sum_e
            # argmax returns the first maximum, as TRL's is_top1 counts a tie with an earlier token as wrong
            is_top1 = logits.argmax(dim=-1) == targets
        self._log_token_metrics(mode, inputs, keep.sum(), entropy.sum(), is_top1.sum())
        return loss

    def _log_token_metrics(self, mode: str, inputs: dict[str, Any], num_valid, entropy_sum, num_correct) -> None:
        """The metrics TRL 1.16's ``SFTTrainer.compute_loss`` logs: entropy and mean token accuracy
        over the labelled positions, and the running count of non-pad tokens trained on."""
        gather = self.accelerator.gather_for_metrics
        num_valid = gather(num_valid).sum()
        entropy_sum = gather(entropy_sum).sum()
        num_correct = gather(num_correct).sum()
        self._metrics[mode]["entropy"].append((entropy_sum / num_valid).item() if num_valid > 0 else 0.0)
        self._metrics[mode]["mean_token_accuracy"].append((num_correct / num_valid).item() if num_valid > 0 else 0.0)
        if mode == "train":
            if "attention_mask" in inputs:
                num_tokens_in_batch = gather(inputs["attention_mask"].sum()).sum().item()
            elif "position_ids" in inputs:
                local = torch.tensor(inputs["position_ids"].size(1), device=inputs["position_ids"].device)
                num_tokens_in_batch = gather(local).sum().item()
            else:
                raise ValueError("Expected 'attention_mask' or 'position_ids' in inputs.")
            self._total_train_tokens += num_tokens_in_batch // self._tp_size
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
