"""Fixtures of the catalog tests: one real store built per session, the report written from it, the
live server on a free loopback port, and headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from catalog_store import build_store, serving
from damaged_versions import build_damaged_store
from mlops.catalog import write_report

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

    from mlops.catalog.server import CatalogServer

CHROMIUM = os.environ.get("MLOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def catalog_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two dataset versions and three models (two scikit-learn, one PyTorch), built once."""
    return build_store(str(tmp_path_factory.mktemp("catalog-store")))


@pytest.fixture(scope="session")
def roots(catalog_store: dict[str, str]) -> list[str]:
    return [catalog_store["datasets"], catalog_store["models"]]


@pytest.fixture(scope="session")
def report_path(roots: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store's report, written once with :func:`mlops.catalog.write_report`."""
    return Path(write_report(roots, str(tmp_path_factory.mktemp("report") / "catalog.html")))


@pytest.fixture(scope="session")
def live_server(roots: list[str]) -> Iterator[CatalogServer]:
    """The catalog server on 127.0.0.1 and a free port, in a thread, stopped after the session."""
    with serving(roots) as server:
        yield server


@pytest.fixture(scope="session")
def damaged_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A root with an intact version, a copy of its folder and four damaged versions, built once."""
    return build_damaged_store(str(tmp_path_factory.mktemp("damaged-store")))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian's package (Playwright's own browser download is not used)."""
    if shutil.which(CHROMIUM) is None and not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class PageLog:
    """What a page did that a test must see: console errors, requests, dialogs."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def outside(self, allowed: Callable[[str], bool]) -> list[str]:
        return [url for url in self.requests if not allowed(url)]


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[tuple[Page, PageLog]]:
    """A fresh page that records console errors, uncaught exceptions, requests and dialogs; a
    full-page screenshot goes to the test's tmp folder at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    log = PageLog()

    def on_console(message: Any) -> None:
        if message.type == "error":
            log.errors.append(message.text)

    def on_dialog(dialog: Any) -> None:
        log.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_request(request: Request) -> None:
        log.requests.append(request.url)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: log.errors.append(f"uncaught: {error}"))
    tab.on("dialog", on_dialog)
    tab.on("request", on_request)
    yield tab, log
    tab.screenshot(path=str(tmp_path / "final.png"), full_page=True)
    context.close()
