"""A root of 1,000 model versions: the report stays small, and the leaderboard pages its rows.

The build time (<= 5 s) is measured by benchmarks/bench_catalog.py, not asserted here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from catalog_store import build_many_models
from mlops.catalog.data import build_catalog
from run_once import once_per_run

if TYPE_CHECKING:
    from conftest import PageLog
    from playwright.sync_api import Page

MODELS = 1000
PAGE_SIZE = 50


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One dataset and 1,000 model versions with curves, hyperparameters and tags (built once per
    run, whichever test workers run these tests)."""
    roots: dict[str, str] = once_per_run(
        tmp_path_factory, "many-models", lambda folder: build_many_models(str(folder), MODELS)
    )
    return roots


def _report(many: dict[str, str], folder: Path) -> tuple[str, int]:
    out = folder / "catalog.html"
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so it would count this (large) test process.
    code = (
        "import sys\n"
        "from mlops.cli import cli\n"
        "cli.main(sys.argv[1:], prog_name='mlops', standalone_mode=False)\n"
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "report", many["datasets"], many["models"], "-o", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    peak = int(done.stdout.split()[-1])  # kilobytes
    return str(out), peak * 1024


@pytest.fixture(scope="module")
def many_report(many: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The report of the 1,000 models written by `mlops report` in a child process, and that
    process's peak resident memory in bytes (once per run, as ``many``)."""
    out, peak = once_per_run(tmp_path_factory, "many-report", lambda folder: _report(many, folder))
    return Path(out), int(peak)


@pytest.mark.slow
def test_the_report_of_1000_models_is_bounded(many_report: tuple[Path, int]) -> None:
    path, peak_rss = many_report
    assert path.stat().st_size < 12_000_000
    assert peak_rss < 300 * 2**20  # about 90 MB measured
    html = path.read_text()
    assert html.count('<section data-route="model/') == MODELS
    assert html.count('<section data-route="compare/') == MODELS - 1  # each model against the one before


@pytest.mark.slow
def test_the_leaderboard_of_1000_models_is_paged(
    page: tuple[Page, PageLog], many: dict[str, str], many_report: tuple[Path, int]
) -> None:
    tab, log = page
    tab.goto(many_report[0].as_uri() + "#/leaderboard")
    tab.wait_for_selector("#board tbody tr")
    assert tab.locator("#board tbody tr").count() == PAGE_SIZE
    assert tab.inner_text("#page-info") == f"page 1 of {MODELS // PAGE_SIZE}"
    first_page = tab.locator("#board tbody tr").evaluate_all("rows => rows.map(r => r.dataset.model)")
    tab.click("#page-next")
    assert tab.inner_text("#page-info") == f"page 2 of {MODELS // PAGE_SIZE}"
    second_page = tab.locator("#board tbody tr").evaluate_all("rows => rows.map(r => r.dataset.model)")
    assert len(second_page) == PAGE_SIZE and not set(first_page) & set(second_page)

    catalog = build_catalog([many["models"]])
    best = max(catalog.models.values(), key=lambda m: m.best["val_accuracy"])
    tab.click('th[data-key="best:val_accuracy"]')  # higher is better: the first click puts the best first
    assert tab.inner_text("#page-info") == f"page 1 of {MODELS // PAGE_SIZE}"
    assert tab.locator("#board tbody tr").first.get_attribute("data-model") == best.id

    tab.select_option("#filter-tag", "best-so-far")
    tagged = [m for m in catalog.models.values() if "best-so-far" in m.meta.tags]
    assert tab.locator("#board tbody tr").count() == len(tagged) == 11
    assert tab.inner_text("#board-count") == f"11 of {MODELS} models"
    tab.wait_for_function("document.querySelectorAll('#parallel .mark-line path').length === 11")

    tab.evaluate("window.location.hash = '#/lineage'")
    tab.wait_for_selector("#lineage .mark-symbol.role-mark path")
    assert tab.locator("#lineage .mark-symbol.role-mark path").count() == 3  # raw, dataset, one group of models
    assert log.errors == [] and log.dialogs == []
    assert log.outside(lambda url: url.startswith(("file://", "data:"))) == []
