"""Synthesize function-calling training data for your own tools, or lint existing data.

    hammer-train synthesize --tools_file tools.json --base_url http://127.0.0.1:8000/v1 --num_dialogs 200
    hammer-train synthesize --config synth.yaml [--field value ...]
    hammer-train synthesize --tools_file api.yaml --stage apis          # one stage (apis, dialogs, rules, judges)
    hammer-train synthesize --verify_only --data_format sharegpt --data_path glaive.json

Stages, checks and their sources in the ToolACE and ToolAlpaca papers: docs/synthesis.md. The key
of the endpoint comes from the environment variable named by ``--api_key_env`` (default
``OPENAI_API_KEY``) and is never logged. With neither ``--base_url`` nor ``--model`` the embedded
local server (:mod:`hammer_train.serve`, SmolLM2 on vLLM's CPU build) is started and stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from ..schema import DataError
from ..serve import ServerError
from ..synthesis import SynthesisArguments, lint_source, run_pipeline
from ..synthesis.pipeline import make_endpoint
from ..synthesis.rules import RuleConfig
from ._common import error_line


__all__ = ["make_parser", "parse_args", "main", "embedded_server"]

logger = logging.getLogger(__name__)


PROG = "hammer-train synthesize"


def make_parser(prog: str = PROG):
    """``TrlParser`` over :class:`~hammer_train.synthesis.SynthesisArguments` (``--config`` YAML)."""
    from trl import TrlParser

    parser = TrlParser((SynthesisArguments,))
    parser.prog = prog
    return parser


def parse_args(argv: list[str] | None = None) -> SynthesisArguments:
    """Parse the command line; a leading ``x.yaml`` is read as ``--config x.yaml`` (as the
    training command takes its recipe).

    Raises:
        ValueError: an unknown key or a value out of range, naming the field.
        FileNotFoundError: the config file does not exist.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0].endswith((".yaml", ".yml")):
        argv = ["--config", *argv]
    if "--config" in argv and not Path(argv[argv.index("--config") + 1]).is_file():
        raise FileNotFoundError(f"config file {argv[argv.index('--config') + 1]!r} does not exist")
    (args,) = make_parser().parse_args_and_config(argv)
    return args


@contextlib.contextmanager
def embedded_server() -> Iterator[tuple[str, str, str]]:
    """Start the embedded local generator (:func:`hammer_train.serve.local_server`: vLLM's CPU
    server on 127.0.0.1 serving SmolLM2-135M-Instruct) and yield ``(base_url, model, cache_scope)``;
    stopped on exit. The server binds a free port, so the cache names it by its model
    (``cache_scope``), and a rerun reuses the answers. A 135M generator is weak: expect low
    acceptance (docs/synthesis.md).

    Raises:
        hammer_train.serve.ServerError: no vLLM python (``make vllm``), or the server did not start.
    """
    from ..serve import EMBEDDED_MODEL, local_server

    with local_server() as server:
        yield server.base_url, server.served_model_name, f"embedded:{EMBEDDED_MODEL}"


@contextlib.contextmanager
def _endpoints(args: SynthesisArguments):
    if args.stage == "rules":
        yield None, None
        return
    with contextlib.ExitStack() as stack:
        base_url, model, scope = args.base_url, args.model, None
        if base_url is None and model is None:
            base_url, model, scope = stack.enter_context(embedded_server())
        generator = make_endpoint(base_url, model, args, cache_scope=scope)
        judge = None
        if args.judge_base_url or args.judge_model:
            judge_url = args.judge_base_url or base_url
            judge = make_endpoint(
                judge_url, args.judge_model or generator.config.model, args, None if args.judge_base_url else scope
            )
        yield generator, judge


def _verify_only(args: SynthesisArguments) -> int:
    report = lint_source(args.data_format, args.data_path, RuleConfig(max_turn_chars=args.max_turn_chars))
    path = Path(args.output_dir) / "report_verify.json"
    report.outputs["report"] = str(path)
    report.write(path)
    print(report.to_markdown())
    print(f"report: {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0 done, 2 a mistake in the arguments or inputs,
    printed as one line; ``HAMMER_TRAIN_TRACEBACK=1`` shows the traceback)."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    for noisy in ("httpx", "httpx2", "openai"):  # one INFO line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        args = parse_args(argv)
        if args.verify_only:
            return _verify_only(args)
        with _endpoints(args) as (generator, judge):
            report = run_pipeline(args, generator, judge)
    except (ValueError, DataError, OSError, ServerError) as exc:
        if os.environ.get("HAMMER_TRAIN_TRACEBACK", "") not in ("", "0"):
            raise
        print(error_line(exc), file=sys.stderr)
        return 2
    print(report.to_markdown())
    print(f"report: {report.outputs.get('report')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
