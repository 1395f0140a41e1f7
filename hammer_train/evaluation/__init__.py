"""Evaluation: parse generated calls and score them (Hammer F1, strict F1, irrelevance, BFCL AST).

The scoring half is pure functions on plain data (calls are ``{"name": str, "arguments": dict}``):

* :mod:`.parse` — :func:`parse_calls` (lenient) and :func:`hammer_parse` (the Hammer authors' parser);
* :mod:`.metrics` — :func:`hammer_f1` (bit-compatible with the authors' ``evaluation/evaluate.py``),
  :func:`strict_f1`, :func:`irrelevance_accuracy`, :func:`summarize`;
* :mod:`.bfcl_ast` — :func:`ast_check` / :func:`bfcl_ast_accuracy`, BFCL's AST rules without its
  dependencies.

The running half:

* :mod:`.benchmarks` — :data:`BENCHMARKS` / :func:`load_benchmark` (Seal-Tools, API-Bank L1, BFCL
  categories, and ``*_renamed`` variants with every function and parameter name masked);
* :mod:`.generate` — prompt renderers and batched greedy generation (transformers);
* :mod:`.vllm_backend` — the same with vLLM in process (optional, GPU machines);
* :mod:`.report` — :func:`run_evaluation` (any ``generate_fn(prompts) -> outputs``), results JSON,
  markdown tables and :func:`merge_results`.
"""

from .benchmarks import BENCHMARKS, Benchmark, load_benchmark, rename_benchmark
from .bfcl_ast import ast_check, bfcl_ast_accuracy, standardize_string
from .generate import chat_renderer, generate, plain_renderer, render_prompt, transformers_generate_fn
from .metrics import hammer_f1, irrelevance_accuracy, normalize_value, strict_f1, summarize
from .parse import ParseResult, hammer_parse, normalize_call, normalize_calls, parse_calls
from .report import merge_results, results_table, run_evaluation, score_benchmark, write_results


__all__ = [
    "ParseResult",
    "parse_calls",
    "hammer_parse",
    "normalize_call",
    "normalize_calls",
    "hammer_f1",
    "strict_f1",
    "irrelevance_accuracy",
    "summarize",
    "normalize_value",
    "ast_check",
    "bfcl_ast_accuracy",
    "standardize_string",
    "BENCHMARKS",
    "Benchmark",
    "load_benchmark",
    "rename_benchmark",
    "render_prompt",
    "chat_renderer",
    "plain_renderer",
    "generate",
    "transformers_generate_fn",
    "run_evaluation",
    "score_benchmark",
    "results_table",
    "write_results",
    "merge_results",
]
