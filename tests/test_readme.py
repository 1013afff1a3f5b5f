"""The README's examples work as written: its Python blocks run, and every command it and the
docs show (`python -m ssl_lib...`, `torchrun ... -m ssl_lib.pretrain`, `make <target>`, `python
benchmarks/...`) names flags, targets and scripts that exist."""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


INLINE_COMMAND = r"`((?:python -m ssl_lib|make |torchrun |python benchmarks/|bash benchmarks/)[^`]*)`"
# The docs the README sends a reader to for the commands behind its numbers.
DOCS = sorted((ROOT / "docs").glob("*.md"))


def commands() -> list[str]:
    """Every command line of the bash blocks and every inline `python -m` / `make` code span of
    the README, then the inline ones of docs/*.md."""
    lines = [line.split("#")[0].strip() for block in code_blocks("bash") for line in block.splitlines()]
    inline = [c for text in [README] + [d.read_text() for d in DOCS] for c in re.findall(INLINE_COMMAND, text)]
    return [c for c in lines + inline if c]


def test_the_python_examples_run():
    blocks = code_blocks("python")
    assert blocks, "the README has no python example"
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)


def test_the_readme_shows_commands():
    found = commands()
    assert any(c.startswith("make reproduce") for c in found) and any(c.startswith("make test") for c in found)
    assert any("ssl_lib.pretrain" in c for c in found) and any("ssl_lib.reproduce" in c for c in found)


@pytest.mark.parametrize("command", commands())
def test_each_command_names_what_exists(command):
    from ssl_lib.lab import runner
    from ssl_lib.train import cli

    words = shlex.split(command)
    from ssl_lib import fetch

    parsers = {"ssl_lib.pretrain": cli.build_parser, "ssl_lib.reproduce": runner.build_parser,
               "ssl_lib.fetch": fetch.build_parser}
    if "-m" in words and words[words.index("-m") + 1] in parsers:
        module = words[words.index("-m") + 1]
        args = words[words.index("-m") + 2:]
        parsers[module]().parse_args(args)  # exits (SystemExit) on an unknown flag or a bad value
    elif words[0] == "make":
        makefile = (ROOT / "Makefile").read_text()
        for word in words[1:]:
            if "=" in word:
                variable = word.split("=")[0]
                assert re.search(rf"^{variable} \?=", makefile, flags=re.M), f"Makefile has no variable {variable}"
            else:
                assert re.search(rf"^{re.escape(word)}:", makefile, flags=re.M), f"Makefile has no target {word}"
    elif words[0] in ("python", "bash") and words[1].startswith("benchmarks/"):
        assert (ROOT / words[1]).is_file(), f"{words[1]} does not exist"
    else:
        pytest.fail(f"the test does not know how to check {command!r}")
