"""Synthesize function-calling data for your own tools, or lint existing data (``--verify_only``).

A thin shim over :mod:`hammer_train.cli.synthesize`; see its docstring and docs/synthesis.md.
"""

import sys

from hammer_train.cli.synthesize import main


if __name__ == "__main__":
    sys.exit(main())
