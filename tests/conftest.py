"""Shared fixtures: real faces from installed packages and ../shared/media, and the example clip."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DEAGE_SHARED", REPO.parent / "shared"))
ARTIFACTS = Path(os.environ.get("DEAGE_TEST_ARTIFACTS", REPO / "test-artifacts"))


def _load_example_module():
    spec = importlib.util.spec_from_file_location("make_example_clip", REPO / "examples" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def shared_stills(*names: str) -> dict[str, np.ndarray]:
    """name -> RGB uint8 image of each ``../shared/media/<name>.jpg`` that is present (for
    benchmarks, which run on what there is)."""
    paths = {name: SHARED / "media" / f"{name}.jpg" for name in names}
    return {name: read_rgb(path) for name, path in paths.items() if path.exists()}


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """../shared/media (real test media); tests skip with a reason where it is absent."""
    media = SHARED / "media"
    if not media.is_dir():
        pytest.skip(f"shared test media not found at {media} (set DEAGE_SHARED to the shared/ folder)")
    return media


@pytest.fixture(scope="session")
def shared_models() -> Path:
    models = SHARED / "models"
    if not models.is_dir():
        pytest.skip(f"shared small models not found at {models} (set DEAGE_SHARED to the shared/ folder)")
    return models


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut portrait, RGB uint8 (512, 512, 3): one face."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def older_face() -> np.ndarray:
    """An older face: matplotlib's sample portrait of Grace Hopper (about 77, deep creases on
    cheeks and chin, amber glasses with dark brow bars), RGB uint8 (600, 512, 3)."""
    import matplotlib

    return read_rgb(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")


def insightface_image_path(name: str) -> Path:
    import insightface

    return Path(insightface.__file__).parent / "data" / "images" / name


@pytest.fixture(scope="session")
def group_photo() -> np.ndarray:
    """insightface's t1.jpg, RGB uint8: a group photo with 6 faces."""
    return read_rgb(insightface_image_path("t1.jpg"))


@pytest.fixture(scope="session")
def tom_hanks() -> np.ndarray:
    """insightface's Tom_Hanks_54745.png, RGB uint8 (112, 112, 3): an aligned face crop."""
    return read_rgb(insightface_image_path("Tom_Hanks_54745.png"))


@pytest.fixture(scope="session")
def example_clip(tmp_path_factory) -> Path:
    """A short real-face example clip (1280x720, 24 fps, with audio), made from a shipped photo."""
    module = _load_example_module()
    path = tmp_path_factory.mktemp("example") / "example.mp4"
    module.make_example_clip(path, seconds=2.0)
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for pictures a person should look at (before/after strips); printed in the summary."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def pytest_terminal_summary(terminalreporter):
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"deage: pictures to look at are in {ARTIFACTS}")
