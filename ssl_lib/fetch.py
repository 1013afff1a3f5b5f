"""``python -m ssl_lib.fetch`` (and ``ssl-fetch``): the real datasets a profile or a list names,
fetched into one folder (`ssl_lib.data.fetch`); one line per dataset: ok, fetched or manual.

    python -m ssl_lib.fetch --profile gpu --dry-run      # what the gpu profile reads, and its size
    python -m ssl_lib.fetch cifar10 dtd --root data      # named datasets
"""

from __future__ import annotations

import sys

from ssl_lib.data.fetch import FetchError, fetch
from ssl_lib.lab.profiles import get_profile
from ssl_lib.utils.cli import OneLineParser, print_error


def profile_datasets(profile: str) -> list[str]:
    """The real datasets a profile reads: its pretraining set (unless generated) and its downstream sets."""
    P = get_profile(profile)
    pretrain = [] if P.dataset == "synthetic" else [P.dataset]
    return list(dict.fromkeys(pretrain + list(P.eval.downstream)))


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m ssl_lib.fetch", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="datasets (e.g. cifar10 dtd); or --profile")
    parser.add_argument("--profile", help="fetch what this profile reads (e.g. gpu)")
    parser.add_argument("--root", default="data", help="folder the datasets go to (default data/)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be fetched and its size; fetch nothing")
    return parser


def main(argv=None) -> int:
    """Run the command; 0 on success, else one `error:` line and 2 (bad input) or 1 (a failed download)."""
    try:
        args = build_parser().parse_args(argv)
        names = list(args.names) + (profile_datasets(args.profile) if args.profile else [])
        if not names and args.profile:
            print(f"profile {args.profile} reads no real dataset (it generates its data): nothing to fetch")
            return 0
        if not names:
            raise ValueError("name datasets to fetch or give --profile")
        lines = [fetch(name, args.root, args.dry_run) for name in dict.fromkeys(names)]
    except (ValueError, FetchError, OSError) as error:  # OSError: a root that cannot be written
        return print_error(error, 2 if isinstance(error, ValueError) else 1)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
