"""What every command line of the project shares: bad input ends in one ``error: ...`` line on
stderr and exit status 2, never a usage block or a traceback.

    parser = OneLineParser(description="...")
    try:
        args = parser.parse_args(argv)
        ...
    except BAD_INPUT as error:
        return print_error(error, 2)
"""

from __future__ import annotations

import argparse
import sys

#: What a command reports as bad input (exit 2): a value or type it cannot use, a file or folder it
#: cannot read (missing, a file where a folder belongs, not readable, not JSON: json's error is a
#: ValueError). Other OSErrors (a full disk while training) are a failed run: exit 1.
BAD_INPUT = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are ValueErrors (one line from `main`, not usage + exit)."""

    def error(self, message):
        raise ValueError(message)


def print_error(error: BaseException, status: int) -> int:
    """Print `error` as one ``error: ...`` line on stderr; returns `status` (the exit code)."""
    message = " ".join(str(error).splitlines()) or type(error).__name__
    print(f"error: {message}", file=sys.stderr)
    return status
