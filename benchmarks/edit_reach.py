"""How far beyond the faces a de-age render changes pixels, on real photos.

Usage::

    python benchmarks/edit_reach.py [--years 20] [--look LOOK.json]

For each photo (insightface's group photo t1, scikit-image's astronaut, and the shared media's
photos when ../shared/media is there) the photo is rendered in memory (``deage.render_image``)
and the mean absolute change (max over RGB, 0-255 levels) is printed inside the faces' outlines
(jaw line and forehead, from dlib's landmarks) and in bands beyond them, in eye distances of the
faces: 0-0.3 (the jaw line's own warp, the neck just below the chin), 0.3-0.8 (neck, collars,
hair beside the face) and beyond 0.8; plus the share of pixels changed by more than 4 levels in
the 0.3-0.8 band and its largest change. An edit that stays on the face keeps the outer bands
near 0; the neck, which the de-ager retouches on purpose, is in the first two.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
BANDS = ((0.0, 0.3), (0.3, 0.8), (0.8, np.inf))


def photos() -> dict[str, np.ndarray]:
    """Name -> RGB uint8 photo, from what is installed (and ../shared/media when present)."""
    import insightface
    import skimage.data

    def load(path: Path) -> np.ndarray:
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)

    found = {"astronaut": skimage.data.astronaut(),
             "t1 (6 faces)": load(Path(insightface.__file__).parent / "data" / "images" / "t1.jpg")}
    for name in ("fo_selfie_diverse_group.jpg", "driving_d30.jpg", "driving_d19.jpg", "source_s12.jpg",
                 "source_s2.jpg"):
        if (MEDIA / name).is_file():
            found[name] = load(MEDIA / name)
    return found


def reach(before: np.ndarray, after: np.ndarray) -> list[float] | None:
    """[inside, band 0-0.3, 0.3-0.8, beyond 0.8, share > 4 levels in 0.3-0.8, max in 0.3-0.8],
    or None when dlib finds no face with landmarks."""
    sys.path.insert(0, str(REPO / "tests"))
    from facehelpers import detect_faces

    from deage.face.masks import FaceFrame, face_outline

    change = np.abs(after.astype(np.int16) - before).max(axis=2)
    inside = np.zeros(change.shape, np.uint8)
    eyes = []
    for face in detect_faces(before):
        if face.landmarks is not None:
            cv2.fillPoly(inside, [np.round(face_outline(face.landmarks)).astype(np.int32)], 1)
            eyes.append(FaceFrame.from_landmarks(face.landmarks).eye_distance)
    if not eyes:
        return None
    beyond = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5) / float(np.median(eyes))
    row = [float(change[inside > 0].mean())]
    for lo, hi in BANDS:
        row.append(float(change[(beyond > lo) & (beyond <= hi)].mean()))
    mid = change[(beyond > BANDS[1][0]) & (beyond <= BANDS[1][1])]
    return row + [float((mid > 4).mean()), float(mid.max())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=20.0)
    parser.add_argument("--look", default=None, help="a look JSON (default: the default look at --years)")
    args = parser.parse_args(argv)
    import deage
    from deage.look import with_years

    look = deage.load_look(args.look) if args.look else with_years(deage.default_look(), args.years)
    print(f"mean change in levels (max over RGB), look '{look.name or look.editor}'")
    print(f"{'photo':28s} {'inside':>7s} {'0-0.3':>7s} {'0.3-0.8':>8s} {'>0.8':>7s} {'>4 @0.3-0.8':>12s} {'max':>5s}")
    rows = []
    for name, image in photos().items():
        row = reach(image, deage.render_image(image, look))
        if row is None:
            print(f"{name:28s} no face")
            continue
        rows.append(row)
        print(f"{name:28s} {row[0]:7.2f} {row[1]:7.2f} {row[2]:8.2f} {row[3]:7.3f} {row[4]:12.3f} {row[5]:5.0f}")
    if rows:
        m = np.mean(rows, axis=0)
        print(f"{'mean':28s} {m[0]:7.2f} {m[1]:7.2f} {m[2]:8.2f} {m[3]:7.3f} {m[4]:12.3f} {m[5]:5.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
