"""Train a LoRA adapter from a recipe.

    python scripts/train.py recipes/smollm2-135m.yaml [--learning_rate 1e-4 ...]
    accelerate launch --config_file accelerate_configs/multi_gpu.yaml scripts/train.py recipes/hammer7b.yaml

Every recipe key can be overridden on the command line (``--irrelevance_ratio 0.2``).
"""

import logging
import os
import sys

from hammer_train.config import RecipeError, parse_recipe
from hammer_train.train import train


def main(argv=None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        hammer_args, sft_config, model_config = parse_recipe(argv)
    except RecipeError as exc:
        print(f"recipe error: {exc}", file=sys.stderr)
        return 2
    out = train(hammer_args, sft_config, model_config)
    if os.environ.get("RANK", "0") == "0":  # one line, not one per process under accelerate launch
        print(f"adapter saved to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
