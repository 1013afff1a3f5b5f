"""ssl_lib.utils.cli: parse errors become ValueErrors; an error prints as one line."""

import pytest

from ssl_lib.utils.cli import BAD_INPUT, OneLineParser, print_error


def test_a_parse_error_is_a_value_error_not_a_usage_block_and_exit():
    parser = OneLineParser(prog="x")
    parser.add_argument("--n", type=int)
    with pytest.raises(ValueError, match="argument --n: invalid int value: 'a'"):
        parser.parse_args(["--n", "a"])
    with pytest.raises(ValueError, match="unrecognized arguments: --m"):
        parser.parse_args(["--m"])


def test_print_error_writes_one_line_and_returns_the_status(capsys):
    assert print_error(ValueError("first\nsecond"), 2) == 2
    assert capsys.readouterr().err == "error: first second\n"
    assert print_error(KeyError(), 1) == 1 and capsys.readouterr().err == "error: KeyError\n"


def test_bad_input_covers_files_and_json():
    import json

    for error in (FileNotFoundError("f"), NotADirectoryError("d"), json.JSONDecodeError("m", "{", 1), TypeError("t")):
        assert isinstance(error, BAD_INPUT)


def test_a_full_disk_is_not_bad_input():
    import errno

    assert not isinstance(OSError(errno.ENOSPC, "No space left on device"), BAD_INPUT)
