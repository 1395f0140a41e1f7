"""Sweep the irrelevance share (and masking share): one training + evaluation per grid point.

    python scripts/sweep.py recipes/smollm2-135m.yaml --irrelevance_ratio 0,0.05,0.1,0.2,0.3 \\
        [--masking_row_prob 0,0.67,1.0] [--benchmarks sealtool,bfcl_irrelevance --limit 50] \\
        [--sweep_dir outputs/sweep-NAME] [--print_commands] [--collect_only] [--max_steps 100 ...]

Points run one after another locally (each in a fresh process), or ``--print_commands`` prints one
``accelerate launch scripts/train.py ... && python scripts/evaluate.py ...`` line per point for a
scheduler. Finished points are skipped. The table and figure land in the sweep folder
(``results.csv``, ``results.md``, ``irrelevance_sweep.png``). See :mod:`hammer_train.sweep`.
"""

import sys

from hammer_train.sweep import main


if __name__ == "__main__":
    sys.exit(main())
