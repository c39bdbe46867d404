"""Faces found on real photos made harder, and on clips made from them: a robustness table.

Usage::

    python benchmarks/face_stress.py [--photos] [--clips] [--verify]

- ``--photos``: each photo (shared media, insightface's, scikit-image's astronaut) analysed as a
  photo as it is and darkened to 30%, mirrored, rotated 20 / -35 degrees, at half and double
  size, blurred, noisy and as JPEG quality 10: faces found (and their widths) per variant.
- ``--clips``: each photo turned into a 48-frame 1280x720 pan / zoom clip at three zooms (faces
  ~40-280 px) and two brightnesses (as is, 35%), analysed as a clip: tracks and frames per track.
- ``--verify``: for every track of ``--clips``, its best score and whether dlib's CNN detector
  confirms it (the tracker's verifier of tracks scoring below ``verify_below``).

With no section named, runs all three. Figures of 2026-12-01 are in docs/ARCHITECTURE.md
("False faces are checked") and that session's closing note.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
PHOTO_VARIANTS = ("as is", "dark", "mirror", "rot20", "rot-35", "x0.5", "x2", "blur", "noise", "jpeg10")
CLIP_CASES = (((1.0, 1.1), 1.0), ((0.6, 0.65), 1.0), ((1.0, 1.1), 0.35), ((0.45, 0.5), 1.0))


def photos() -> dict[str, np.ndarray]:
    """Name -> RGB uint8 photo, from what is installed (and ../shared/media when present)."""
    import insightface
    import skimage.data

    from deage.video import open_clip

    def load(path: Path) -> np.ndarray:
        with open_clip(path) as clip:
            return clip.read(0)

    found = {"astronaut": skimage.data.astronaut(),
             "t1 (6 faces)": load(Path(insightface.__file__).parent / "data" / "images" / "t1.jpg")}
    for name in ("fo_selfie_diverse_group.jpg", "source_s12.jpg", "source_s2.jpg", "source_s11.jpg",
                 "driving_d30.jpg", "driving_d19.jpg"):
        if (MEDIA / name).is_file():
            found[name] = load(MEDIA / name)
    return found


def variant(image: np.ndarray, kind: str) -> np.ndarray:
    h, w = image.shape[:2]
    if kind == "dark":
        return (image.astype(np.float32) * 0.3).astype(np.uint8)
    if kind == "mirror":
        return image[:, ::-1].copy()
    if kind.startswith("rot"):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(kind[3:]), 1.0)
        return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    if kind.startswith("x"):
        s = float(kind[1:])
        return cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    if kind == "blur":
        return cv2.GaussianBlur(image, (0, 0), 2.0)
    if kind == "noise":
        return np.clip(image + np.random.default_rng(0).normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    if kind == "jpeg10":
        _, data = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 10])
        return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    return image


def pan_zoom(image: np.ndarray, zoom: tuple[float, float], gain: float, frames: int = 48) -> list[np.ndarray]:
    """A 1280x720 clip slowly zooming from ``zoom[0]`` to ``zoom[1]`` (1 = the photo fits the frame)."""
    h, w = image.shape[:2]
    out = []
    for i in range(frames):
        t = i / (frames - 1)
        s = min(1280 / w, 720 / h) * (zoom[0] + (zoom[1] - zoom[0]) * t)
        m = np.float32([[s, 0, 640 - s * w / 2 + 20 * np.sin(3 * t)], [0, s, 360 - s * h / 2]])
        frame = cv2.warpAffine(image, m, (1280, 720), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)
        out.append(np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8) if gain != 1 else frame)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", action="store_true")
    parser.add_argument("--clips", action="store_true")
    parser.add_argument("--verify", action="store_true")
    args = parser.parse_args(argv)
    if not (args.photos or args.clips or args.verify):
        args.photos = args.clips = args.verify = True
    from deage.face.analysis import analyse_frames
    from deage.face.backends.dlib_backend import DlibFaceVerifier, to_gray

    images = photos()
    if args.photos:
        print("photos: faces found [box widths, px] per variant")
        for name, image in images.items():
            row = []
            for kind in PHOTO_VARIANTS:
                faces = analyse_frames([variant(image, kind)], 1).faces_at(0).values()
                row.append(f"{kind}: {len(faces)} {sorted(int(f.width) for f in faces)}")
            print(f"  {name}: " + "; ".join(row), flush=True)
    if args.clips or args.verify:
        verifier = DlibFaceVerifier() if args.verify else None
        print("clips (48 frames, 1280x720): tracks, frames per track" + (", best score / CNN confirms" if verifier else ""))
        for name, image in images.items():
            for zoom, gain in CLIP_CASES:
                frames = pan_zoom(image, zoom, gain)
                started = time.perf_counter()
                analysis = analyse_frames(frames, 24)
                line = (f"  {name}, zoom {zoom[0]}, gain {gain}: {len(analysis.tracks)} tracks, "
                        f"{[len(t.faces) for t in analysis.tracks]} ({time.perf_counter() - started:.1f} s)")
                if verifier is not None:
                    checks = []
                    for track in analysis.tracks:
                        index, face = max(track.faces.items(), key=lambda item: item[1].score)
                        checks.append(f"{face.score:.2f}/{verifier.confirms(to_gray(frames[index]), face.box)}")
                    line += " " + " ".join(checks)
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
