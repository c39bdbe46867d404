"""Build a short real-face example clip: camera motion, a lighting change and an audio track.

The face is scikit-image's astronaut portrait (``skimage.data.astronaut()``, a public-domain
NASA photo shipped inside the installed package), so nothing is downloaded and no media is
committed. The camera zooms in (the face grows from about 280 to 330 pixels tall in the 720p
frame), pans, and rolls a few degrees (the face stays upright within about 3 degrees); a key
light sweeps across the face while the exposure rises and the colour goes from warm to cool;
a little seeded grain keeps it from looking synthetic. The audio is a synthesized voice-like
signal (a gliding harmonic tone shaped by vowel formants and syllable bursts), AAC 48 kHz,
exactly as long as the video. Every run gives the same pixels.

Run as a script::

    python examples/make_example_clip.py OUT.mp4 [--seconds 4] [--fps 24] [--size 1280x720]

or import ``make_example_clip``. The file is written through ``deage.video.ClipWriter``, i.e.
under a temporary name renamed when complete (``deage.safe_write.atomic_output``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from deage.errors import DeageError
from deage.video import ClipWriter

AUDIO_RATE = 48_000
# In the 512x512 astronaut photo (dlib's HOG box and 68-point landmarks): the face box is about
# 90 px tall, centred near (222, 128), and the eye line is tilted by about 3.5 degrees.
_FACE_CENTER = (222.0, 128.0)
_FACE_BOX = 90.0
_FACE_TILT_DEG = 3.5


def _smooth(t: float) -> float:
    """Ease in-out on [0, 1]."""
    return t * t * (3.0 - 2.0 * t)


def _camera(t: float, size: tuple[int, int]) -> np.ndarray:
    """2x3 affine photo -> frame at normalised time ``t`` in [0, 1]."""
    w, h = size
    e = _smooth(t)
    face_px = h * (0.39 + 0.07 * e)  # face box 280 -> 330 px at 720p
    scale = face_px / _FACE_BOX
    wobble = 2.0 * np.pi * t
    cx = w * (0.44 + 0.12 * e) + 0.005 * w * np.sin(3.1 * wobble)
    cy = h * (0.47 + 0.05 * e) + 0.006 * h * np.sin(2.3 * wobble + 1.0)
    roll = _FACE_TILT_DEG + (-2.5 + 5.0 * e) + 0.4 * np.sin(1.7 * wobble)  # cv2: positive = counter-clockwise
    m = cv2.getRotationMatrix2D(_FACE_CENTER, roll, scale)
    m[:, 2] += np.array([cx, cy]) - np.array(_FACE_CENTER)
    return m


def _lighting(t: float, size: tuple[int, int]) -> np.ndarray:
    """float32 (H, W, 3) multiplicative light at time ``t``: exposure ramp, colour shift, moving key."""
    w, h = size
    e = _smooth(t)
    exposure = 0.82 + 0.30 * e
    warm_to_cool = np.array([1.07 - 0.12 * e, 1.0, 0.93 + 0.13 * e], dtype=np.float32)
    kx, ky = w * (0.25 + 0.5 * t), h * 0.35
    sigma = 0.28 * w
    gx = np.exp(-0.5 * ((np.arange(w, dtype=np.float32) - kx) / sigma) ** 2)
    gy = np.exp(-0.5 * ((np.arange(h, dtype=np.float32) - ky) / sigma) ** 2)
    key = 0.85 + 0.35 * gy[:, None] * gx[None, :]
    return (exposure * key)[..., None] * warm_to_cool


def render_frame(photo: np.ndarray, index: int, count: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Frame ``index`` of ``count``: RGB uint8 (H, W, 3) with ``(W, H) = size``."""
    t = index / max(count - 1, 1)
    warped = cv2.warpAffine(photo, _camera(t, size), size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    lit = warped.astype(np.float32) * _lighting(t, size)
    grain = np.random.default_rng(seed * 100_003 + index).normal(0.0, 1.0, size=lit.shape[:2])
    lit += grain[..., None].astype(np.float32)
    return np.clip(lit + 0.5, 0, 255).astype(np.uint8)


def voice_like(seconds: float, rate: int = AUDIO_RATE) -> np.ndarray:
    """float32 (N,) mono in [-1, 1]: a harmonic tone gliding around 125 Hz, vowel formants, syllables."""
    n = int(round(seconds * rate))
    t = np.arange(n, dtype=np.float64) / rate
    f0 = 125.0 + 20.0 * np.sin(2 * np.pi * 0.6 * t) + 3.0 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    vowels = np.array([[730, 1090], [270, 2290], [300, 870], [530, 1840], [660, 1720]], dtype=np.float64)
    which = (t * 4.0).astype(int) % len(vowels)  # a new vowel every 0.25 s
    f1, f2 = vowels[which, 0], vowels[which, 1]
    signal = np.zeros(n)
    for k in range(1, 31):
        fk = k * f0
        weight = np.exp(-(((fk - f1) / 120.0) ** 2)) + 0.6 * np.exp(-(((fk - f2) / 180.0) ** 2)) + 0.02
        signal += weight / k**0.5 * np.sin(k * phase)
    syllable = np.clip(np.sin(np.pi * t * 4.0) ** 2 * 1.4, 0, 1)  # bursts at 4 Hz
    fade = np.clip(np.minimum(t, seconds - t) / 0.05, 0, 1)
    signal *= syllable * fade
    peak = np.max(np.abs(signal)) or 1.0
    return (0.5 * signal / peak).astype(np.float32)


def write_aac(samples: np.ndarray, path: Path, rate: int = AUDIO_RATE) -> None:
    """Encode mono float32 samples to AAC (128 kb/s) in an .m4a file."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        stream.bit_rate = 128_000
        step = 1024
        for start in range(0, len(samples), step):
            chunk = samples[start : start + step]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def make_example_clip(
    path: str | Path, seconds: float = 4.0, fps: int = 24, size: tuple[int, int] = (1280, 720)
) -> Path:
    """Write the example clip (H.264 mp4 with AAC audio) to ``path`` and return it.

    Args:
        path: output ``.mp4`` (its folder must exist).
        seconds: duration; the frame count is ``round(seconds * fps)``.
        fps: frames per second.
        size: ``(width, height)``, both even.

    Raises:
        OutputError: missing folder or unusable output path.
    """
    from skimage import data

    if seconds <= 0 or fps <= 0:
        raise ValueError(f"seconds and fps must be positive, got {seconds} and {fps}")
    out = Path(path)
    photo = data.astronaut()
    count = max(int(round(seconds * fps)), 1)
    duration = count / fps
    with tempfile.TemporaryDirectory(prefix="deage-example-") as tmp:
        audio = Path(tmp) / "voice.m4a"
        write_aac(voice_like(duration), audio)
        with ClipWriter(out, fps=Fraction(fps), width=size[0], height=size[1], codec="h264",
                        audio_from=audio) as writer:
            for i in range(count):
                writer.write(render_frame(photo, i, count, size))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build deage's real-face example clip (mp4 with audio).")
    parser.add_argument("output", type=Path, help="output .mp4 path")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size must look like 1280x720, got {args.size}")
    try:
        out = make_example_clip(args.output, seconds=args.seconds, fps=args.fps, size=(width, height))
    except DeageError as exc:
        print(f"make_example_clip: {exc}", file=sys.stderr)
        return 2
    frames = max(int(round(args.seconds * args.fps)), 1)
    print(f"wrote {out} ({frames} frames, {width}x{height} @ {args.fps} fps, with AAC audio)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
