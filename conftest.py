"""Session set-up shared by the unit tests (tests/) and the notebook tests (nbval over notebooks/).

`make test` runs one pytest session: nbval executes every notebook in the smoke profile first
(pyproject's testpaths put notebooks/ before tests/), then tests/test_notebooks.py checks what
those notebooks recorded, so no notebook runs twice. SMOKE=1 is what selects the smoke profile in
each notebook's parameters cell (the kernels nbval starts inherit this process's environment).
"""

import os
import time
from pathlib import Path

import pytest

NBVAL_RUN = {"start": time.time(), "notebooks": {}}  # notebook stem -> every cell passed


def pytest_configure(config):
    os.environ.setdefault("SMOKE", "1")


def pytest_runtest_logreport(report):
    """Remember which notebooks nbval ran in this session and whether all their cells passed."""
    path, _, cell = report.nodeid.partition("::")
    if path.endswith(".ipynb") and cell and report.when == "call":
        stem = Path(path).stem
        NBVAL_RUN["notebooks"][stem] = NBVAL_RUN["notebooks"].get(stem, True) and report.passed


@pytest.fixture(scope="session")
def nbval_run() -> dict:
    """{"start": session start (epoch seconds), "notebooks": {stem: all cells passed}} of what
    nbval executed in this session ({} notebooks when it ran none)."""
    return NBVAL_RUN


def pytest_collection_modifyitems(items):
    """nbval compares a `# NBVAL_CHECK_OUTPUT` cell with its committed output, but takes an output
    without an execution count for an unrun cell; nbstripout (the git filter) keeps the outputs of
    `keep_output` cells yet always strips their counts. Mark those references as run."""
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is not None and cell.get("metadata", {}).get("keep_output") and cell.get("outputs"):
            cell.execution_count = cell.execution_count or 1
