"""The catalog in a real browser (headless Chromium): the report from file:// and the live server.

Each test drives the page as a person would (sorting, filtering, ticking models, following links),
and fails on any console error, any dialog (an injected script) and any request that leaves the
report file or the local server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from catalog_store import XSS_TAG, serving
from damaged_versions import XSS_FOLDER
from mlops.catalog import write_report
from mlops.catalog.data import version_id

if TYPE_CHECKING:
    from conftest import PageLog
    from playwright.sync_api import Page

    from mlops.catalog.server import CatalogServer

Navigate = Callable[[str], None]


def _history(path: str) -> dict[str, list[float]]:
    history: dict[str, list[float]] = json.loads(Path(path, "meta.json").read_text())["training"]["history"]
    return history


def _row_ids(page: Page) -> list[str]:
    ids: list[str] = page.locator("#board tbody tr").evaluate_all("rows => rows.map(r => r.dataset.model)")
    return ids


def _leaderboard_flow(page: Page, log: PageLog, store: dict[str, str], open_view: Navigate, shots: Path) -> None:
    """Sort by a metric, filter by tag, overlay two curves, follow a link to a model page."""
    open_view("leaderboard")
    page.wait_for_selector("#board tbody tr")
    assert page.locator("#board tbody tr").count() == 3
    roles = ["sgd-strong", "sgd-weak", "torch"]
    last_loss = {version_id(store[r]): _history(store[r])["loss"][-1] for r in roles}

    page.click('th[data-key="last:loss"]')  # a loss: the first click puts the lowest first
    assert _row_ids(page) == sorted(last_loss, key=last_loss.__getitem__)
    assert page.get_attribute('th[data-key="last:loss"]', "data-sort") == "asc"
    page.click('th[data-key="last:loss"]')
    assert _row_ids(page) == sorted(last_loss, key=last_loss.__getitem__, reverse=True)
    page.screenshot(path=str(shots / "sorted.png"), full_page=True)

    page.select_option("#filter-tag", XSS_TAG)
    assert _row_ids(page) == [version_id(store["sgd-weak"])]
    injected = page.locator("#board tbody .tag", has_text=XSS_TAG)
    assert injected.is_visible() and injected.inner_text() == XSS_TAG
    assert page.locator("main img").count() == 0
    page.select_option("#filter-tag", "")
    page.select_option("#filter-framework", "torch")
    assert _row_ids(page) == [version_id(store["torch"])]
    page.select_option("#filter-framework", "")
    page.select_option("#filter-dataset", "points v1")
    assert _row_ids(page) == [version_id(store["sgd-strong"])]
    page.select_option("#filter-dataset", "")

    for role in ("sgd-strong", "torch"):
        page.check(f'#board tr[data-model="{version_id(store[role])}"] input[type=checkbox]')
    page.select_option("#curves-metric", "val_accuracy")
    page.wait_for_function("document.querySelectorAll('#curves .mark-line path').length === 2")
    legend = page.locator("#curves .role-legend-label text").evaluate_all("texts => texts.map(t => t.textContent)")
    assert len(legend) == 2 and any("torch" in text for text in legend)
    page.wait_for_function("document.querySelectorAll('#parallel .mark-line path').length === 3")
    page.screenshot(path=str(shots / "curves.png"), full_page=True)

    model = version_id(store["torch"])
    page.click(f'#board tr[data-model="{model}"] a')
    page.wait_for_selector(f'.model-curves[data-model="{model}"] svg')
    heading = page.locator("h1:visible")
    assert heading.inner_text().startswith("model points")
    assert page.locator("h2:visible", has_text="Training arguments").count() == 1
    page.screenshot(path=str(shots / "model.png"), full_page=True)
    assert log.errors == [] and log.dialogs == []


def _report_navigator(page: Page, report: Path) -> Navigate:
    page.goto(report.as_uri())
    return lambda route: page.evaluate("route => { window.location.hash = '#/' + route; }", route)


def test_report_leaderboard_in_the_browser(
    page: tuple[Page, PageLog], report_path: Path, catalog_store: dict[str, str], tmp_path: Path
) -> None:
    tab, log = page
    _leaderboard_flow(tab, log, catalog_store, _report_navigator(tab, report_path), tmp_path)
    assert tab.url.startswith(report_path.as_uri() + "#/model/")
    assert log.outside(lambda url: url.startswith(("file://", "data:"))) == []


def test_live_server_leaderboard_in_the_browser(
    page: tuple[Page, PageLog], live_server: CatalogServer, catalog_store: dict[str, str], tmp_path: Path
) -> None:
    tab, log = page

    def open_view(route: str) -> None:
        tab.goto(live_server.url + route)

    _leaderboard_flow(tab, log, catalog_store, open_view, tmp_path)
    assert tab.url == f"{live_server.url}model/{version_id(catalog_store['torch'])}"
    assert log.outside(lambda url: url.startswith((live_server.url, "data:"))) == []


def test_report_dataset_lineage_and_compare_views(
    page: tuple[Page, PageLog], report_path: Path, catalog_store: dict[str, str], tmp_path: Path
) -> None:
    tab, log = page
    go = _report_navigator(tab, report_path)
    v1, v2 = version_id(catalog_store["v1"]), version_id(catalog_store["v2"])

    go(f"dataset/{v1}")
    section = tab.locator(f'section[data-route="dataset/{v1}"]')
    assert section.is_visible() and section.get_by_role("cell", name="X_train", exact=True).count() == 1
    assert "raw/extra/deep/blob.bin" in section.inner_text()

    go("lineage")
    tab.wait_for_selector("#lineage svg .mark-symbol.role-mark path")
    symbols = tab.locator("#lineage .mark-symbol.role-mark path")
    assert symbols.count() == 2 + 2 + 3  # raw folders, dataset versions, models
    tab.screenshot(path=str(tmp_path / "lineage.png"), full_page=True)
    symbols.nth(symbols.count() - 1).click()  # the last node drawn is a model
    tab.wait_for_function("window.location.hash.startsWith('#/model/')")
    models = {version_id(catalog_store[r]) for r in ("sgd-strong", "sgd-weak", "torch")}
    assert tab.url.rsplit("/", 1)[-1] in models

    go("compare")
    tab.select_option("#compare-a", v1)
    tab.select_option("#compare-b", v2)
    tab.click("#compare-form button[type=submit]")
    shown = tab.locator(f'section[data-route="compare/{v1}/{v2}"]')
    shown.wait_for()
    assert "content differs" in shown.inner_text() and "X_train" in shown.inner_text()
    assert shown.locator(".tag.added", has_text=XSS_TAG).is_visible()
    go("compare")
    tab.select_option("#compare-a", v2)
    tab.select_option("#compare-b", v1)  # only each version against its predecessor is in a report
    tab.click("#compare-form button[type=submit]")
    tab.locator('section[data-route="missing"]').wait_for()
    assert log.errors == [] and log.dialogs == []
    assert log.outside(lambda url: url.startswith(("file://", "data:"))) == []


def test_live_server_compares_any_two_versions(
    page: tuple[Page, PageLog], live_server: CatalogServer, catalog_store: dict[str, str]
) -> None:
    tab, log = page
    a, b = version_id(catalog_store["torch"]), version_id(catalog_store["sgd-strong"])
    tab.goto(live_server.url + "compare")
    tab.select_option("#compare-a", a)
    tab.select_option("#compare-b", b)
    tab.click("#compare-form button[type=submit]")
    tab.wait_for_url(f"{live_server.url}compare?a={a}&b={b}")
    assert tab.locator("h2", has_text="Final metrics").is_visible()
    assert "torch" in tab.locator("main").inner_text() and "sklearn" in tab.locator("main").inner_text()
    tab.goto(live_server.url + "lineage")
    tab.wait_for_selector("#lineage svg .mark-symbol.role-mark path")
    assert log.errors == [] and log.dialogs == []
    assert log.outside(lambda url: url.startswith((live_server.url, "data:"))) == []


@pytest.mark.parametrize("route", ["", "leaderboard", "lineage", "compare"])
def test_report_views_render_without_console_errors(page: tuple[Page, PageLog], report_path: Path, route: str) -> None:
    tab, log = page
    tab.goto(report_path.as_uri() + "#/" + route)
    tab.wait_for_load_state("load")
    tab.wait_for_timeout(300)  # charts draw asynchronously
    assert tab.locator(f'section[data-route="{route}"]').is_visible()
    assert log.errors == [] and log.dialogs == []


def test_live_server_pages_render_without_console_errors(
    page: tuple[Page, PageLog], live_server: CatalogServer, catalog_store: dict[str, str], tmp_path: Path
) -> None:
    tab, log = page
    v1 = version_id(catalog_store["v1"])
    for route in ["", f"dataset/{v1}", "lineage", "compare"]:
        tab.goto(live_server.url + route)
        tab.wait_for_load_state("load")
        assert tab.locator("main h1").count() == 1, route
    tab.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    tab.goto(live_server.url + "leaderboard?dataset=points%20v1")  # where a lineage group node leads
    tab.wait_for_selector("#board tbody tr")
    assert _row_ids(tab) == [version_id(catalog_store["sgd-strong"])]
    assert tab.input_value("#filter-dataset") == "points v1"
    assert log.errors == [] and log.dialogs == []
    assert log.outside(lambda url: url.startswith((live_server.url, "data:"))) == []


def _damaged_rows_shown(tab: Page, log: PageLog, store: dict[str, str]) -> None:
    """The roots view lists each damaged version as a row marked damaged, with its reason as text."""
    rows = tab.locator("tr.damaged")
    assert rows.count() == 4 and all(rows.nth(i).is_visible() for i in range(4))
    assert tab.locator("tr.damaged .flag.damaged:visible").count() == 4
    reasons = {
        rows.nth(i).locator("td.path").inner_text(): rows.nth(i).locator(".reason").inner_text() for i in range(4)
    }
    assert sorted(reasons) == sorted(["truncated", "missing", "unknown", XSS_FOLDER])
    assert "is not valid JSON" in reasons[XSS_FOLDER] and XSS_FOLDER in reasons[XSS_FOLDER]
    assert "schema 99 is not one this mlops reads" in reasons["unknown"]
    assert "does not match the sha256 recorded in meta.json" in reasons["truncated"]
    copied = tab.locator(f'tr[data-version="{version_id(store["v1-copy"])}"]')
    assert copied.locator(".flag.moved").inner_text() == "holds version v1"
    assert tab.locator("main img").count() == 0
    assert log.errors == [] and log.dialogs == []


def test_report_shows_damaged_versions_as_damaged_rows(
    page: tuple[Page, PageLog], damaged_store: dict[str, str], tmp_path: Path
) -> None:
    tab, log = page
    report = Path(write_report([damaged_store["root"]], str(tmp_path / "damaged.html"), tensor_stats=False))
    tab.goto(report.as_uri())
    _damaged_rows_shown(tab, log, damaged_store)
    assert log.outside(lambda url: url.startswith(("file://", "data:"))) == []


def test_live_server_shows_damaged_versions_as_damaged_rows(
    page: tuple[Page, PageLog], damaged_store: dict[str, str]
) -> None:
    tab, log = page
    with serving([damaged_store["root"]], tensor_stats=False) as server:
        tab.goto(server.url)
        _damaged_rows_shown(tab, log, damaged_store)
        tab.goto(f"{server.url}dataset/{version_id(damaged_store['v1-copy'])}")
        assert tab.locator("main h1").inner_text() == "dataset damaged v1 (folder v1-copy)"
        assert log.outside(lambda url: url.startswith((server.url, "data:"))) == []
