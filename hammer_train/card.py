"""The model card of an adapter folder, built with ``huggingface_hub`` (``ModelCard``,
``ModelCardData``, ``EvalResult``), and the upload of that folder to the Hub.

The card's YAML metadata carries the base model (a Hub id only), the training datasets on the
Hub, the license, the tags, ``library_name: peft`` and the evaluation scores as ``model-index``
entries (one ``EvalResult`` per benchmark and metric; the Hub shows them on the model page, see
https://huggingface.co/docs/hub/model-cards#evaluation-results). The body says what the adapter
is, its base model, data mix, masking and irrelevance settings, training settings, the evaluation
table and how to use it.

Scores come from :class:`hammer_train.results.Results` files: ``hammer-train evaluate
--update_card`` adds each run to the folder's ``eval_results.json`` (a JSON list of results files,
oldest first; a benchmark scored again leaves the older run). Reading that file and the Hub ids of
the metadata live in :mod:`hammer_train.card_metadata`, re-exported here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .card_metadata import EVAL_RESULTS_FILE, eval_results, hub_datasets, hub_id, read_eval_results
from .results import Results
from .tables import CARD_COLUMNS, Column, benchmark_table, markdown_table


__all__ = [
    "TAGS",
    "DEFAULT_LICENSE",
    "EVAL_RESULTS_FILE",
    "CHAT_TEMPLATE_SENTENCE",
    "hub_id",
    "hub_datasets",
    "eval_results",
    "read_eval_results",
    "build_model_card",
    "write_model_card",
    "update_model_card",
    "push_adapter",
]

TAGS = ["function-calling", "tool-use", "hammer-train", "lora", "trl", "sft", "peft"]
DEFAULT_LICENSE = "apache-2.0"
CHAT_TEMPLATE_SENTENCE = "The tokenizer's chat template is the training prompt"
"""Opens the card's sentence that the saved tokenizer renders the training prompt."""

TRAINING_KEYS = (
    "learning_rate lr_scheduler_type warmup_steps weight_decay num_train_epochs max_steps per_device_train_batch_size "
    "gradient_accumulation_steps max_length lora_r lora_alpha lora_dropout lora_target_modules load_in_4bit seed"
).split()
"""Recipe fields listed in the card's training table (those the recipe sets)."""


# --------------------------------------------------------------------------- the card


def _data_section(recipe: dict[str, Any], report: dict[str, Any]) -> list[str]:
    lines = ["## Data mix", ""]
    for src in recipe.get("sources") or []:
        kind = f", {src['kind']} rows" if src.get("kind") else ""
        lines.append(f"- `{src.get('format')}`: `{src.get('path')}` (weight {src.get('weight', 1.0)}{kind})")
    lines += ["", f"Rows trained on: {report.get('final_rows', '-')} (after mixing; see `data_report.json`).", ""]
    settings, masking, irr = report.get("settings", {}), report.get("masking", {}), report.get("irrelevance", {})
    lines += [
        "## Masking and irrelevance",
        "",
        "Function masking replaces function and parameter names (and used default values) by random strings in a "
        "share of the rows, so the model must read the descriptions; irrelevance rows have no fitting tool and "
        "answer `[]` (Hammer paper, arXiv 2410.04587, sections 3.1-3.2).",
        "",
        f"- prompt style: `{settings.get('prompt_style')}`",
        f"- masking: `{settings.get('masking_mode')}`, share of rows masked {settings.get('masking_row_prob')}, "
        f"copies {settings.get('masking_copies')}; masked rows by kind (first epoch): {masking.get('by_kind')}",
        f"- irrelevance share: target {irr.get('target_ratio', settings.get('irrelevance_ratio'))}, "
        f"achieved {irr.get('achieved_ratio')}",
        "",
    ]
    return lines


def _training_section(recipe: dict[str, Any]) -> list[str]:
    lines = ["## Training", "", "LoRA adapter trained with TRL's `SFTTrainer` and PEFT, loss on the answer only.", ""]
    settings = [(key, recipe[key]) for key in TRAINING_KEYS if key in recipe]
    lines.append(
        markdown_table(settings, [Column("setting", lambda r: r[0]), Column("value", lambda r: r[1], fmt=str)])
    )
    return lines + [""]


def _evaluation_section(runs: list[Results]) -> list[str]:
    lines = ["## Evaluation", ""]
    merged = Results(benchmarks={n: b for run in runs for n, b in run.benchmarks.items()})
    if not merged.benchmarks:
        return lines + [
            "Not evaluated yet: `hammer-train evaluate BASE --adapter THIS_FOLDER --update_card`.",
            "",
        ]
    lines += [benchmark_table(merged, CARD_COLUMNS), ""]
    lines.append(
        "Hammer F1: function and argument F1 as the Hammer authors' `evaluation/evaluate.py` computes it "
        "(MadeAgents/Hammer); BFCL AST accuracy: the BFCL v4 AST check; irrelevance accuracy: share of rows "
        "without a fitting tool answered `[]`. Measured with:"
    )
    for run in runs:
        m = run.meta
        keys = ("prompt_style", "max_new_tokens", "decoding", "backend")
        desc = ", ".join(f"{k} {v}" for k in keys if (v := getattr(m, k)) is not None) or "settings not recorded"
        lines.append(f"- {', '.join(run.benchmarks)}: {desc}")
    return lines + [""]


def _usage_section(repo: str, prompt_style: Any, chat_template_is_training_prompt: bool) -> list[str]:
    lines = [
        "## How to use",
        "",
        "```python",
        "from peft import AutoPeftModelForCausalLM",
        "from transformers import AutoTokenizer",
        "",
        f'model = AutoPeftModelForCausalLM.from_pretrained("{repo}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{repo}")',
    ]
    if chat_template_is_training_prompt or prompt_style == "native":
        lines += [
            "",
            'tools = [{"type": "function", "function": {"name": "get_weather", "description": "Current weather of a city",',
            '          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]',
            'messages = [{"role": "user", "content": "What is the weather in Paris?"}]',
            "inputs = tokenizer.apply_chat_template(",
            '    messages, tools=tools, add_generation_prompt=True, return_dict=True, return_tensors="pt"',
            ").to(model.device)",
            "# greedy, as evaluated: a base's generation_config.json may ask for sampling or a repetition penalty",
            "out = model.generate(**inputs, max_new_tokens=256, do_sample=False, repetition_penalty=1.0)",
            'print(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))',
        ]
    lines += ["```", ""]
    if chat_template_is_training_prompt:
        lines.append(
            CHAT_TEMPLATE_SENTENCE + ": `apply_chat_template(messages, tools=tools, add_generation_prompt=True)` "
            "renders exactly what the adapter was trained on, so vLLM, TGI or any OpenAI-compatible server using "
            "this tokenizer prompts it as trained."
        )
    elif prompt_style == "native":
        lines.append("Trained on the base model's own chat template with `tools=` (`prompt_style: native`).")
    else:
        lines.append(
            "Trained on Hammer's prompt (four fenced blocks: task instruction, available tools, format instruction, "
            "query; `hammer_train.prompts.to_conversation` builds it); the tokenizer's chat template does not "
            "render it by itself."
        )
    lines += ["", 'The answer is a JSON list of `{"name", "arguments"}` calls in a ``` fence, `[]` when no tool fits.']
    if chat_template_is_training_prompt:
        lines.append(
            'Served by vLLM (`--tool-call-parser xlam`, `--structured-outputs-config \'{"backend": "guidance"}\'`), '
            "a request can also decode under the grammar of its own tools, listed functions and parameter names "
            "only: `extra_body=vllm_structured_outputs(tools)` from `hammer_train.evaluation.structured` "
            '(hammer-train\'s docs/serving.md, "Constrained to the tools").'
        )
    return lines + [""]


def build_model_card(
    name: str,
    recipe: dict[str, Any],
    report: dict[str, Any],
    runs: list[Results] | None = None,
    *,
    chat_template_is_training_prompt: bool = False,
    license: str | None = None,
):
    """The ``huggingface_hub.ModelCard`` of an adapter.

    Args:
        name: the model's name: its Hub repo id when it has one, else its folder name.
        recipe: the resolved recipe (``recipe.yaml``; :func:`hammer_train.train.resolved_recipe`).
        report: the data report (``data_report.json``).
        runs: evaluation results to show (:func:`read_eval_results`); none: "not evaluated yet".
        chat_template_is_training_prompt: the tokenizer saved with the adapter renders the training
            prompt; the card then says so and shows ``apply_chat_template(..., tools=...)``.
        license: the card's license; default the recipe's ``license``, else ``apache-2.0``.

    Returns:
        A ``ModelCard``; metadata: ``base_model`` (only when the recipe's model is a Hub id),
        ``datasets`` (:func:`hub_datasets`), ``license``, ``tags`` (:data:`TAGS`),
        ``library_name: peft``, ``pipeline_tag: text-generation`` and a ``model-index`` of
        :func:`eval_results`.
    """
    from huggingface_hub import ModelCard, ModelCardData

    runs = runs or []
    base = recipe.get("model_name_or_path", "")
    scores = eval_results(runs)
    data = ModelCardData(
        base_model=hub_id(base),
        datasets=hub_datasets(recipe.get("sources")) or None,
        license=license or recipe.get("license") or DEFAULT_LICENSE,
        library_name="peft",
        pipeline_tag="text-generation",
        tags=list(TAGS),
        model_name=name if scores else None,
        eval_results=scores or None,
    )
    short = name.rsplit("/", 1)[-1]
    body = [
        f"# {short}",
        "",
        f"A LoRA adapter on `{base}` for function calling (tool use), trained with hammer-train the way the "
        "Hammer models were trained: function masking and irrelevance augmentation (arXiv 2410.04587), on "
        "TRL's `SFTTrainer` with PEFT.",
        "",
        "## Base model",
        "",
        f"`{base}`" + ("" if hub_id(base) else " (a local or packaged checkpoint, not a Hub id)"),
        "",
        *_data_section(recipe, report),
        *_training_section(recipe),
        *_evaluation_section(runs),
        *_usage_section(
            name,
            recipe.get("prompt_style", report.get("settings", {}).get("prompt_style")),
            chat_template_is_training_prompt,
        ),
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body))


def write_model_card(
    output_dir: str | Path,
    recipe: dict[str, Any],
    report: dict[str, Any],
    results: Results | list[Results] | None = None,
    *,
    chat_template_is_training_prompt: bool = False,
    license: str | None = None,
) -> Path:
    """Write ``README.md`` (:func:`build_model_card`) into ``output_dir``.

    Args:
        recipe, report: as :func:`build_model_card`.
        results: evaluation results to show; read from ``output_dir/eval_results.json``
            (:func:`read_eval_results`) when ``None``.
        chat_template_is_training_prompt, license: as :func:`build_model_card`.

    Returns:
        The card's path. The name is the recipe's ``hub_model_id``, else the folder's name.

    Raises:
        ValueError: an unreadable ``eval_results.json``.
    """
    output_dir = Path(output_dir)
    if results is None:
        runs = read_eval_results(output_dir)
    else:
        runs = [results] if isinstance(results, Results) else list(results)
    name = recipe.get("hub_model_id") or output_dir.resolve().name
    card = build_model_card(
        name,
        recipe,
        report,
        runs,
        chat_template_is_training_prompt=chat_template_is_training_prompt,
        license=license,
    )
    path = output_dir / "README.md"
    card.save(path)
    return path


def update_model_card(
    folder: str | Path, results: Results | dict[str, Any], *, chat_template_is_training_prompt: bool | None = None
) -> Path:
    """Add an evaluation run to an adapter folder written by ``hammer-train train``: append it to
    ``eval_results.json`` (a benchmark scored again leaves the older runs; runs left empty are
    dropped) and rewrite ``README.md`` from ``recipe.yaml``, ``data_report.json`` and those runs.

    ``chat_template_is_training_prompt`` as :func:`build_model_card`; ``None`` keeps what the
    folder's current card says (its :data:`CHAT_TEMPLATE_SENTENCE`).

    Raises:
        FileNotFoundError: ``folder`` has no ``recipe.yaml`` or ``data_report.json`` (not an
            output folder of ``hammer-train train``).
        ValueError: ``results`` is not a results dict, or ``eval_results.json`` is unreadable.
    """
    import yaml

    folder = Path(folder)
    recipe_path, report_path = folder / "recipe.yaml", folder / "data_report.json"
    for path in (recipe_path, report_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: the model card is updated only in a folder written by hammer-train train"
            )
    if chat_template_is_training_prompt is None:
        card = folder / "README.md"
        chat_template_is_training_prompt = card.is_file() and CHAT_TEMPLATE_SENTENCE in card.read_text("utf-8")
    new = results if isinstance(results, Results) else Results.from_dict(results, "evaluation results")
    runs = read_eval_results(folder)
    for run in runs:
        run.benchmarks = {n: b for n, b in run.benchmarks.items() if n not in new.benchmarks}
    runs = [run for run in runs if run.benchmarks] + [new]
    text = json.dumps([run.to_dict() for run in runs], indent=1, ensure_ascii=False, default=str)
    (folder / EVAL_RESULTS_FILE).write_text(text + "\n", encoding="utf-8")
    return write_model_card(
        folder,
        yaml.safe_load(recipe_path.read_text()),
        json.loads(report_path.read_text()),
        runs,
        chat_template_is_training_prompt=chat_template_is_training_prompt,
    )


def push_adapter(folder: str | Path, repo_id: str, private: bool = False) -> str:
    """Upload an output folder (adapter, tokenizer, card, recipe, report) to the Hub.

    The token comes from ``HF_TOKEN`` or the HF cache (``huggingface_hub`` resolves it); it is
    never read, printed or logged here. Checkpoints, ``merged/`` and a length curriculum's phase-1
    folder (``length-curriculum/``) are left out.

    Returns:
        The repo URL.
    """
    from huggingface_hub import HfApi

    api = HfApi()
    url = api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        ignore_patterns=[
            "checkpoint-*",
            "checkpoint-*/**",
            "merged/**",
            "runs/**",
            "wandb/**",
            "length-curriculum/**",
        ],
        commit_message="Upload adapter trained with hammer-train",
    )
    return str(url)
