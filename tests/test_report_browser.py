"""The review report opens in headless Chromium: no console errors, no network requests, the
plot and thumbnails decode and show. Saves a full-page screenshot to look at."""

from __future__ import annotations

import shutil

import pytest

from deage.look import Look
from deage.render import render_clip
from deage.review.metrics import compute_metrics
from deage.review.report import write_report

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium); CI installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report(example_clip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    render = folder / "young.mp4"
    render_clip(example_clip, render, Look(editor="makeup", edit={"years": 20}, burn_in=True), frames=(0, 6))
    metrics = compute_metrics(render, identity_every=3)
    return write_report(folder / "young.review.html", metrics)


def test_report_loads_cleanly_and_shows_its_plots(chromium, report, artifacts_dir):
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")

    assert problems == []
    assert [u for u in requests if not u.startswith("data:")] == [report.as_uri()], "the page must load nothing else"
    images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
    assert images[0][0] == "metrics over time" and images[0][2] >= 800 and images[0][3] >= 1000
    assert len(images) >= 4 and all(done and w > 0 and h > 0 for _, done, w, h in images), images
    plot_box = page.locator("#plot").bounding_box()
    assert plot_box is not None and plot_box["width"] > 600 and plot_box["height"] > 600
    assert page.locator("#verdict").inner_text() in ("PASS", "FAIL")
    assert "makeup" in page.locator("#look").inner_text()
    shot = artifacts_dir / "review_report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    page.close()
