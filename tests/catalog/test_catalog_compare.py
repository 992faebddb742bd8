"""The compare view, the leaderboard's sideways scrolling and column picker, and parallel coordinates
over models with different parameters, in headless Chromium.

The store holds six models of five frameworks (two scikit-learn, PyTorch, XGBoost, LightGBM, Keras),
each with its own set of training arguments and per-epoch curves, trained on two dataset versions;
the Keras model's history is the ``History`` its ``fit`` returned, with two curves no other model
records. The compare view is driven as a person would: tick the models on the leaderboard, press
Compare; then five models, one per framework, are compared by their link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from catalog_store import build_compare_store, serving
from mlops.catalog import write_report
from mlops.catalog.data import build_catalog, version_id

if TYPE_CHECKING:
    from conftest import PageLog
    from playwright.sync_api import Page

    from mlops.catalog.server import CatalogServer

MODELS = ("sgd-strong", "sgd-weak", "torch", "xgboost", "lightgbm", "keras")
ONE_PER_FRAMEWORK = ("sgd-strong", "torch", "xgboost", "lightgbm", "keras")
Navigate = Callable[[str], None]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two dataset versions and six models of five frameworks, built once for this module (the
    Keras model costs the import of TensorFlow, a few seconds, once)."""
    return build_compare_store(str(tmp_path_factory.mktemp("compare-store")))


@pytest.fixture(scope="module")
def report(store: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    roots = [store["datasets"], store["models"]]
    return Path(write_report(roots, str(tmp_path_factory.mktemp("compare-report") / "catalog.html")))


@pytest.fixture(scope="module")
def server(store: dict[str, str]) -> Iterator[CatalogServer]:
    with serving([store["datasets"], store["models"]]) as running:
        yield running


_VERTEX = re.compile(r"[ML]\s*(-?[\d.]+(?:e-?\d+)?)[ ,](-?[\d.]+(?:e-?\d+)?)")


def _report_navigator(tab: Page, report: Path) -> Navigate:
    tab.goto(report.as_uri())
    return lambda route: tab.evaluate("route => { window.location.hash = '#/' + route; }", route)


def _texts(tab: Page, selector: str) -> list[str]:
    texts: list[str] = tab.locator(selector).evaluate_all("nodes => nodes.map(n => n.textContent.trim())")
    return texts


def _attributes(tab: Page, selector: str, name: str) -> list[str | None]:
    values: list[str | None] = tab.locator(selector).evaluate_all(
        "(nodes, name) => nodes.map(n => n.getAttribute(name))", name
    )
    return values


def _training(path: str) -> dict[str, Any]:
    training: dict[str, Any] = json.loads(Path(path, "meta.json").read_text())["training"]
    return training


def _board_cell(tab: Page, model: str, column: str) -> str:
    """The text of the leaderboard's cell of ``model`` in the column whose key is ``column``."""
    text: str = tab.evaluate(
        """([model, column]) => {
             const heads = Array.from(document.querySelectorAll('#board thead th'));
             const index = heads.findIndex(th => th.dataset.key === column);
             return document.querySelector(`#board tr[data-model="${model}"]`).children[index].textContent.trim(); }""",
        [model, column],
    )
    return text


def _compare_flow(tab: Page, log: PageLog, store: dict[str, str], open_view: Navigate) -> None:
    """Nothing picked: the view says how to pick. Six models of five frameworks ticked on the
    leaderboard: their parameters side by side with the differing ones highlighted (the Keras
    model's own ones too), their metrics, one chart per metric with a line per model recording it,
    their datasets as links. Five models, one per framework, by their link. Two models: equal rows
    not highlighted."""
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
    keras = version_id(store["keras"])
    assert _board_cell(tab, keras, "framework") == "keras"  # its own parameters are columns; the others' are empty
    assert _board_cell(tab, keras, "param:units") == "8" and _board_cell(tab, keras, "param:optimizer") == "adam"
    assert _board_cell(tab, keras, "param:alpha") == "" and _board_cell(tab, ids[0], "param:units") == ""
    for model in ids:
        tab.check(f'#board tr[data-model="{model}"] input[type=checkbox]')
    assert tab.inner_text("#compare-selected") == "Compare 6 selected"
    tab.click("#compare-selected")
    tab.wait_for_selector("#compare-params")
    assert "compare?ids=" in tab.url and not help_text.is_visible()

    columns = tab.locator("#compare-params thead th[data-model]").evaluate_all("ths => ths.map(t => t.dataset.model)")
    assert sorted(columns) == sorted(ids)
    badges = tab.locator(f'#compare-params thead th[data-model="{version_id(store["xgboost"])}"] .alias')
    assert badges.all_inner_texts() == ["@challenger", "@champion"]
    assert tab.locator("#compare-params thead .alias").count() == 2
    keras_head = tab.locator(f'#compare-params thead th[data-model="{keras}"]')
    assert keras_head.locator(".muted").inner_text() == "keras"
    keras_label = keras_head.locator("a").inner_text()
    frameworks = tab.locator('#compare-params tr[data-key="framework"] td')
    assert sorted(frameworks.all_inner_texts()) == ["keras", "lightgbm", "sklearn", "sklearn", "torch", "xgboost"]
    alpha = tab.locator('#compare-params tr[data-key="alpha"]')
    assert "differs" in (alpha.get_attribute("class") or "")
    assert alpha.locator("td.differs").count() == 6 and alpha.locator("td.missing").count() == 4
    assert sorted(alpha.locator("td:not(.missing)").all_inner_texts()) == ["0.0001", "0.1"]
    nested = tab.locator('#compare-params tr[data-key="sampling.min_child_samples"] td:not(.missing)')
    assert nested.all_inner_texts() == ["2"]  # a nested train arg is a row of its own
    training = _training(store["keras"])
    assert set(training["train_args"]) == {"units", "activation", "optimizer", "learning_rate", "epochs", "batch_size"}
    for key, value in training["train_args"].items():  # each Keras argument: a highlighted row, its value in its column
        row = tab.locator(f'#compare-params tr[data-key="{key}"]')
        assert "differs" in (row.get_attribute("class") or "") and row.locator("td.differs").count() == 6, key
        assert row.locator(f'td[data-model="{keras}"]').inner_text() == str(value)
    for key in ("units", "activation", "optimizer", "batch_size"):  # the Keras model's alone
        assert tab.locator(f'#compare-params tr[data-key="{key}"] td.missing').count() == 5
    learning_rates = tab.locator('#compare-params tr[data-key="learning_rate"] td:not(.missing)').all_inner_texts()
    assert sorted(learning_rates, key=float) == ["0.02", "0.05", "0.1", "0.3"]  # Keras, PyTorch, LightGBM, XGBoost
    epochs = tab.locator('#compare-params tr[data-key="epochs"] td:not(.missing)').all_inner_texts()
    assert sorted(epochs, key=int) == ["6", "8", "8", "12"]  # Keras, scikit-learn twice, PyTorch
    highlighted = tab.locator("#compare-params td.differs")
    assert highlighted.first.evaluate("td => getComputedStyle(td).backgroundColor") != "rgba(0, 0, 0, 0)"
    units = tab.locator(f'#compare-params tr[data-key="units"] td[data-model="{keras}"]')
    assert units.evaluate("td => getComputedStyle(td).backgroundColor") != "rgba(0, 0, 0, 0)"

    metric_rows = tab.locator("#compare-metrics tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    keras_metrics = ("accuracy", "loss", "val_accuracy", "val_loss")  # what its fit logged: two curves are its own
    assert sorted(metric_rows) == sorted(f"{which}:{metric}" for which in ("best", "last") for metric in keras_metrics)
    assert tab.locator('#compare-metrics tr[data-key="last:loss"] td.best').count() == 1
    history = training["history"]

    def keras_metric(key: str) -> float:
        return float(tab.locator(f'#compare-metrics tr[data-key="{key}"] td[data-model="{keras}"]').inner_text())

    assert keras_metric("last:loss") == pytest.approx(history["loss"][-1], rel=1e-4)
    assert keras_metric("best:loss") == pytest.approx(min(history["loss"]), rel=1e-4)
    assert keras_metric("best:val_accuracy") == pytest.approx(max(history["val_accuracy"]), rel=1e-4)
    assert keras_metric("last:accuracy") == pytest.approx(history["accuracy"][-1], rel=1e-4)
    only_keras = tab.locator('#compare-metrics tr[data-key="last:accuracy"]')
    assert only_keras.locator("td.missing").count() == 5 and only_keras.locator("td.best").count() == 0

    charts = tab.locator(".compare-curve")
    assert sorted(charts.evaluate_all("divs => divs.map(d => d.dataset.metric)")) == list(keras_metrics)
    for metric in keras_metrics:
        chart = f'.compare-curve[data-metric="{metric}"]'
        lines = 6 if metric in ("loss", "val_accuracy") else 1  # every model's, or the Keras model's alone
        tab.wait_for_function(f"document.querySelectorAll('{chart} .mark-line path').length === {lines}")
        legend = _texts(tab, f"{chart} .role-legend-label text")
        assert len(legend) == 6 and keras_label in legend  # every version, in the same colour in every chart
        colours = _attributes(tab, f"{chart} .role-legend-symbol path", "fill")
        shapes = tab.locator(f"{chart} .mark-line path").evaluate_all(
            "ps => ps.map(p => [p.getAttribute('aria-label'), p.getAttribute('stroke'), p.getAttribute('d')])"
        )
        keras_lines = [(stroke, d) for aria, stroke, d in shapes if aria.endswith(f"version: {keras_label}")]
        assert len(keras_lines) == 1, f"no Keras curve of {metric}"
        stroke, d = keras_lines[0]
        assert stroke == colours[legend.index(keras_label)] and len(_VERTEX.findall(d)) == len(history[metric])

    datasets = tab.locator("#compare-datasets li")
    assert datasets.count() == 2
    links = tab.locator("#compare-datasets li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert sorted(link.rsplit("/", 1)[-1] for link in links) == sorted(version_id(store[v]) for v in ("v1", "v2"))
    assert "points v1" in datasets.all_inner_texts()[0] + datasets.all_inner_texts()[1]
    v1, v2 = version_id(store["v1"]), version_id(store["v2"])
    assert keras_label in tab.inner_text(f'#compare-datasets li[data-dataset="{v1}"]')  # "trained on it: ..."
    assert keras_label not in tab.inner_text(f'#compare-datasets li[data-dataset="{v2}"]')
    keras_dataset = tab.locator(f'#compare-params tr[data-key="dataset"] td[data-model="{keras}"] a')
    assert (keras_dataset.get_attribute("href") or "").endswith(v1) and keras_dataset.inner_text() == "points v1"

    open_view("leaderboard")  # back on the leaderboard (a new page load with `mlops ui`): still ticked
    tab.wait_for_selector("#board tbody tr")
    assert tab.locator("#board tbody input:checked").count() == 6
    assert tab.inner_text("#compare-selected") == "Compare 6 selected"

    five = [version_id(store[role]) for role in ONE_PER_FRAMEWORK]  # five models of five frameworks
    open_view("compare?ids=" + ",".join(five))
    tab.wait_for_function("document.querySelectorAll('#compare-params thead th[data-model]').length === 5")
    assert sorted(frameworks.all_inner_texts()) == ["keras", "lightgbm", "sklearn", "torch", "xgboost"]
    assert tab.locator('#compare-params tr[data-key="units"] td.missing').count() == 4
    tab.wait_for_function("document.querySelectorAll('.compare-curve[data-metric=loss] .mark-line path').length === 5")
    assert len(_texts(tab, '.compare-curve[data-metric="val_loss"] .role-legend-label text')) == 5

    open_view(f"compare?ids={ids[0]},{ids[1]},{'0' * 16}")  # the two scikit-learn models, and an unknown id
    tab.wait_for_function("document.querySelectorAll('#compare-params thead th[data-model]').length === 2")
    assert "1 of the versions asked for are not models of this catalog" in tab.inner_text("#compare-models")
    penalty = tab.locator('#compare-params tr[data-key="penalty"]')
    assert "same" in (penalty.get_attribute("class") or "") and penalty.locator("td.differs").count() == 0
    assert tab.locator('#compare-params tr[data-key="alpha"] td.differs').count() == 2
    tab.check("#compare-only-differing")
    assert not penalty.is_visible() and tab.locator('#compare-params tr[data-key="alpha"]').is_visible()
    assert log.errors == [] and log.dialogs == []


def test_report_compares_models_of_five_frameworks(
    page: tuple[Page, PageLog], report: Path, store: dict[str, str], tmp_path: Path
) -> None:
    tab, log = page
    _compare_flow(tab, log, store, _report_navigator(tab, report))
    tab.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    assert log.outside(lambda url: url.startswith(("file://", "data:"))) == []


def test_live_server_compares_models_of_five_frameworks(
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


def test_parallel_coordinates_draw_missing_parameters_at_n_a(
    page: tuple[Page, PageLog], report: Path, store: dict[str, str]
) -> None:
    """Each model is one unbroken line through every axis; where it lacks a parameter the line goes
    to that axis's own "n/a" tick, below the range, never to a made-up value. The Keras model's own
    arguments are axes too, its text ones (activation, optimizer) with their values as ticks."""
    tab, log = page
    tab.goto(report.as_uri() + "#/leaderboard")
    tab.wait_for_function("document.querySelectorAll('#parallel .mark-line path').length === 6")
    catalog = build_catalog([store["models"]], tensor_stats=False)
    params = {key for model in catalog.models.values() for key in model.meta.train_args}
    expected_missing = sorted(len(params) - len(model.meta.train_args) for model in catalog.models.values())
    assert "n/a" in tab.inner_text("#parallel-info") and tab.inner_text("#parallel-info").startswith("6 models")
    keras_args = _training(store["keras"])["train_args"]
    assert set(keras_args) <= set(_texts(tab, "#parallel .role-axis-label text"))
    assert {keras_args["activation"], keras_args["optimizer"]} <= set(_texts(tab, "#parallel .mark-text text"))

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
