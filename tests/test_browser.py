"""The augmentation explorer in a real browser: JupyterLab + headless Chromium, as a student uses it.

The test starts JupyterLab on a free local port (on a copy of notebook 01, so autosave never
touches the committed notebook), opens the notebook in Debian's Chromium driven by Playwright,
runs all cells, moves two controls of the explorer and checks that the views it shows change and
that the browser console reports no widget or plotly error. A screenshot of the explorer after
the interaction is written to outputs/test-browser/explorer.png.

Needs /usr/bin/chromium (Debian's `chromium` package; `.ci/run` installs it) and the playwright
Python package (never `playwright install`: the browser is the system's). Without them the test
is skipped, unless REQUIRE_BROWSER=1 (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ssl_lib.lab.profiles import project_root

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
NOTEBOOK = "01_augmentations.ipynb"
TOKEN = "ssl-lib-browser-test"
SCREENSHOT = project_root() / "outputs" / "test-browser" / "explorer.png"
# Chromium flags for a closed network: no background requests, no sandbox (CI runs as root).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def _requirements() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def require_browser() -> None:
    """Skip when Chromium or Playwright is missing; fail instead under REQUIRE_BROWSER=1 (CI)."""
    missing = _requirements()
    if missing:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER is set but {missing}")
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of notebook 01; yields its base URL."""
    require_browser()
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(project_root() / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    port = _free_port()
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root",
         "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "SMOKE": "1"}, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {root / 'jupyterlab.log'}") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _view_sources(page) -> list[str]:
    """The PNG sources of the images the explorer's figure shows, in trace order."""
    return page.eval_on_selector_all(".widget-output .js-plotly-plot image",
                                     "els => els.map(e => e.getAttribute('href'))")


def _wait_for_change(page, before: list[str], timeout: float = 60) -> list[str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = _view_sources(page)
        if now and now != before:
            return now
        page.wait_for_timeout(250)
    raise AssertionError("the explorer's views did not change")


def test_explorer_reacts_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{lab}/lab/tree/{NOTEBOOK}?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        # The kernel named in the notebook is up when the toolbar shows it, idle.
        page.wait_for_selector(".jp-KernelName:has-text('ssl-lib')", timeout=90_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)

        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        page.wait_for_selector(".widget-output .js-plotly-plot image", state="attached", timeout=180_000)
        first = _view_sources(page)
        # Subplots are drawn row by row; columns: clean, view 1 (controls), view 2 (recipe).
        clean, view1 = first[0::3], first[1::3]
        assert clean == view1, "with identity settings view 1 should be the image itself"

        # Control 1: the brightness slider, through its editable readout.
        slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="brightness")).first
        readout = slider.locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("1.6")
        page.keyboard.press("Enter")
        moved = _wait_for_change(page, first)
        assert moved[0::3] == clean and moved[1::3] != view1, "brightness did not reach view 1"

        # Control 2: the image source dropdown.
        page.locator(".widget-dropdown", has=page.locator("label", has_text="images")).locator("select") \
            .select_option("synthetic")
        switched = _wait_for_change(page, moved)
        assert switched[0::3] != clean, "switching to the synthetic images did not change the clean column"

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.locator(".jp-OutputArea-output:has(.widget-output)").first.screenshot(path=str(SCREENSHOT))
        browser.close()

    errors = [m for m in problems if any(word in m.lower() for word in ("widget", "plotly", "ipywidgets"))]
    assert not errors, f"browser console errors: {errors}"


def test_the_html_report_opens_with_no_network_request(tmp_path):
    """A report page, opened from disk, requests nothing but its own folder's files."""
    require_browser()
    from playwright.sync_api import sync_playwright

    from ssl_lib.lab.html_report import write_report
    from tests.lab.test_html_report import executed_notebook

    executed = executed_notebook(tmp_path / "01_demo.ipynb")
    index = write_report(tmp_path, {"run": {"profile": "smoke", "notebooks": [
        {"notebook": "01_demo", "path": str(executed), "status": "ok", "seconds": 1.0}]}, "notebooks": {}})
    page_path = index.parent / "01_demo.html"
    assert page_path.is_file()
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        for target in (index, page_path):
            page.goto(target.as_uri(), wait_until="load", timeout=20_000)
        drawn = page.locator(".js-plotly-plot .main-svg").count()
        maths = page.locator("math").count()
        browser.close()
    outside = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert not outside, f"the report requested {outside}"
    assert drawn >= 1 and maths == 2
