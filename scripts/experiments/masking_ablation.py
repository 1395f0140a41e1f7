"""Masking ablation: the same recipe trained without masking, with Hammer masking, and with
masking plus 10% irrelevance rows; each scored plain and with renamed tools.

    python scripts/experiments/masking_ablation.py [--recipe recipes/smollm2-135m.yaml] \\
        [--limit 20] [--benchmarks sealtool,sealtool_renamed,...] [--max_steps 30 ...]

See hammer_train/ablation.py; the table lands in outputs/sweep-<recipe>/masking_ablation.md.
"""

import sys

from hammer_train.ablation import main


if __name__ == "__main__":
    sys.exit(main())
