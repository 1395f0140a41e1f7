"""Train a LoRA adapter from a recipe: the checkout's form of ``hammer-train train``.

    python scripts/train.py recipes/smollm2-135m.yaml [--learning_rate 1e-4 ...]
    accelerate launch --config_file accelerate_configs/multi_gpu.yaml scripts/train.py recipes/hammer7b.yaml

The command lives in :mod:`hammer_train.cli.train` (``hammer-train train --help`` lists every field).
"""

import sys

from hammer_train.cli.train import main


if __name__ == "__main__":
    sys.exit(main())
