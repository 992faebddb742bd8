"""The compare view, the leaderboard's sideways scrolling and column picker, and parallel coordinates
over models with different parameters, in headless Chromium.

The store holds five models of four frameworks (two scikit-learn, PyTorch, XGBoost, LightGBM),
each with its own set of training arguments, trained on two dataset versions. The compare view is
driven as a person would: tick the models on the leaderboard, press Compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from catalog_store import build_compare_store, serving
from mlops.catalog import write_report
from mlops.catalog.data import build_catalog, version_id

if TYPE_CHECKING:
    from conftest import PageLog
    from playwright.sync_api import Page

    from mlops.catalog.server import CatalogServer

MODELS = ("sgd-strong", "sgd-weak", "torch", "xgboost", "lightgbm")
Navigate = Callable[[str], None]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two dataset versions and five models of four frameworks, built once for this module."""
    return build_compare_store(str(tmp_path_factory.mktemp("compare-store")))


@pytest.fixture(scope="module")
def report(store: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    roots = [store["datasets"], store["models"]]
    return Path(write_report(roots, str(tmp_path_factory.mktemp("compare-report") / "catalog.html")))


@pytest.fixture(scope="module")
def server(store: dict[str, str]) -> Iterator[CatalogServer]:
    with serving([store["datasets"], store["models"]]) as running:
        yield running


def _report_navigator(tab: Page, report: Path) -> Navigate:
    tab.goto(report.as_uri())
    return lambda route: tab.evaluate("route => { window.location.hash = '#/' + route; }", route)


def _texts(tab: Page, selector: str) -> list[str]:
    texts: list[str] = tab.locator(selector).evaluate_all("nodes => nodes.map(n => n.textContent.trim())")
    return texts


def _compare_flow(tab: Page, log: PageLog, store: dict[str, str], open_view: Navigate) -> None:
    """Nothing picked: the view says how to pick. Five models ticked on the leaderboard: their
    parameters side by side with the differing ones highlighted, their metrics, one chart per
    metric with a line per model, their datasets as links. Two models: equal rows not highlighted."""
    open_view("compare")
    help_text = tab.locator("#compare-help")
    help_text.wait_for()
    assert "tick the models to compare" in help_text.inner_text()
    assert tab.locator("#compare-params").count() == 0
    assert tab.locator("#compare-a").input_value() == "" and tab.locator("#compare-b").input_value() == ""

    open_view("leaderboard")
    tab.wait_for_selector("#board tbody tr")
    assert tab.locator("#compare-selected").is_disabled()
    champion = tab.locator(f'#board tr[data-model="{version_id(store["xgboost"])}"] .alias')
    assert champion.all_inner_texts() == ["@challenger", "@champion"]
    assert tab.locator("#board tbody .alias").count() == 2
    ids = [version_id(store[role]) for role in MODELS]
    for model in ids:
        tab.check(f'#board tr[data-model="{model}"] input[type=checkbox]')
    assert tab.inner_text("#compare-selected") == "Compare 5 selected"
    tab.click("#compare-selected")
    tab.wait_for_selector("#compare-params")
    assert "compare?ids=" in tab.url and not help_text.is_visible()

    columns = tab.locator("#compare-params thead th[data-model]").evaluate_all("ths => ths.map(t => t.dataset.model)")
    assert sorted(columns) == sorted(ids)
    badges = tab.locator(f'#compare-params thead th[data-model="{version_id(store["xgboost"])}"] .alias')
    assert badges.all_inner_texts() == ["@challenger", "@champion"]
    assert tab.locator("#compare-params thead .alias").count() == 2
    frameworks = tab.locator('#compare-params tr[data-key="framework"] td')
    assert sorted(frameworks.all_inner_texts()) == ["lightgbm", "sklearn", "sklearn", "torch", "xgboost"]
    alpha = tab.locator('#compare-params tr[data-key="alpha"]')
    assert "differs" in (alpha.get_attribute("class") or "")
    assert alpha.locator("td.differs").count() == 5 and alpha.locator("td.missing").count() == 3
    assert sorted(alpha.locator("td:not(.missing)").all_inner_texts()) == ["0.0001", "0.1"]
    nested = tab.locator('#compare-params tr[data-key="sampling.min_child_samples"] td:not(.missing)')
    assert nested.all_inner_texts() == ["2"]  # a nested train arg is a row of its own
    highlighted = tab.locator("#compare-params td.differs")
    assert highlighted.first.evaluate("td => getComputedStyle(td).backgroundColor") != "rgba(0, 0, 0, 0)"

    metric_rows = tab.locator("#compare-metrics tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert sorted(metric_rows) == ["best:loss", "best:val_accuracy", "last:loss", "last:val_accuracy"]
    assert tab.locator('#compare-metrics tr[data-key="last:loss"] td.best').count() == 1

    charts = tab.locator(".compare-curve")
    assert sorted(charts.evaluate_all("divs => divs.map(d => d.dataset.metric)")) == ["loss", "val_accuracy"]
    for metric in ("loss", "val_accuracy"):
        paths = f'.compare-curve[data-metric="{metric}"] .mark-line path'
        tab.wait_for_function(f"document.querySelectorAll('{paths}').length === 5")
        legend = _texts(tab, f'.compare-curve[data-metric="{metric}"] .role-legend-label text')
        assert len(legend) == 5

    datasets = tab.locator("#compare-datasets li")
    assert datasets.count() == 2
    links = tab.locator("#compare-datasets li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert sorted(link.rsplit("/", 1)[-1] for link in links) == sorted(version_id(store[v]) for v in ("v1", "v2"))
    assert "points v1" in datasets.all_inner_texts()[0] + datasets.all_inner_texts()[1]

    open_view("leaderboard")  # back on the leaderboard (a new page load with `mlops ui`): still ticked
    tab.wait_for_selector("#board tbody tr")
    assert tab.locator("#board tbody input:checked").count() == 5
    assert tab.inner_text("#compare-selected") == "Compare 5 selected"

    open_view(f"compare?ids={ids[0]},{ids[1]},{'0' * 16}")  # the two scikit-learn models, and an unknown id
    tab.wait_for_function("document.querySelectorAll('#compare-params thead th[data-model]').length === 2")
    assert "1 of the versions asked for are not models of this catalog" in tab.inner_text("#compare-models")
    penalty = tab.locator('#compare-params tr[data-key="penalty"]')
    assert "same" in (penalty.get_attribute("class") or "") and penalty.locator("td.differs").count() == 0
    assert tab.locator('#compare-params tr[data-key="alpha"] td.differs').count() == 2
    tab.check("#compare-only-differing")
    assert not penalty.is_visible() and tab.locator('#compare-params tr[data-key="alpha"]').is_visible()
    assert log.errors == [] and log.dialogs == []


def test_report_compares_models_of_four_frameworks(
    page: tuple[Page, PageLog], report: Path, store: dict[str, str], tmp_path: Path
) -> None:
    tab, log = page
    _compare_flow(tab, log, store, _report_navigator(tab, report))
    tab.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    assert log.outside(lambda url: url.startswith(("file://", "data:"))) == []


def test_live_server_compares_models_of_four_frameworks(
    page: tuple[Page, PageLog], server: CatalogServer, store: dict[str, str]
) -> None:
    tab, log = page
    _compare_flow(tab, log, store, lambda route: tab.goto(server.url + route))
    assert log.outside(lambda url: url.startswith((server.url, "data:"))) == []


def test_leaderboard_scrolls_sideways_and_hides_columns(
    page: tuple[Page, PageLog], report: Path, tmp_path: Path
) -> None:
    """At 1280 px the table is wider than the page: it scrolls inside its container, every header
    cell lies within what scrolls, and the last column comes into view. A hidden column stays
    hidden after a reload."""
    tab, log = page
    assert tab.viewport_size == {"width": 1280, "height": 900}
    tab.goto(report.as_uri() + "#/leaderboard")
    tab.wait_for_selector("#board tbody tr")
    tab.screenshot(path=str(tmp_path / "leaderboard-1280.png"), full_page=True)
    box = tab.locator("#board-scroll")
    geometry = box.evaluate(
        """box => ({overflow: getComputedStyle(box).overflowX, scroll: box.scrollWidth, client: box.clientWidth,
                    page: document.documentElement.scrollWidth,
                    rights: Array.from(box.querySelectorAll('thead th')).map(th => th.offsetLeft + th.offsetWidth)})"""
    )
    assert geometry["overflow"] == "auto" and geometry["scroll"] > geometry["client"]
    assert geometry["page"] <= 1280  # the page itself does not scroll sideways: the table does
    assert max(geometry["rights"]) <= geometry["scroll"]
    last = tab.locator("#board thead th").last
    box.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    visible = last.evaluate(
        """th => { const c = th.closest('.table-scroll').getBoundingClientRect(), r = th.getBoundingClientRect();
                  return r.left >= c.left - 1 && r.right <= c.right + 1; }"""
    )
    assert visible, "the last column cannot be scrolled into view"

    headers = len(_texts(tab, "#board thead th"))
    tab.click("#column-picker summary")
    tab.uncheck('#column-list input[data-column="tags"]')
    assert tab.locator('#board th[data-key="tags"]').count() == 0
    assert len(_texts(tab, "#board thead th")) == headers - 1
    assert tab.locator("#board tbody tr").first.locator("td").count() == headers - 1
    assert tab.inner_text("#columns-hidden") == "(1 hidden)"
    tab.reload()
    tab.wait_for_selector("#board tbody tr")
    assert tab.locator('#board th[data-key="tags"]').count() == 0  # remembered by the browser
    tab.click("#column-picker summary")
    tab.click("#columns-all")
    assert tab.locator('#board th[data-key="tags"]').count() == 1
    assert log.errors == [] and log.dialogs == []


_VERTEX = re.compile(r"[ML]\s*(-?[\d.]+(?:e-?\d+)?)[ ,](-?[\d.]+(?:e-?\d+)?)")


def test_parallel_coordinates_draw_missing_parameters_at_n_a(
    page: tuple[Page, PageLog], report: Path, store: dict[str, str]
) -> None:
    """Each model is one unbroken line through every axis; where it lacks a parameter the line goes
    to that axis's own "n/a" tick, below the range, never to a made-up value."""
    tab, log = page
    tab.goto(report.as_uri() + "#/leaderboard")
    tab.wait_for_function("document.querySelectorAll('#parallel .mark-line path').length === 5")
    catalog = build_catalog([store["models"]], tensor_stats=False)
    params = {key for model in catalog.models.values() for key in model.meta.train_args}
    expected_missing = sorted(len(params) - len(model.meta.train_args) for model in catalog.models.values())
    assert "n/a" in tab.inner_text("#parallel-info")

    shapes = tab.locator("#parallel .mark-line path").evaluate_all("paths => paths.map(p => p.getAttribute('d'))")
    na_labels = tab.locator("#parallel .mark-text text", has_text="n/a").count()
    na_ticks = tab.locator('#parallel path[aria-roledescription="tick"]').evaluate_all(
        "ticks => ticks.map(t => t.getAttribute('d'))"
    )
    assert na_labels == len(na_ticks) == len(params)  # every parameter axis has a model without it
    na_ys = [float(_VERTEX.findall(tick)[0][1]) + 1 for tick in na_ticks]  # the middle of a 2 px tick
    na_y = na_ys[0]
    assert all(abs(y - na_y) < 0.5 for y in na_ys)
    missing_per_line = []
    for shape in shapes:
        assert shape.count("M") == 1, f"a broken line: {shape}"
        vertices = [(float(x), float(y)) for x, y in _VERTEX.findall(shape)]
        assert len(vertices) == len(params) + 1  # every parameter axis and the metric's
        missing_per_line.append(sum(abs(y - na_y) < 0.5 for _, y in vertices))
    assert sorted(missing_per_line) == expected_missing
    assert log.errors == [] and log.dialogs == []


def test_aliases_show_as_badges_and_in_the_lineage(
    page: tuple[Page, PageLog], report: Path, server: CatalogServer, store: dict[str, str]
) -> None:
    """The roots view, the version pages and the lineage graph show the aliases naming a version."""
    tab, log = page
    xgboost, v2 = version_id(store["xgboost"]), version_id(store["v2"])
    go = _report_navigator(tab, report)
    assert tab.locator(f'tr[data-version="{xgboost}"] .alias').all_inner_texts() == ["@challenger", "@champion"]
    assert tab.locator(f'tr[data-version="{v2}"] .alias').all_inner_texts() == ["@latest"]
    assert tab.locator("section[data-route=''] .alias").count() == 3
    go(f"model/{xgboost}")
    assert tab.locator("h1:visible .alias").all_inner_texts() == ["@challenger", "@champion"]
    go("lineage")
    tab.wait_for_selector("#lineage svg .mark-symbol.role-mark path")
    texts = _texts(tab, "#lineage .mark-text text")
    assert "@challenger @champion" in texts and "@latest" in texts
    tab.goto(f"{server.url}dataset/{v2}")
    assert tab.locator("main h1 .alias").all_inner_texts() == ["@latest"]
    tab.goto(f"{server.url}lineage")
    tab.wait_for_selector("#lineage svg .mark-symbol.role-mark path")
    assert "@latest" in _texts(tab, "#lineage .mark-text text")
    assert log.errors == [] and log.dialogs == []
