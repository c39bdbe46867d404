"""What a de-age edit does to the thin hair at the temples and along the hairline.

Usage::

    python benchmarks/hairline.py [--years 25]

Thin hair over the skin passes the skin-colour model; the makeup editor leaves the darkness that
runs on from the hair alone (``deage.edit.makeup.tone.hair_darkness``, review layer "hair").
Printed per face (the astronaut, and the shared media's driving_d19 and source_s12 where present),
with the hair guard and without it (``hair_darkness`` replaced by zeros): the mean change and the
99th percentile (levels, max over RGB) over the hair that the skin model took for skin (hair
layer > 0.9 and skin > 0.5), and the mean change over the forehead away from the hair (still
retouched). Edits in the editor's own crop (512 or 1024 px), no render.
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
    ap.add_argument("--years", type=float, default=25.0)
    args = ap.parse_args()
    from conftest import shared_stills
    from facehelpers import largest_face
    from skimage import data

    import deage.edit.makeup.editor as editor_module
    from deage.edit.base import crop_size_for
    from deage.edit.makeup import MakeupEditor, MakeupParams
    from deage.face.align import align_face
    from deage.face.masks import face_regions

    faces = {"astronaut": data.astronaut()}
    faces |= shared_stills("driving_d19", "source_s12")
    guard = editor_module.hair_darkness
    print(f"{'face':14s} {'guard':>6s} {'hair px':>8s} {'mean':>6s} {'p99':>6s} {'forehead':>9s}")
    for name, image in faces.items():
        face = largest_face(image)
        aligned = align_face(image, face, MakeupEditor.template, crop_size_for(face, MakeupEditor.template))
        size = (aligned.size,) * 2
        forehead = face_regions(aligned.image, aligned.landmarks, aligned.size).regions["forehead"] > 0.5
        hairline = away = None
        for label, fn in (("on", guard), ("off", lambda skin, *_: np.zeros_like(skin))):
            editor_module.hair_darkness = fn
            try:
                result = MakeupEditor().edit(aligned, MakeupParams(years=args.years))
            finally:
                editor_module.hair_darkness = guard
            if hairline is None:  # the guard's own layer says where the hair is
                hair = cv2.resize(result.layers["hair"], size, interpolation=cv2.INTER_LINEAR)
                skin = cv2.resize(result.layers["skin"], size, interpolation=cv2.INTER_LINEAR)
                hairline, away = (hair > 0.9) & (skin > 0.5), forehead & (hair < 0.1)
            change = np.abs(result.image.astype(np.int16) - aligned.image).max(-1)
            print(f"{name:14s} {label:>6s} {int(hairline.sum()):8d} {change[hairline].mean():6.2f} "
                  f"{np.percentile(change[hairline], 99):6.1f} {change[away].mean():9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
