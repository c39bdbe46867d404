"""Notebook 01 in a real browser: JupyterLab on 127.0.0.1, Debian's Chromium driven by Playwright.

It opens the notebook (a copy, so autosave can never touch the committed file), runs every cell,
moves the "years younger" slider as a person would (click the handle, arrow keys), and checks that
the preview picture changes (pixels of the element, not the blob URL) and that no widget shows an
error. A screenshot is saved to the artifacts folder.

Needs the ``chromium`` binary (``apt-get install chromium``; a Playwright browser download is not
possible here): skips with the reason when it is absent. JupyterLab runs from this test's Python
(the project's venv), with fresh config, data, workspace and settings folders.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "01_deage_a_shot.ipynb"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (apt-get install chromium); the browser test needs the system binary")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free port, serving a copy of notebooks/ beside a link to examples/."""
    pytest.importorskip("jupyterlab")
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / NOTEBOOK, root / "notebooks" / NOTEBOOK)
    (root / "examples").symlink_to(REPO / "examples", target_is_directory=True)  # how the notebook finds them
    home = {name: root / f".jupyter-{name}" for name in ("config", "data", "runtime", "workspaces", "settings")}
    for folder in home.values():
        folder.mkdir()
    settings = home["settings"] / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home["config"]), JUPYTER_DATA_DIR=str(home["data"]),
               JUPYTER_RUNTIME_DIR=str(home["runtime"]), DEAGE_NOTEBOOK_QUICK="1",
               DEAGE_NOTEBOOK_OUT=str(root / "out"), MPLBACKEND="Agg")
    log = open(root / "lab.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", "--allow-root", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={home['workspaces']}", f"--LabApp.user_settings_dir={home['settings']}",
         "--ServerApp.disable_check_xsrf=True"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {root / 'lab.log'}") from None
                time.sleep(0.3)
        yield url, root
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_the_kernel_is_this_venv(lab):
    """The default kernel runs on the server's interpreter (this venv): its spec names it, or names
    plain "python"/"python3", which jupyter_client replaces with the server's ``sys.executable``."""
    url, _ = lab
    with urllib.request.urlopen(f"{url}/api/kernelspecs", timeout=10) as response:
        specs = json.load(response)
    command = specs["kernelspecs"][specs["default"]]["spec"]["argv"][0]
    major, minor = sys.version_info[:2]
    assert command in ("python", f"python{major}", f"python{major}.{minor}") or \
        Path(command).resolve() == Path(sys.executable).resolve()


def test_notebook_01_runs_and_a_slider_redraws_the_preview(lab, artifacts_dir):
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = _chromium()
    url, root = lab
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            page.goto(f"{url}/lab/tree/notebooks/{NOTEBOOK}?reset", timeout=60_000)
            panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
            page.wait_for_selector(f"{panel} .jp-Notebook", timeout=60_000)
            _accept_kernel_dialog(page)
            page.wait_for_selector(f"{panel} .jp-Notebook .jp-Cell", timeout=30_000)
            # Run > Run All Cells
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            _accept_kernel_dialog(page)
            # the last cell prints the render's summary (and its provenance file): every cell ran
            page.wait_for_selector(f"{panel} .jp-RenderedText:has-text('provenance:')", timeout=150_000)
            preview = page.locator(f"{panel} .deage-preview").first
            preview.scroll_into_view_if_needed()
            page.wait_for_function(
                "s => { const i = document.querySelector(s); return i && i.naturalWidth > 0; }",
                arg=f"{panel} img.deage-preview", timeout=30_000)
            before = preview.screenshot()
            readout = page.locator(f"{panel} .deage-ctl-edit-years .widget-readout").first
            years_before = float(readout.inner_text())
            handle = page.locator(f"{panel} .deage-ctl-edit-years .noUi-handle").first
            handle.scroll_into_view_if_needed()
            handle.click()
            for _ in range(30):  # 30 steps of 0.1 years, as fast as a key repeats
                page.keyboard.press("ArrowRight")
            after = before
            deadline = time.monotonic() + 30
            while after == before and time.monotonic() < deadline:
                page.wait_for_timeout(300)
                after = preview.screenshot()
            page.screenshot(path=str(artifacts_dir / "studio_browser.png"), full_page=False)
            preview.screenshot(path=str(artifacts_dir / "studio_browser_preview.png"))
            status = page.locator(f"{panel} .deage-status").first.inner_text()
            years_after = float(readout.inner_text())
            errors = page.locator(f"{panel} :text('Error displaying widget')").count()
            assert years_after == pytest.approx(min(years_before + 3.0, 30.0)), "key presses were lost"
            assert after != before, f"the preview did not change after moving the slider; status: {status}"
            assert errors == 0, "a widget failed to display"
            assert page.locator(f"{panel} .deage-status-error").count() == 0, f"the studio reports an error: {status}"
            assert "preview" in status and "1 face edited" in status
            assert page.locator(f"{panel} .deage-key").count() >= 3  # the notebook's two keys + the slider's
            assert page.locator(f"{panel} video").count() >= 1  # the rendered clip's inline player
        finally:
            browser.close()


def _accept_kernel_dialog(page) -> None:
    """JupyterLab may ask which kernel to start: take its default (the venv's python3)."""
    try:
        page.wait_for_selector(".jp-Dialog .jp-mod-accept", timeout=3_000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: no dialog this time
        return
    page.click(".jp-Dialog .jp-mod-accept")
