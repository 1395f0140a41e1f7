"""Evaluate a model (optionally with a LoRA adapter) on function-calling benchmarks, or merge results.

    hammer-train evaluate MODEL [--adapter DIR] --benchmarks sealtool,apibank_l1,bfcl_simple \\
        [--limit N] [--prompt_style hammer] [--batch_size 8] [--max_new_tokens 256] \\
        [--output results.json] [--predictions preds.jsonl] [--data_dir DIR] [--backend auto] \\
        [--structured_outputs answer|tools] [--vllm_kwargs JSON]
    hammer-train evaluate --backend openai --base_url http://127.0.0.1:8000/v1 --model NAME \\
        --benchmarks sealtool,bfcl_simple [--limit N] [--request_style hammer|openai] [--output results.json] \\
        [--structured_outputs answer|tools]
    hammer-train evaluate --merge a.json b.json ... [--labels base,lora] [--output table.md]

MODEL is anything ``hammer_train.modeling.resolve_model`` accepts (hub id, folder, ``.gguf``,
``pypi:<module>/<file>.gguf``). Results go to ``--output`` (JSON) and a markdown table next to it
(``.md``); the table is printed. Benchmarks: see ``--list``. Seal-Tools and API-Bank are read from
Hammer's released test sets in ``--data_dir`` or ``$HAMMER_EVAL_DATA``; BFCL from the ``bfcl-eval``
package. ``--backend openai`` scores any OpenAI-compatible endpoint (a served export on vLLM,
Hammer2.1, a hosted API) on the same rows: each row goes out as ``messages`` + ``tools``, the
returned ``tool_calls`` (or the text, through our parser) are scored, and a request that fails
after the client's retries is counted and named in the results, never scored (docs/serving.md).
The key comes from ``--api_key_env`` (default ``OPENAI_API_KEY``) and is never logged or written.
``--structured_outputs`` decodes under the answer format's grammar: the fence and a JSON list of
``{"name", "arguments"}`` calls (``answer``, the default), or calls of the row's tools with their
parameter names only (``tools``), so JSON syntax errors cannot occur
(``hammer_train.evaluation.structured``); the results record it in ``decoding``. In process (the
transformers backend, the ``structured`` extra) llguidance masks the logits; with ``--backend
vllm`` each prompt's ``SamplingParams`` carry it (vLLM's ``guidance`` backend, llguidance too); with
``--backend openai`` each request carries the grammar in vLLM's ``structured_outputs`` field, for a
vLLM server started with ``--structured-outputs-config '{"backend": "guidance"}'`` (docs/serving.md). The
grammar is the Hammer answer (a fenced JSON list), so it suits a served hammer-train export; with
``--request_style openai`` another model is held to that format too.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from ._common import UsageError, positive_int, setup_logging, user_errors
from ._evaluate_local import evaluate_in_process, token_counter


__all__ = ["make_parser", "main"]

PROG = "hammer-train evaluate"


def make_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The ``hammer-train evaluate`` argument parser."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("model", nargs="?", help="model: hub id, folder, .gguf, or pypi:<module>/<file>.gguf")
    p.add_argument("--adapter", help="PEFT LoRA adapter folder")
    p.add_argument("--benchmarks", default="sealtool,apibank_l1,bfcl_simple", help="comma-separated benchmark names")
    p.add_argument("--limit", type=positive_int, help="first N rows of each benchmark")
    p.add_argument("--prompt_style", default="hammer", choices=["hammer", "native"])
    p.add_argument("--batch_size", type=positive_int, default=8)
    p.add_argument("--max_new_tokens", type=positive_int, default=256)
    p.add_argument("--output", help="results JSON (markdown written next to it); with --merge: the table file")
    p.add_argument("--predictions", help="JSON-lines file of every prompt, output and parsed call")
    p.add_argument(
        "--data_dir",
        help="folder of Hammer's evaluation sets sealtool.json, apibank_l1.json (default: $HAMMER_EVAL_DATA)",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "transformers", "vllm", "openai"],
        help="auto: vLLM when installed and a GPU is present, else transformers; openai: an "
        "OpenAI-compatible endpoint (--base_url, --model)",
    )
    _add_endpoint_arguments(p.add_argument_group("--backend openai"))
    p.add_argument(
        "--structured_outputs",
        nargs="?",
        const="answer",
        choices=["answer", "tools"],
        help="constrain generation to the answer format (answer, the default: fenced JSON list of calls) or "
        "to calls of the row's tools and parameter names (tools): with llguidance in process (pip install "
        "hammer-train[structured]), or through vLLM's structured_outputs with --backend vllm or openai",
    )
    p.add_argument(
        "--vllm_kwargs",
        help="--backend vllm: more vllm.LLM arguments as a JSON object, e.g. "
        '\'{"gpu_memory_utilization": 0.8, "max_model_len": 4096, "enforce_eager": true}\'',
    )
    p.add_argument(
        "--dtype", default="auto", help="weights' dtype in process, transformers or vLLM (auto, float32, bfloat16...)"
    )
    p.add_argument(
        "--update_card",
        action="store_true",
        help="with --adapter (a hammer-train train output folder): add the scores to its eval_results.json and model card",
    )
    p.add_argument("--merge", nargs="+", metavar="RESULTS_JSON", help="merge results files into one comparison table")
    p.add_argument("--labels", help="with --merge: comma-separated run labels (default: file stems)")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return p


def _add_endpoint_arguments(e: argparse._ArgumentGroup) -> None:
    """The ``--backend openai`` arguments: the endpoint, its client settings, the request style."""
    e.add_argument("--base_url", help="the endpoint's root, e.g. http://127.0.0.1:8000/v1 (default: OpenAI)")
    e.add_argument("--model", dest="served_model", help="the model name the endpoint serves")
    e.add_argument(
        "--api_key_env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (never logged or written)",
    )
    e.add_argument("--timeout", type=float, default=120.0, help="seconds per request (each retry too)")
    e.add_argument("--max_retries", type=int, default=4, help="retries with backoff after a timeout, 429 or 5xx")
    e.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    e.add_argument(
        "--request_style",
        default="hammer",
        choices=["hammer", "openai"],
        help="hammer: a served hammer-train export (the training prompt as its chat template); openai: "
        "standard roles and JSON-schema tools (other models, hosted APIs)",
    )
    e.add_argument("--cache_dir", help="resumable answer cache (a killed run resumes without re-sending)")
    e.add_argument(
        "--tokenizer",
        help="the served model's tokenizer (an export or adapter folder, a GGUF, a hub id) to count the gold "
        "answers longer than --max_new_tokens, as in process; request style hammer only",
    )


def _merge(args: argparse.Namespace) -> int:
    from ..evaluation.report import merge_results

    labels = args.labels.split(",") if args.labels else None
    try:
        table = merge_results(args.merge, labels)
    except ValueError as exc:  # a results file that is not one, or labels of another length
        raise UsageError(str(exc)) from None
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(table)
    print(table)
    return 0


def _check_arguments(args: argparse.Namespace, known: list[str]) -> list[str]:
    """The benchmark names; raises :class:`UsageError` for a missing model or an unknown name."""
    if args.backend == "openai":
        if not args.served_model:
            raise UsageError("--model is required with --backend openai (the name the server serves)")
        if args.model or args.adapter:
            raise UsageError(
                "--backend openai scores the served model: give --base_url / --model, not MODEL / --adapter"
            )
    elif not args.model:
        raise UsageError("MODEL is required (or --merge / --list)")
    args.vllm_kwargs = _vllm_kwargs(args)
    if args.backend == "vllm":
        from ..evaluation.vllm_backend import vllm_available

        if not vllm_available():
            raise UsageError("--backend vllm needs vLLM in this environment: pip install 'hammer-train[vllm]'")
    if args.structured_outputs:
        from ..evaluation.structured import structured_available

        if args.backend in ("auto", "transformers") and not structured_available():
            raise UsageError("--structured_outputs needs llguidance: pip install 'hammer-train[structured]'")
    if args.update_card and not args.adapter:
        raise UsageError("--update_card needs --adapter (the folder whose card gets the scores)")
    names = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in names if b not in known]
    if unknown:
        raise UsageError(f"--benchmarks: unknown {unknown}; known: {', '.join(known)}")
    return names


def _vllm_kwargs(args: argparse.Namespace) -> dict:
    """``--vllm_kwargs`` as a dict (``{}`` when not given); a :class:`UsageError` naming the flag for
    text that is not a JSON object, for a backend other than ``vllm``, or for a key that another
    flag sets (:data:`_VLLM_SET_BY`)."""
    if args.vllm_kwargs is None:
        return {}
    if args.backend != "vllm":
        raise UsageError("--vllm_kwargs needs --backend vllm")
    try:
        kwargs = json.loads(args.vllm_kwargs)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--vllm_kwargs: not JSON ({exc})") from None
    if not isinstance(kwargs, dict):
        raise UsageError(f"--vllm_kwargs: a JSON object of vllm.LLM arguments, not {type(kwargs).__name__}")
    taken = sorted(set(kwargs) & set(_VLLM_SET_BY))
    if taken:
        raise UsageError(f"--vllm_kwargs: {taken[0]!r} is set by {_VLLM_SET_BY[taken[0]]}")
    return kwargs


_VLLM_SET_BY = {
    "model": "MODEL",
    "dtype": "--dtype",
    "enable_lora": "--adapter",
    "max_tokens": "--max_new_tokens",
    "structured_outputs": "--structured_outputs",
}
"""``vllm.LLM`` arguments (and sampling fields) that other flags of ``evaluate`` set."""


def _endpoint_token_counter(args: argparse.Namespace) -> Callable[[str], int] | None:
    """``--tokenizer``'s counter for ``--backend openai``, loaded before any request; None without it.

    Raises:
        UsageError: ``--tokenizer`` with ``--request_style openai`` (the server's own tool-call
            format, not the Hammer answer the gold is written in), or a tokenizer that does not load.
    """
    if not args.tokenizer:
        return None
    if args.request_style != "hammer":
        raise UsageError(
            "--tokenizer counts gold answers in the Hammer answer format: use it with --request_style hammer"
        )
    from transformers import AutoTokenizer

    from ..modeling import tokenizer_source

    try:  # an adapter or export folder holds the tokenizer without (or beside) a config.json
        return token_counter(AutoTokenizer.from_pretrained(tokenizer_source(args.tokenizer)))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--tokenizer {args.tokenizer}: {exc}") from None


def _evaluate_endpoint(args: argparse.Namespace, benches: list) -> int:
    """``--backend openai``: score the endpoint on the loaded benchmarks and write the results."""
    from ..endpoint import EndpointConfig
    from ..evaluation.openai_backend import evaluate_endpoint
    from ..evaluation.report import results_table, write_results

    try:
        config = EndpointConfig(
            base_url=args.base_url,
            model=args.served_model,
            api_key_env=args.api_key_env,
            timeout=args.timeout,
            max_retries=args.max_retries,
            concurrency=args.concurrency,
            cache_dir=args.cache_dir,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    count_tokens = _endpoint_token_counter(args)
    meta = {"limit": args.limit, "max_new_tokens": args.max_new_tokens, "decoding": "greedy"}
    meta["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results = evaluate_endpoint(
        benches,
        config,
        style=args.request_style,
        max_tokens=args.max_new_tokens,
        limit=args.limit,
        meta=meta,
        predictions_path=args.predictions,
        structured_outputs=args.structured_outputs,
        count_tokens=count_tokens,
    )
    json_path, md_path = write_results(results, args.output or "results.json")
    print(results_table(results))
    print(f"results: {json_path}, table: {md_path}")
    return 0


@user_errors
def main(argv: list[str] | None = None) -> int:
    """``hammer-train evaluate``: 0, or 2 for a user's mistake (one line)."""
    args = make_parser().parse_args(argv)
    setup_logging()
    from ..evaluation.benchmarks import BENCHMARKS, load_benchmark
    from ..evaluation.report import results_table, write_results

    if args.list:
        for name, loader in BENCHMARKS.items():
            print(f"{name:24s} {loader.__doc__}")
        return 0
    if args.merge:
        return _merge(args)
    names = _check_arguments(args, list(BENCHMARKS))
    # the data and the model are checked first: a missing file fails before the model loads
    benches = [load_benchmark(b, limit=args.limit, data_dir=args.data_dir) for b in names]
    if args.backend == "openai":
        return _evaluate_endpoint(args, benches)
    results = evaluate_in_process(args, benches)
    output = args.output or "results.json"
    json_path, md_path = write_results(results, output)
    print(results_table(results))
    print(
        f"results: {json_path}, table: {md_path}" + (f", predictions: {args.predictions}" if args.predictions else "")
    )
    if args.update_card:  # --adapter is required with it (checked above)
        from ..card import update_model_card

        print(f"model card: {update_model_card(args.adapter, results)}")
    return 0
