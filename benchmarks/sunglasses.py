"""What a de-age edit does to a pair of dark sunglasses, and to a pair of glasses.

Usage::

    python benchmarks/sunglasses.py [--years 10,30] [--kind sunglasses,glasses]

Dark sunglasses (``tests/facehelpers.wear_sunglasses``: lenses 0.84 x 0.66 eye distances, black
rims and a bar over the brows) are drawn over each face, which is then found and fitted again on
that picture, as a render would. Printed per face (the astronaut, Grace Hopper, and the shared
media's photos where present): how surely each eye's surroundings are seen
(``deage.face.masks.eyes_seen``; eyes count as hidden below 0.5, fully below 0.3), and the change
over the glasses (levels, max over RGB; the mask eroded by 2 pixels, 1 for a frame) with the hidden-eye guard
and without it (``hidden_eyes`` replaced by zeros): mean, 99th percentile and largest. With
``--kind glasses`` a pair of clear glasses with thin dark frames (``facehelpers.wear_glasses``) is
drawn instead, and the change is measured over its frame; "off" then also leaves the frames
unspared (``wears_glasses=False``). Edits in the editor's own crop (512
or 1024 px), no render.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", default="10,30", help="comma-separated years younger")
    ap.add_argument("--kind", default="sunglasses", help="comma-separated: sunglasses, glasses")
    args = ap.parse_args()
    import matplotlib
    from conftest import read_rgb, shared_stills
    from facehelpers import largest_face, wear_glasses, wear_sunglasses
    from skimage import data

    import deage.edit.makeup.editor as editor_module
    from deage.edit.base import crop_size_for
    from deage.edit.makeup import MakeupEditor, MakeupParams
    from deage.face.align import align_face
    from deage.face.masks import eyes_seen, face_regions

    faces = {"astronaut": data.astronaut(),
             "grace_hopper": read_rgb(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")}
    faces |= shared_stills("driving_d30", "driving_d19", "source_s12", "source_s2", "source_s11")
    guard = editor_module.hidden_eyes

    print(f"{'kind':10s} {'face':14s} {'seen':>11s} {'years':>5s} {'guard':>6s} {'mean':>6s} {'p99':>5s} {'max':>5s}")
    for kind, name in ((k, n) for k in args.kind.split(",") for n in faces):
        image = faces[name]
        worn, glasses = (wear_sunglasses if kind == "sunglasses" else wear_glasses)(image, largest_face(image))
        face = largest_face(worn)
        aligned = align_face(worn, face, MakeupEditor.template, crop_size_for(face, MakeupEditor.template))
        on = cv2.warpAffine(glasses.astype(np.float32), aligned.matrix[:2].astype(np.float64),
                            (aligned.size, aligned.size)) > 0.5
        grip = 5 if kind == "sunglasses" else 3  # a thin frame keeps its middle
        on = cv2.erode(on.astype(np.uint8), np.ones((grip, grip), np.uint8)) > 0
        work = MakeupEditor().working_size(aligned)
        seen = eyes_seen(face_regions(aligned.image, aligned.landmarks, work), aligned.landmarks)
        for years in (float(y) for y in args.years.split(",")):
            for label, fn, spared in (("on", guard, None), ("off", lambda seen: (0.0, 0.0), False)):
                editor_module.hidden_eyes = fn
                try:
                    result = MakeupEditor().edit(aligned, MakeupParams(years=years, wears_glasses=spared))
                finally:
                    editor_module.hidden_eyes = guard
                change = np.abs(result.image.astype(np.int16) - aligned.image).max(-1)[on]
                print(f"{kind:10s} {name:14s} {seen[0]:5.2f}/{seen[1]:4.2f} {years:5.0f} {label:>6s} "
                      f"{change.mean():6.2f} {np.percentile(change, 99):5.0f} {change.max():5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
