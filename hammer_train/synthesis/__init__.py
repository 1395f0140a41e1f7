"""Synthesize and verify function-calling data for the user's own tools, after ToolACE (arXiv
2409.00920) and ToolAlpaca (arXiv 2306.05301), on any OpenAI-compatible model (docs/synthesis.md).

Modules, one per stage or concern:

* :mod:`~hammer_train.synthesis.inputs`: the user's tools (OpenAI, xLAM, OpenAPI 3, a dataset);
* :mod:`~hammer_train.synthesis.apispec`: API specs and the API-definition rule check;
* :mod:`~hammer_train.synthesis.expansion`: stage ``apis``, the API pool (tool self-evolution);
* :mod:`~hammer_train.synthesis.dialogs`: stage ``dialogs``, user / assistant / tool agents;
* :mod:`~hammer_train.synthesis.rules` and :mod:`~hammer_train.synthesis.text_checks`: stage
  ``rules``, ToolACE's Table 4 checks;
* :mod:`~hammer_train.synthesis.judges`: stage ``judges``, the model checks;
* :mod:`~hammer_train.synthesis.lint`: ``--verify_only``, the rule layer over existing data;
* :mod:`~hammer_train.synthesis.pipeline`: the stages in order, files and report;
* :mod:`~hammer_train.synthesis.prompts`, :mod:`~hammer_train.synthesis.replies`,
  :mod:`~hammer_train.synthesis.report`, :mod:`~hammer_train.synthesis.config`.
"""

from .apispec import api_from_dict, api_to_tool, check_api
from .config import STAGES, SynthesisArguments
from .dialogs import generate_dialogs
from .expansion import expand_apis
from .inputs import load_tools, tools_from_dataset, tools_from_openapi
from .judges import judge_rows
from .lint import lint_rows, lint_source
from .pipeline import run_pipeline, verify_rules
from .report import SynthesisReport
from .rules import RuleConfig, check_dialog


__all__ = [
    "STAGES",
    "SynthesisArguments",
    "SynthesisReport",
    "RuleConfig",
    "api_from_dict",
    "api_to_tool",
    "check_api",
    "check_dialog",
    "expand_apis",
    "generate_dialogs",
    "judge_rows",
    "lint_rows",
    "lint_source",
    "load_tools",
    "run_pipeline",
    "tools_from_dataset",
    "tools_from_openapi",
    "verify_rules",
]
