"""Sweep the irrelevance share (and masking share): the checkout's form of ``hammer-train sweep``.

    python scripts/sweep.py recipes/smollm2-135m.yaml --irrelevance_ratio 0,0.05,0.1,0.2,0.3 \\
        [--masking_row_prob 0,0.67,1.0] [--benchmarks sealtool,bfcl_irrelevance --limit 50] \\
        [--sweep_dir outputs/sweep-NAME] [--launcher local|slurm|wandb] [--print_commands] [--collect_only] \\
        [--max_steps 100 ...]

The command lives in :mod:`hammer_train.cli.sweep`; the sweep itself in :mod:`hammer_train.sweep`.
"""

import sys

from hammer_train.cli.sweep import main


if __name__ == "__main__":
    sys.exit(main())
