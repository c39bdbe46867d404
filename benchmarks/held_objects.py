"""What a de-age render's shape warp does to a thing held in front of the chin, and what finding it costs.

Usage::

    python benchmarks/held_objects.py [--years 10,20,30]

Each photo of ``edit_reach.photos()`` and matplotlib's Grace Hopper gets a grey bar, like a
microphone held from below, over its first face's chin (``tests/facehelpers.hold_bar``). Printed
per photo and number of years: how far the warp moves the bar (largest displacement on it, frame
pixels) without and with the search for edges crossing the chin (``deage.face.crossing_edges``,
which stills the warp around what it finds), and the mean change of the bar's own pixels along
its sides in a render (``deage.render_image``; levels, max over RGB, the 2 px inside its edges,
from its top to an eye distance below the chin: what moves them is the warp, and the skin's
retouch reaching over the edge). Then, on every bare face of the photos: how many have an
edge found (their warp is then changed) and the search's time per face.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))
from edit_reach import photos  # noqa: E402


def warp_inputs(image: np.ndarray, face, years: float):
    """The makeup editor's inputs to the edge search for ``face``: the aligned crop, its flow,
    working raster and regions."""
    from deage.edit.base import crop_size_for
    from deage.edit.makeup import MakeupEditor, MakeupParams
    from deage.edit.makeup.shape import shape_flow
    from deage.face.align import align_face
    from deage.face.masks import face_regions

    editor = MakeupEditor()
    aligned = align_face(image, face, editor.template, crop_size_for(face, editor.template))
    work = editor.working_size(aligned)
    small = cv2.resize(aligned.image, (work, work), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    s = MakeupParams(years=years).resolve()
    flow = shape_flow(aligned.landmarks, aligned.size, jaw_lift=s.jaw_lift, cheek_fullness=s.cheek_fullness,
                      eye_aperture=s.eye_aperture, lip_fullness=s.lip_fullness, grid=editor.flow_grid)
    return aligned, flow, small, face_regions(aligned.image, aligned.landmarks, work, small=small)


def moved_on(mask: np.ndarray, aligned, flow: np.ndarray) -> float:
    """Largest displacement of ``flow`` (crop pixels) on ``mask`` (frame), in frame pixels."""
    from deage.face.align import affine_scale

    size = aligned.size
    on = cv2.warpAffine(mask, aligned.matrix[:2].astype(np.float64), (size, size)) > 0.5
    magnitude = cv2.resize(np.hypot(flow[..., 0], flow[..., 1]), (size, size), interpolation=cv2.INTER_LINEAR)
    return float(magnitude[on].max()) / affine_scale(aligned.matrix) if on.any() else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", default="10,20,30")
    args = ap.parse_args()
    import matplotlib
    from facehelpers import detect_faces, hold_bar

    from deage.edit.makeup.editor import _spare_crossing_edges
    from deage.edit.makeup.texture import luminance
    from deage.look import Look
    from deage.render import render_image

    pictures = photos()
    grace = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    pictures["grace_hopper"] = cv2.cvtColor(grace, cv2.COLOR_BGR2RGB)
    years = [float(y) for y in args.years.split(",")]
    print(f"{'photo':28s} {'years':>5s} {'bar moved, px: without':>24s} {'with':>6s} {'change along its sides':>23s}")
    bare_faces = []
    for name, image in pictures.items():
        faces = detect_faces(image)
        if not faces:
            continue
        bare_faces += [(image, f) for f in faces]
        held, bar = hold_bar(image, faces[0])
        found = detect_faces(held)
        if not found:
            print(f"{name:28s} (the face is not found with the bar held to it)")
            continue
        face = min(found, key=lambda f: np.hypot(*(np.asarray(f.box[:2]) - faces[0].box[:2])))
        lm = np.asarray(face.landmarks, np.float64)
        ed = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
        sides = (bar - cv2.erode(bar, np.ones((5, 5), np.uint8))) > 0  # the bar's own pixels along its sides
        sides[int(lm[8, 1] + ed):] = False
        for y in years:
            aligned, flow, small, regions = warp_inputs(held, face, y)
            stilled, _ = _spare_crossing_edges(flow, np.zeros(small.shape, np.float32), luminance(small), regions,
                                               aligned.landmarks)
            out = render_image(held, Look(editor="makeup", edit={"years": y}))
            change = np.abs(out.astype(np.int16) - held).max(-1)[sides].mean()
            print(f"{name:28s} {y:5.0f} {moved_on(bar, aligned, flow):24.2f} {moved_on(bar, aligned, stilled):6.2f} "
                  f"{change:23.2f}")
    changed, times = 0, []
    for image, face in bare_faces:
        aligned, flow, small, regions = warp_inputs(image, face, years[0])
        start = time.perf_counter()
        stilled, _ = _spare_crossing_edges(flow, np.zeros(small.shape, np.float32), luminance(small), regions,
                                           aligned.landmarks)
        times.append(time.perf_counter() - start)
        changed += stilled is not flow
    print(f"bare faces with an edge found (warp changed): {changed} of {len(bare_faces)}; search "
          f"{1000 * np.median(times):.1f} ms median, {1000 * max(times):.1f} ms most per face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
