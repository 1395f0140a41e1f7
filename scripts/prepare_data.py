"""Build a recipe's training data and print its data report: the checkout's form of
``hammer-train prepare-data``.

    python scripts/prepare_data.py recipes/smollm2-135m.yaml --report [--tokenize] [--save_rows rows.jsonl]

The command lives in :mod:`hammer_train.cli.prepare_data`.
"""

import sys

from hammer_train.cli.prepare_data import main


if __name__ == "__main__":
    sys.exit(main())
