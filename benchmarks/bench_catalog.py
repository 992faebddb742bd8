"""How long `mlops report` takes for a root of 1,000 model versions (target: <= 5 s), and how the
leaderboard of that report responds in headless Chromium.

    python benchmarks/bench_catalog.py [--models 1000] [--repeats 5] [--store DIR] [--no-browser]

Publishes one dataset and --models model versions (each with four 20-epoch curves, four
hyperparameters and tags) through the public API into --store (default: a temporary folder; an
existing store there is reused), then writes the report --repeats times and prints the median,
min and max with the file's size. With Chromium at /usr/bin/chromium and Playwright installed it
also times opening the leaderboard, sorting it by a metric and turning a page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from catalog_store import build_many_models  # noqa: E402
from mlops.catalog import write_report  # noqa: E402

TARGET_SECONDS = 5.0
CHROMIUM = "/usr/bin/chromium"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--store", default=None, help="where to publish the versions (reused when present)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium timings")
    args = parser.parse_args()
    store = args.store or tempfile.mkdtemp(prefix="mlops-bench-catalog-")
    roots = [os.path.join(store, "datasets", "many"), os.path.join(store, "models", "many")]
    if not os.path.isdir(roots[1]):
        started = time.perf_counter()
        build_many_models(store, args.models)
        print(f"published {args.models} model versions in {time.perf_counter() - started:.1f} s under {store}")
    out = os.path.join(store, "catalog.html")
    seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        write_report(roots, out)
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    verdict = "PASS" if median <= TARGET_SECONDS else "FAIL"
    size = os.path.getsize(out) / 1e6
    print("| target | limit | median | min | max | size | verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| report of {args.models} models | {TARGET_SECONDS:.0f} s | {median:.2f} s | {min(seconds):.2f} s "
        f"| {max(seconds):.2f} s | {size:.1f} MB | {verdict} |"
    )
    if not args.no_browser and os.path.exists(CHROMIUM):
        browser_timings(Path(out))


def browser_timings(report: Path) -> None:
    """Seconds to open the leaderboard, sort it by a metric and turn a page, in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        started = time.perf_counter()
        page.goto(report.as_uri() + "#/leaderboard")
        page.wait_for_selector("#board tbody tr")
        opened = time.perf_counter() - started
        started = time.perf_counter()
        page.click('th[data-key="best:val_accuracy"]')
        sorted_in = time.perf_counter() - started
        started = time.perf_counter()
        page.click("#page-next")
        paged = time.perf_counter() - started
        browser.close()
    print(f"leaderboard in Chromium: open {opened:.2f} s, sort {sorted_in:.2f} s, next page {paged:.2f} s")


if __name__ == "__main__":
    main()
