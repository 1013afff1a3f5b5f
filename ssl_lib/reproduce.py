"""``python -m ssl_lib.reproduce`` (and ``ssl-reproduce``): run the notebooks of a profile
(`ssl_lib.lab.runner`)."""

import sys

from ssl_lib.lab.runner import main

if __name__ == "__main__":
    sys.exit(main())
