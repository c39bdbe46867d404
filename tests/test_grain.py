"""A retouched face keeps the plate's grain (``deage.blend.grain``).

Skin softening also softens sensor noise and film grain: on a noisy plate the face came out
cleaner than the frame around it, the classic tell of beauty work. The grain is measured on the
plate and put back; a clean plate's retouch is left almost exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import deage
from deage.blend.grain import MIN_NOISE, grain_covariance, keep_grain, noise_sigma, regrain, split_grain
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


def _grainy(image: np.ndarray, shared: float, own: float, seed: int) -> np.ndarray:
    """``image`` with noise of ``shared`` levels common to R, G and B (luma-like) and ``own`` levels
    in each channel by itself: each channel's deviation hypot(shared, own), correlation
    shared**2 / (shared**2 + own**2)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, shared, image.shape[:2])[..., None] + rng.normal(0, own, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def test_grain_covariance_reads_each_channels_noise_and_their_correlation(astronaut):
    """Noise of 6 levels shared by the channels and 3 in each alone on a real photo: 6.7 levels a
    channel (with the photo's own under 2.5), correlated 0.8 (0.56 with 4.5 each alone)."""
    for own, corr in ((3.0, 0.8), (4.5, 36 / (36 + 4.5**2))):
        cov = grain_covariance(_grainy(astronaut, 6.0, own, seed=2))
        sigma = np.sqrt(np.diag(cov))
        assert np.all(np.abs(sigma - np.hypot(6.0, own)) < 0.12 * np.hypot(6.0, own)), sigma
        measured = cov / np.outer(sigma, sigma)
        assert np.all(np.abs(measured[~np.eye(3, dtype=bool)] - corr) < 0.08), measured
    clean = np.sqrt(np.diag(grain_covariance(astronaut)))
    assert np.all(clean < 2.5)  # a clean photo: its texture and JPEG noise (blue 2.2)
    assert not grain_covariance(astronaut, np.zeros(astronaut.shape[:2], bool)).any()  # no pixels


def _swap_frame(plate: np.ndarray, face, grain: float) -> tuple[np.ndarray, np.ndarray]:
    data = deage.load_look(Path(__file__).resolve().parents[1] / "examples" / "looks" / "swap.json").to_dict()
    look = deage.Look.from_dict({**data, "blend": {**data["blend"], "grain": grain}})
    out, (mask,) = FrameRenderer(look).render(plate, 0, {1: face})
    return out, mask


def test_a_swapped_face_gets_the_grain_of_a_noisy_plate(older_face):
    """The demo swap (scikit-image's astronaut) onto Grace Hopper's portrait with camera-like noise
    (6 levels shared by the channels, 3 in each): the swapped face had 0.2 of the frame's noise
    (a clean photo, resampled), a clean patch in a grainy frame; with the grain it lacks added its
    noise is the frame's, each channel within 12 %, the channels as correlated. The grain follows
    the frame: the same frame twice gives the same pixels, another frame other grain. On a clean
    plate (under ``MIN_NOISE``) nothing is added: bit-identical with and without."""
    (face,) = DlibDetector().detect(older_face)
    plate = _grainy(older_face, 6.0, 3.0, seed=4)
    frame_noise = grain_covariance(plate)
    outs = {}
    for grain in (0.0, 1.0):
        outs[grain], mask = _swap_frame(plate, face, grain)
        inside = mask > 0.95
        assert inside.sum() > 20000
        cov = grain_covariance(outs[grain], inside)
        ratio = np.sqrt(np.diag(cov) / np.diag(frame_noise))
        if grain == 0.0:
            assert np.all(ratio < 0.35), ratio
        else:
            assert np.all(np.abs(ratio - 1.0) < 0.12), ratio
            corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
            assert abs(corr - 0.8) < 0.1, corr
    assert np.array_equal(_swap_frame(plate, face, 1.0)[0], outs[1.0])
    other, _ = _swap_frame(_grainy(older_face, 6.0, 3.0, seed=5), face, 1.0)
    added = [o.astype(np.float32)[inside] - outs[0.0].astype(np.float32)[inside] for o in (outs[1.0], other)]
    assert abs(np.corrcoef(added[0][:, 1], added[1][:, 1])[0, 1]) < 0.2  # independent grain
    clean = cv2.GaussianBlur(older_face, (0, 0), 0.8)  # the scan's grain (1.0 level) softened away
    assert noise_sigma(clean) < MIN_NOISE
    assert np.array_equal(_swap_frame(clean, face, 1.0)[0], _swap_frame(clean, face, 0.0)[0])
    drawn = outs[0.0].astype(np.float32)
    assert regrain(drawn, clean.astype(np.float32), inside) is drawn
