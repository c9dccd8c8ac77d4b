"""The browse page in real headless Chromium (Debian's `chromium`, driven by Playwright):
a demo-like site (tests/api/browse_site.py) served over HTTP, one browser per session, a
fresh context (empty session storage) per test. Chromium missing is a failure, not a skip."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from tests.api.browse_site import Site, build_site
from tests.api.conftest import serving

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browse")
    site = build_site(root, f"sqlite:///{root / 'catalog.sqlite'}")
    with serving(create_app(site.catalog, site.store)) as url:
        site.url = url
        yield site
    site.catalog.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site: Site):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()
    assert errors == [], errors


def open_browse(page, site: Site, query: str = "") -> None:
    page.goto(f"{site.url}browse{query}")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    page.wait_for_function("document.querySelector('#matched').textContent.length > 0"
                           " && !document.querySelector('#matched').textContent.includes('…')")  # fmt: skip


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1500)  # let tiles arrive
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    from PIL import Image  # a 64-colour palette keeps the committed PNGs small

    with Image.open(path) as image:
        image.convert("RGB").quantize(64).save(path, optimize=True)
