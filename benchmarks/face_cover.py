"""What a de-age render does to a face mask: change over the mask, with and without it counted as one.

Usage::

    python benchmarks/face_cover.py [--years 30]

Each photo of ``edit_reach.photos()`` (its largest face) and matplotlib's Grace Hopper gets each of
insightface's surgical-mask photos (white, blue, black, green) warped over its nose, cheeks and
chin (``tests/facehelpers.wear_face_mask``), and is rendered in memory (``deage.render_image``).
Printed per photo and mask: the mean change over the mask (max over RGB, 0-255 levels, the mask
eroded by 2 px) and the share of its pixels changed by more than 4 levels ("face not found" when
nothing in the masked face's box changed, "no face" when the photo has none left). A mask the de-ager
recognises (``deage.face.masks.lower_face_cover``) stays within a level; one it takes for skin is
retouched and warped by the jaw lift (10-20 levels before the cover was recognised at all).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))
from edit_reach import photos  # noqa: E402

COLOURS = ("white", "blue", "black", "green")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=float, default=30.0)
    args = ap.parse_args()
    import matplotlib
    from facehelpers import detect_faces, wear_face_mask

    from deage.errors import NoFaceError
    from deage.look import Look
    from deage.render import render_image

    pictures = photos()
    grace = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    pictures["grace_hopper"] = cv2.cvtColor(grace, cv2.COLOR_BGR2RGB)
    look = Look(editor="makeup", edit={"years": args.years})
    print(f"{'photo':30s} " + " ".join(f"{c:>16s}" for c in COLOURS) + "   (mean levels over the mask, share > 4)")
    for name, image in pictures.items():
        faces = detect_faces(image)
        if not faces:
            continue
        cells = []
        for colour in COLOURS:
            masked, alpha = wear_face_mask(image, faces[0], colour)
            on = cv2.erode((alpha > 0.95).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = render_image(masked, look)
            except NoFaceError:
                cells.append(f"{'no face':>16s}")
                continue
            change = np.abs(out.astype(np.int16) - masked).max(axis=2)
            x0, y0, x1, y1 = (int(round(v)) for v in faces[0].box)
            if not change[max(y0, 0):y1, max(x0, 0):x1].any():  # the masked face was not found
                cells.append(f"{'face not found':>16s}")
                continue
            cells.append(f"{change[on].mean():7.2f} ({(change[on] > 4).mean():5.1%})")
        print(f"{name:30s} " + " ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
