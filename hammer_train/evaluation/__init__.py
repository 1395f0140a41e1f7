"""Evaluation: parse generated calls and score them (Hammer F1, strict F1, irrelevance, BFCL AST).

The scoring half is pure functions on plain data (calls are ``{"name": str, "arguments": dict}``):

* :mod:`.parse` — :func:`parse_calls` (lenient) and :func:`hammer_parse` (the Hammer authors' parser);
* :mod:`.metrics` — :func:`hammer_f1` (bit-compatible with the authors' ``evaluation/evaluate.py``),
  :func:`strict_f1`, :func:`irrelevance_accuracy`, :func:`summarize`;
* :mod:`.bfcl_ast` — :func:`ast_check` / :func:`bfcl_ast_accuracy`, BFCL's AST rules without its
  dependencies.
"""

from .bfcl_ast import ast_check, bfcl_ast_accuracy, standardize_string
from .metrics import hammer_f1, irrelevance_accuracy, normalize_value, strict_f1, summarize
from .parse import ParseResult, hammer_parse, normalize_call, normalize_calls, parse_calls

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
]
