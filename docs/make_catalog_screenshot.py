"""Make docs/catalog-leaderboard.png (the README's picture of the catalog) and docs/catalog-compare.png
(the compare view, in docs/catalog.md) from the mixed-frameworks example.

    python examples/mixed_frameworks/run.py --out /tmp/mixed
    python docs/make_catalog_screenshot.py /tmp/mixed/catalog.html

Opens the report in Debian's headless Chromium (Playwright), shows the leaderboard sorted by the
best validation accuracy with the two best models' curves overlaid, then the compare view of the
three best models, and saves the PNGs (kept under 300 KB: 8-bit palette).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent / "catalog-leaderboard.png"
COMPARE = OUT.with_name("catalog-compare.png")


def main(report: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1700, "height": 900}, device_scale_factor=1)
        page.goto(report.resolve().as_uri() + "#/leaderboard")
        page.wait_for_selector("#board tbody tr")
        page.click('th[data-key="best:val_accuracy"]')
        for row in page.locator("#board tbody tr").all()[:2]:
            row.locator("input[type=checkbox]").check()
        page.select_option("#curves-metric", "val_loss")
        page.wait_for_function("document.querySelectorAll('#curves .mark-line path').length === 2")
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT), clip={"x": 0, "y": 0, "width": 1700, "height": 800})
        page.locator("#board tbody tr").nth(2).locator("input[type=checkbox]").check()
        page.click("#compare-selected")
        page.wait_for_function("document.querySelectorAll('.compare-curve svg').length > 0")
        page.wait_for_timeout(500)
        page.screenshot(path=str(COMPARE), full_page=True, clip={"x": 0, "y": 0, "width": 1700, "height": 1250})
        browser.close()
    for path in (OUT, COMPARE):
        Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)
        print(f"{path} ({path.stat().st_size // 1000} kB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
