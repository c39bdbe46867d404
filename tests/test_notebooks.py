"""The three notebooks run top to bottom on the embedded defaults (nbclient, no browser).

Each runs with ``DEAGE_NOTEBOOK_QUICK=1`` (a half-second clip) and ``DEAGE_NOTEBOOK_OUT`` set to a
temporary folder, in the project's kernel (this test's interpreter). The committed notebooks
must carry no outputs. Beyond "no cell raised", each test checks what the notebook produced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOKS = REPO / "notebooks"
ALL = ("01_deage_a_shot.ipynb", "02_replace_a_face.ipynb", "03_review_a_render.ipynb")


def run_notebook(name: str, out: Path) -> nbformat.NotebookNode:
    """Execute notebook ``name`` (a copy in memory) with the quick settings; returns it with outputs."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    saved = {k: os.environ.get(k) for k in ("DEAGE_NOTEBOOK_QUICK", "DEAGE_NOTEBOOK_OUT")}
    os.environ.update(DEAGE_NOTEBOOK_QUICK="1", DEAGE_NOTEBOOK_OUT=str(out))
    try:
        client = NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": str(NOTEBOOKS)}})
        client.execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb


def text_of(nb: nbformat.NotebookNode) -> str:
    """Every stream and text/plain output, joined."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


def widget_views(nb: nbformat.NotebookNode) -> int:
    return sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("name", ALL)
def test_notebooks_are_committed_without_outputs(name):
    path = NOTEBOOKS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_01_deage_a_shot(tmp_path):
    nb = run_notebook("01_deage_a_shot.ipynb", tmp_path)
    text = text_of(nb)
    assert "track" in text and "frames without a face: none" in text  # the analysis summary
    assert widget_views(nb) >= 1  # the studio displayed
    look = json.loads((tmp_path / "young_shot.look.json").read_text())
    assert look["editor"] == "makeup" and [k[0] for k in look["keyframes"]["edit.years"]] == [0, 11]
    out = tmp_path / "example_young.mp4"
    assert out.is_file() and (tmp_path / "example_young.mp4.provenance.json").is_file()
    assert "12 faces edited" in text


def test_02_replace_a_face(tmp_path):
    from deage.edit.registry import EDITORS

    if "swap" not in EDITORS:
        pytest.skip("the swap editor is not registered in deage.edit.registry yet")
    nb = run_notebook("02_replace_a_face.ipynb", tmp_path)
    text = text_of(nb)
    assert widget_views(nb) >= 1
    outputs = list(tmp_path.glob("*swap*.mp4"))
    assert outputs and all((p.with_name(p.name + ".provenance.json")).is_file() for p in outputs)
    assert "faces edited" in text


def test_03_review_a_render(tmp_path):
    nb = run_notebook("03_review_a_render.ipynb", tmp_path)
    text = text_of(nb)
    assert "PASS" in text or "FAIL" in text
    assert widget_views(nb) >= 1  # the compare panel
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the metrics plot is not shown inline"
    assert (tmp_path / "review_young10.html").is_file()
