"""A retouched face keeps the plate's grain (``deage.blend.grain``).

Skin softening also softens sensor noise and film grain: on a noisy plate the face came out
cleaner than the frame around it, the classic tell of beauty work. The grain is measured on the
plate and put back; a clean plate's retouch is left almost exactly as it was.
"""

from __future__ import annotations

import numpy as np
import pytest

import deage
from deage.blend.grain import keep_grain, noise_sigma, split_grain
from deage.face.backends.dlib_backend import DlibDetector
from deage.render import FrameRenderer

LOOK = deage.load_look(__import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "looks" / "young25.json")


def _with_grain(look: deage.Look, grain: float) -> deage.Look:
    data = look.to_dict()
    return deage.Look.from_dict({**data, "blend": {**data.get("blend", {}), "grain": grain}})


def _noisy(image: np.ndarray, sigma: float, seed: int = 5) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape[:2])[..., None]
    return np.clip(image + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [3.0, 8.0])
def test_noise_sigma_measures_the_noise_on_real_photos(astronaut, older_face, sigma):
    for photo in (astronaut, older_face):
        own = noise_sigma(photo)
        assert own < 2.0  # clean photos: their texture barely counts
        expected = np.hypot(own, sigma)
        assert abs(noise_sigma(_noisy(photo, sigma)) - expected) < 0.2 * expected
    assert noise_sigma(np.zeros((2, 40, 3), np.uint8)) == 0.0
    assert split_grain(astronaut.astype(np.float32), 0.0) is None


def test_keep_grain_puts_back_fine_low_amplitude_detail_only(astronaut):
    """A smoothed copy of a noisy plate (a soft photo with noise of 6 levels) gets the plate's grain
    back; a large change the retouch made stays."""
    import cv2

    base = _noisy(cv2.GaussianBlur(astronaut, (0, 0), 3.0), 6).astype(np.float32)
    top = cv2.GaussianBlur(base, (0, 0), 2.0)
    top[200:300, 200:300] += 60  # a big change the retouch made: not undone
    kept = keep_grain(top, base, noise_sigma(base))
    fine = lambda x: x - cv2.GaussianBlur(x, (0, 0), 2.0)  # noqa: E731
    assert np.std(fine(kept) - fine(base)) < 0.35 * np.std(fine(top) - fine(base))
    assert np.abs(kept[220:280, 220:280] - top[220:280, 220:280]).mean() < 8
    assert keep_grain(top, base, noise_sigma(base), amount=0.0) is top


def test_the_noise_of_a_plate_passes_through_the_retouch(astronaut):
    """The same face (landmarks fixed) rendered clean and with noise of 6 levels added: the
    difference of the two renders inside the face is the added noise, whole (ratio ~1.0); with
    ``blend.grain`` 0 the retouch smoothed a tenth of it away. The retouch itself still acts, and on
    the clean photo it is nearly what it was without grain keeping (mean within 1 level)."""
    (face,) = DlibDetector().detect(astronaut)
    noisy = _noisy(astronaut, 6)
    ratios, clean = {}, {}
    for grain in (1.0, 0.0):
        renderer = FrameRenderer(_with_grain(LOOK, grain))
        clean[grain], (mask,) = renderer.render(astronaut, 0, {1: face})
        noisy_out, _ = renderer.render(noisy, 0, {1: face})
        inside = mask > 0.95
        passed = (noisy_out.astype(np.float32) - clean[grain])[inside].std()
        ratios[grain] = passed / (noisy.astype(np.float32) - astronaut)[inside].std()
    assert ratios[1.0] > 0.97 and ratios[0.0] < 0.95, ratios
    edit = np.abs(clean[1.0].astype(np.float32) - astronaut)[inside].mean()
    assert edit > 3.0
    assert np.abs(clean[1.0].astype(np.float32) - clean[0.0])[inside].mean() < 1.0
