"""Export an adapter for serving: the checkout's form of ``hammer-train export``.

    python scripts/export.py outputs/smollm2-135m-hammer [--gguf q8_0]

The command lives in :mod:`hammer_train.cli.export` (``--help`` lists its options).
"""

import sys

from hammer_train.cli.export import main


if __name__ == "__main__":
    sys.exit(main())
