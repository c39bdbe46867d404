"""Benchmark the face analysis pass: throughput at 720p and 1080p, cache reload, landmark jitter.

Run from the repository root::

    .venv/bin/python benchmarks/analysis.py [--seconds 4] [--media ../shared/media]

Prints:
- per-stage costs of the embedded dlib engine on one 720p frame (detection, landmark fit, descriptor);
- analysis fps of the example clip (examples/make_example_clip.py, one face) at 1280x720 and
  1920x1080: "steady" counts frames between the first and last progress callbacks (decode +
  detect + track), "wall" includes loading the models, hashing the clip and smoothing;
- reloading the analysis from the cache;
- what the search for small and tilted faces costs while no face is tracked: one search on a 720p
  frame, and a faceless 720p clip (10 s) analysed with and without it;
- landmark jitter: a still head at 720p (the astronaut, fresh sensor noise sigma 3 per frame),
  RMS distance to the mean position, raw vs smoothed; and the frame-to-frame high-frequency
  jitter (residual from a centred 5-frame mean) on the moving example clip and, when the shared
  media are present, on a real 720p talking-head clip.

These machines are noisy: compare figures taken in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import uniform_filter1d

REPO = Path(__file__).resolve().parents[1]


def _example_module():
    spec = importlib.util.spec_from_file_location("make_example_clip", REPO / "examples" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _time(fn, repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000.0


def stage_costs() -> None:
    from skimage import data

    from deage.face.backends.dlib_backend import DlibDetector, DlibRecognizer, to_gray

    photo = cv2.resize(data.astronaut(), (720, 720), interpolation=cv2.INTER_CUBIC)
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:, 280:1000] = photo
    gray = to_gray(frame)
    detector, recognizer = DlibDetector(), DlibRecognizer()
    face = detector.detect(frame)[0]
    print("dlib engine, one 1280x720 frame, one face:")
    print(f"  HOG detection (auto scale {detector.detection_scale(720, 1280):.2f}): {_time(lambda: detector.detect_boxes(gray), 5):6.1f} ms")
    half = DlibDetector(scale=0.5, landmarker=detector.landmarker)
    print(f"  HOG detection (scale 0.50):       {_time(lambda: half.detect_boxes(gray), 5):6.1f} ms")
    print(f"  68-point fit (256 px crop):       {_time(lambda: detector.landmarker.fit_points(gray, face.box), 50):6.2f} ms")
    print(f"  RGB -> grey:                      {_time(lambda: to_gray(frame), 50):6.2f} ms")
    print(f"  128-d descriptor:                 {_time(lambda: recognizer.describe(frame, face), 3):6.1f} ms")


def clip_fps(path: Path, label: str) -> None:
    from deage.face.analysis import AnalysisSettings, analyse_clip

    stamps: list[float] = []
    start = time.perf_counter()
    result = analyse_clip(path, AnalysisSettings(), use_cache=False, progress=lambda done, total: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - start
    n = result.frame_count
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    rows = result.summary()
    print(f"  {label}: {n} frames, steady {steady:6.1f} fps, wall {n / wall:6.1f} fps ({wall:.2f} s); "
          f"tracks {[(r['id'], r['frames']) for r in rows]}, keyframes {len(result.keyframes)}")


def cache_reload(path: Path, cache: Path) -> None:
    from deage.face.analysis import analyse_clip

    analyse_clip(path, cache_dir=cache)
    start = time.perf_counter()
    again = analyse_clip(path, cache_dir=cache)
    print(f"  cache reload: {(time.perf_counter() - start) * 1000:.0f} ms (from_cache={again.from_cache}, "
          f"{again.frame_count} frames, hash + load + smoothing)")


def search_cost() -> None:
    from deage.face.analysis import AnalysisSettings, analyse_frames
    from deage.face.backends.dlib_backend import DlibDetector
    from deage.face.track import _upright_only

    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur((rng.random((720, 1280, 3)) * 255).astype(np.uint8), (0, 0), 3)
    frames = [np.roll(texture, 3 * i, axis=1) for i in range(240)]
    searcher = DlibDetector(photo=True)
    print(f"  one search (dlib photo mode, 40 px faces, +-40 degree turns), 720p frame: "
          f"{_time(lambda: searcher.detect(frames[0]), 3):6.0f} ms")
    sweeper = _upright_only(searcher)  # beside tracked faces, and soon after one is lost inside the frame
    print(f"  one sweep (its upright passes only), 720p frame: {_time(lambda: sweeper.detect(frames[0]), 3):6.0f} ms")
    for label, every in (("search off", 0), ("search on (default)", AnalysisSettings().search_every)):
        start = time.perf_counter()
        analyse_frames(frames, 24, AnalysisSettings(search_every=every, descriptors=False))
        wall = time.perf_counter() - start
        print(f"  faceless 720p clip, 240 frames, {label}: {240 / wall:6.1f} fps ({wall:.2f} s)")


def _jitter(points: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((points - points.mean(0)) ** 2, axis=-1))))


def _hf_jitter(points: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((points - uniform_filter1d(points, 5, axis=0, mode="nearest")) ** 2, -1))))


def _landmarks(analysis, track_id: int = 1) -> np.ndarray:
    track = analysis.track(track_id)
    return np.stack([track.faces[i].landmarks for i in sorted(track.faces)])


def still_jitter() -> None:
    from skimage import data

    from deage.face.analysis import AnalysisSettings, analyse_frames, smoothed

    face = cv2.resize(data.astronaut(), (720, 720), interpolation=cv2.INTER_CUBIC)
    still = np.zeros((720, 1280, 3), np.uint8)
    still[:, 280:1000] = face
    rng = np.random.default_rng(0)
    frames = [np.clip(still + rng.normal(0, 3.0, still.shape), 0, 255).astype(np.uint8) for _ in range(72)]
    raw = analyse_frames(frames, 24, AnalysisSettings(smooth=False))
    a, b = _landmarks(raw), _landmarks(smoothed(raw, AnalysisSettings()))
    causal = _landmarks(smoothed(raw, AnalysisSettings(zero_phase=False)))
    print(f"  still head 720p (face ~125 px, 72 frames): raw {_jitter(a):.3f} px, smoothed {_jitter(b):.3f} px "
          f"(ratio {_jitter(b) / _jitter(a):.2f}); causal One Euro only {_jitter(causal):.3f} px")


def moving_jitter(path: Path, label: str) -> None:
    from deage.face.analysis import AnalysisSettings, analyse_clip, smoothed

    with tempfile.TemporaryDirectory() as cache:
        raw = analyse_clip(path, AnalysisSettings(smooth=False), cache_dir=cache)
    a, b = _landmarks(raw), _landmarks(smoothed(raw, AnalysisSettings()))
    lag = np.sqrt(np.mean(np.sum((uniform_filter1d(a, 5, axis=0, mode="nearest") - b) ** 2, -1)))
    print(f"  {label}: high-frequency jitter raw {_hf_jitter(a):.3f} px, smoothed {_hf_jitter(b):.3f} px; "
          f"smoothed vs 5-frame mean of raw {lag:.3f} px RMS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="example clip length (default 4 s at 24 fps)")
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    args = parser.parse_args(argv)
    make = _example_module().make_example_clip
    stage_costs()
    with tempfile.TemporaryDirectory(prefix="deage-bench-") as tmp:
        clips = {}
        for label, size in (("1280x720", (1280, 720)), ("1920x1080", (1920, 1080))):
            clips[label] = make(Path(tmp) / f"example_{size[1]}.mp4", seconds=args.seconds, size=size)
        print("analysis of the example clip (one face, default settings, no cache):")
        for label, path in clips.items():
            clip_fps(path, label)
        real = args.media / "source_s18.mp4"
        if real.is_file():
            clip_fps(real, "source_s18.mp4 (real 1280x720 talking head)")
        cache_reload(clips["1280x720"], Path(tmp) / "cache")
        print("search for small and tilted faces while none is tracked:")
        search_cost()
        print("landmark jitter:")
        still_jitter()
        moving_jitter(clips["1280x720"], "example clip 720p (moving camera)")
        if real.is_file():
            moving_jitter(real, "source_s18.mp4 (talking)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
