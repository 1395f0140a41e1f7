"""``python -m hammer_train.cli COMMAND ...``, and so ``accelerate launch -m hammer_train.cli train RECIPE``."""

import sys

from hammer_train.cli import main


if __name__ == "__main__":
    sys.exit(main())
