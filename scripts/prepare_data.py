"""Build a recipe's training data and print its data report.

    python scripts/prepare_data.py recipes/smollm2-135m.yaml --report [--tokenize] [--save_rows rows.jsonl]

Without ``--tokenize`` no model is loaded: the report covers reading, drops by reason,
irrelevance mixing and masking. With ``--tokenize`` the recipe's tokenizer is loaded and the
report adds token-length percentiles, rows dropped as too long, and the padding share.
"""

import argparse
import json
import sys

from hammer_train.config import RecipeError, parse_recipe
from hammer_train.data import build_dataset


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", action="store_true", help="print the data report (JSON)")
    parser.add_argument("--tokenize", action="store_true", help="load the recipe's tokenizer and report token lengths")
    parser.add_argument("--save_rows", help="write the rendered prompt / completion rows (epoch 0) as JSON lines")
    own, rest = parser.parse_known_args(argv)
    try:
        hammer_args, sft_config, model_config = parse_recipe(rest)
    except RecipeError as exc:
        print(f"recipe error: {exc}", file=sys.stderr)
        return 2
    tokenizer = None
    if own.tokenize:
        from transformers import AutoTokenizer

        from hammer_train.modeling import resolve_model

        tokenizer = AutoTokenizer.from_pretrained(resolve_model(model_config.model_name_or_path))
    dataset, report = build_dataset(
        hammer_args,
        sft_config.seed,
        tokenizer=tokenizer,
        max_length=sft_config.max_length if tokenizer else None,
        batch_size=sft_config.per_device_train_batch_size,
        sampling_strategy=str(
            getattr(sft_config.train_sampling_strategy, "value", sft_config.train_sampling_strategy)
        ),
    )
    if own.save_rows:
        rows = dataset if tokenizer is None else build_dataset(hammer_args, sft_config.seed)[0]
        with open(own.save_rows, "w") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if own.report or not own.save_rows:
        print(report.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
