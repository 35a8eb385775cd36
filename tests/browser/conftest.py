"""Real-browser fixtures: JupyterLab on a free loopback port, Debian's Chromium via playwright.

Chromium is ``/usr/bin/chromium`` (``make test`` installs Debian's package when it is
missing); playwright never downloads a browser. Screenshots go to
``artifacts/browser/`` (or ``$NPUKERNEL_SCREENSHOTS``) for a person to look at.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.notebook.lab_server import jupyter

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("NPUKERNEL_SCREENSHOTS", REPO / "artifacts" / "browser"))


def pytest_collection_modifyitems(config, items):
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (make test installs Debian's chromium)"
    else:
        try:
            import npukernel_lab  # noqa: F401
            import playwright  # noqa: F401
        except ImportError as exc:
            reason = f"{exc.name} is not installed (make test installs it)"
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("jupyter"))  # one at a time: 2 cores
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """JupyterLab serving a scratch copy of tutorials/ (saving never touches the repo)."""
    root = tmp_path_factory.mktemp("lab-root")
    for nb in (REPO / "tutorials").glob("*.ipynb"):
        shutil.copy(nb, root / nb.name)
    state = tmp_path_factory.mktemp("lab-state")
    with jupyter(root, state, app="lab", startup_s=120) as server:
        server.root = root
        yield server


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()
