"""``python -m ssl_lib.pretrain``: the pretraining command (`ssl_lib.train.cli`)."""

import sys

from ssl_lib.train.cli import main

if __name__ == "__main__":
    sys.exit(main())
