"""Glasses on a moving face: found frame by frame or decided once a track, and the landmarks' scale.

Usage::

    python benchmarks/glasses_track.py [--crf 20,26] [--smear 3,5] [--looks young10,swap]

A 60-frame 1280x720 clip is made from matplotlib's portrait of Grace Hopper (about 77, amber
cat-eye glasses): the portrait zooms from half to full size while it pans right and turns by up
to 6 degrees, smeared horizontally by ``--smear`` pixels, with sensor noise, H.264 at each
``--crf``. Printed per clip: its analysis (the largest jump of the eye span from one frame to the
next, and the frames whose mouth sits more than 1.12 eye spans below the eyes: a fit that took
the glasses' rims for eyes), then per look (``examples/looks/NAME.json``) the frames on which
the editor found glasses with each frame searched alone and with the track's decision
(``deage.face.glasses.measure_tracks``, ``wears_glasses``), how often that switched between
frames, and a strip: ``G`` found, ``.`` not, ``-`` not searched.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EDITOR_MODULES = {"makeup": "deage.edit.makeup.editor", "swap": "deage.edit.swap.editor"}


def make_clip(path: Path, crf: int, smear: int, frames: int = 60) -> Path:
    """The zooming, panning, turning portrait (see the module docstring), H.264 at ``crf``."""
    import av
    import cv2
    import matplotlib

    portrait = cv2.cvtColor(cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")),
                            cv2.COLOR_BGR2RGB)
    width, height = 1280, 720
    backdrop = cv2.resize(portrait[:80, :80], (width, height), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(1)
    kernel = np.zeros((smear, smear), np.float32)
    kernel[smear // 2] = 1.0 / smear
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf)}
        for t in range(frames):
            u = t / (frames - 1)
            zoom = 0.5 + 0.5 * (0.5 - 0.5 * np.cos(np.pi * u))
            m = cv2.getRotationMatrix2D((256, 300), 6 * np.sin(2 * np.pi * u), zoom)
            m[:, 2] += (300 + 600 * u - 256, 360 + 40 * np.sin(4 * u) - 300)
            face = cv2.warpAffine(portrait, m, (width, height), flags=cv2.INTER_AREA)
            inside = cv2.warpAffine(np.ones(portrait.shape[:2], np.float32), m, (width, height))[..., None]
            frame = cv2.filter2D((face * inside + backdrop * (1 - inside)).astype(np.float32), -1, kernel)
            frame += rng.normal(0.0, 3.0, frame.shape)
            picture = av.VideoFrame.from_ndarray(np.clip(frame, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(picture.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def landmark_figures(analysis) -> str:
    """The largest frame-to-frame eye-span jump and the stretched frames of the first track."""
    from deage.review.measures import eye_distance

    faces = analysis.tracks[0].faces
    spans = {i: eye_distance(f.landmarks) for i, f in faces.items()}
    jumps = [abs(spans[i] / spans[i - 1] - 1) for i in spans if i - 1 in spans]
    def eyes_to_mouth(lm: np.ndarray) -> float:
        return float(np.linalg.norm(lm[48:68].mean(0) - (lm[36:42].mean(0) + lm[42:48].mean(0)) / 2))

    stretched = [i for i, f in faces.items() if eyes_to_mouth(f.landmarks) > 1.12 * spans[i]]
    return f"largest eye-span jump {100 * max(jumps):.1f} %, stretched frames {stretched}"


def presence(clip, analysis, look, module_name: str, per_track: bool) -> list[float | None]:
    """What the editor's glasses search returned on each frame (None: not searched)."""
    from deage.face.select import select_tracks
    from deage.render import FrameRenderer, measure_tracks

    module = importlib.import_module(module_name)
    search = module.find_glasses
    selected = select_tracks(analysis, look.faces)
    analysis.glasses.clear()
    if per_track:
        measure_tracks(look, analysis, selected, clip.read)
    found: list[float | None] = []

    def spy(*args, **kwargs):
        result = search(*args, **kwargs)
        found[-1] = result.present
        return result

    module.find_glasses = spy
    try:
        renderer = FrameRenderer(look, analysis=analysis)
        for index, frame in enumerate(clip.frames()):
            found.append(None)
            renderer.render(frame, index, {t: f for t, f in analysis.faces_at(index).items() if t in selected})
    finally:
        module.find_glasses = search
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crf", default="20,26", help="comma-separated H.264 CRFs")
    ap.add_argument("--smear", default="3,5", help="comma-separated smear lengths (px), one per CRF")
    ap.add_argument("--looks", default="young10,swap", help="comma-separated looks from examples/looks")
    args = ap.parse_args()
    import warnings

    from deage.face.analysis import AnalysisSettings, analyse_clip
    from deage.look import load_look
    from deage.video import open_clip

    warnings.simplefilter("ignore")  # the swap source's notes
    with tempfile.TemporaryDirectory() as tmp:
        for crf, smear in zip((int(v) for v in args.crf.split(",")), (int(v) for v in args.smear.split(","))):
            path = make_clip(Path(tmp) / f"grace_crf{crf}.mp4", crf, smear)
            with open_clip(path) as clip:
                analysis = analyse_clip(clip, AnalysisSettings(), cache_dir=Path(tmp) / "cache")
                print(f"CRF {crf}, smear {smear} px: {landmark_figures(analysis)}")
                for name in args.looks.split(","):
                    look = load_look(REPO / "examples" / "looks" / f"{name}.json")
                    for label, per_track in (("each frame", False), ("per track", True)):
                        found = presence(clip, analysis, look, EDITOR_MODULES[look.editor], per_track)
                        on = [p is not None and p > 0.5 for p in found]
                        strip = "".join("-" if p is None else "G" if p > 0.5 else "." for p in found)
                        share = analysis.glasses.get(analysis.tracks[0].track_id)
                        print(f"  {name:8s} {label:10s} found on {sum(on):2d}/{len(on)}, switches "
                              f"{sum(a != b for a, b in zip(on, on[1:])):2d}"
                              + (f", track share {share:.1f}" if share is not None else "") + f"  {strip}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
