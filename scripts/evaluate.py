"""Evaluate a model (optionally with a LoRA adapter) on function-calling benchmarks, or merge
results: the checkout's form of ``hammer-train evaluate``.

    python scripts/evaluate.py MODEL [--adapter DIR] --benchmarks sealtool,apibank_l1,bfcl_simple [--limit N] ...
    python scripts/evaluate.py --merge a.json b.json ... [--labels base,lora] [--output table.md]

The command lives in :mod:`hammer_train.cli.evaluate`.
"""

import sys

from hammer_train.cli.evaluate import main


if __name__ == "__main__":
    sys.exit(main())
