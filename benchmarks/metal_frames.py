"""Thin metal glasses frames (silver, gold, gunmetal): found, left alone by the de-ager, kept by a swap.

Usage::

    python benchmarks/metal_frames.py [--faces astronaut,driving_d30,...] [--no-renders] [--degraded]

A pair of glasses 0.015 eye distances thick (``tests/facehelpers.wear_glasses``) in dark, silver,
gold and gunmetal is drawn on each face (the astronaut and the shared media's photos where
present). Printed per face and colour: how surely the frames are found on the FFHQ crop
(``find_glasses``'s ``present``) and the share of the drawn frame found; unless ``--no-renders``,
the change over the frame (levels, max over RGB; the frame eroded by a pixel, inside the face's
landmark hull) when the photo is de-aged by 30 years (mean / max), and when it is swapped with
``examples/looks/swap.json`` with ``glasses`` 1 and 0 (mean: kept / taken off).

``--degraded`` adds eight degraded copies of each picture (scaled to 35-100 %, blurred, noisy,
4:2:0 chroma, JPEG 25-90), bare and with each colour, and counts the copies with glasses found
(``present`` over 0.5) and the bare ones with anything found. Each degraded face is found again
on its picture, as a render would.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

DARK = (40, 35, 30)
THICKNESS = 0.015


def degraded(image: np.ndarray, i: int, rng: np.random.Generator) -> np.ndarray:
    """Copy ``i`` (0..7) of ``image`` (RGB uint8): scaled, blurred on every third, noisy on every
    second, chroma at half resolution (4:2:0), then JPEG."""
    scale = (1.0, 0.7, 0.5, 0.35)[i % 4]
    out = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image.copy()
    if i % 3 == 1:
        out = cv2.GaussianBlur(out, (0, 0), 1.2)
    if i % 2 == 1:
        out = np.clip(out + rng.normal(0, 5, out.shape), 0, 255).astype(np.uint8)
    ycc = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb)
    h, w = out.shape[:2]
    for c in (1, 2):
        half = cv2.resize(ycc[..., c], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        ycc[..., c] = cv2.resize(half, (w, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    quality = (25, 45, 70, 90)[(i // 2) % 4]
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", default="astronaut,driving_d19,driving_d30,source_s11,source_s12,source_s2")
    ap.add_argument("--no-renders", action="store_true", help="only the search, no de-age or swap render")
    ap.add_argument("--degraded", action="store_true", help="also count finds on degraded copies")
    args = ap.parse_args()
    from conftest import shared_stills
    from facehelpers import GOLD, GUNMETAL, SILVER, largest_face, wear_glasses
    from skimage import data

    from deage.edit.base import crop_size_for
    from deage.face.align import align_face
    from deage.face.glasses import find_glasses
    from deage.look import Look, load_look
    from deage.render import render_image

    colours = {"dark": DARK, "silver": SILVER, "gold": GOLD, "gunmetal": GUNMETAL}
    names = args.faces.split(",")
    faces = {"astronaut": data.astronaut()} | shared_stills(*[n for n in names if n != "astronaut"])
    young = Look.from_dict({"editor": "makeup", "edit": {"years": 30}, "blend": {"mode": "multiband", "feather": 8}})
    swap = load_look(REPO / "examples" / "looks" / "swap.json").to_dict()

    def swapped(image: np.ndarray, glasses: float) -> np.ndarray:
        look = json.loads(json.dumps(swap))
        look["edit"]["glasses"] = glasses
        return render_image(image, Look.from_dict(look))

    print(f"{'face':12s} {'frame':9s} {'present':>7s} {'found':>6s} {'de-age mean/max':>16s} {'swap kept/off':>14s}")
    for name in (n for n in names if n in faces):
        image = faces[name]
        face = largest_face(image)
        hull = np.zeros(image.shape[:2], np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(face.landmarks[:27]).astype(np.int32)), 1)
        for colour, rgb in colours.items():
            worn, drawn = wear_glasses(image, face, rgb, THICKNESS)
            aligned = align_face(worn, face, "ffhq", crop_size_for(face))
            glasses = find_glasses(aligned.image, aligned.landmarks)
            on_crop = cv2.warpAffine(drawn.astype(np.float32), aligned.matrix[:2].astype(np.float64),
                                     (aligned.size, aligned.size)) > 0.5
            reach = cv2.resize(glasses.frames, (aligned.size, aligned.size)) > 0.3
            line = f"{name:12s} {colour:9s} {glasses.present:7.2f} {(reach & on_crop).sum() / on_crop.sum():6.2f}"
            if not args.no_renders:
                frame = (cv2.erode(drawn.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & (hull > 0)
                change = np.abs(render_image(worn, young).astype(np.int16) - worn).max(-1)[frame]
                kept, off = (np.abs(swapped(worn, g).astype(np.int16) - worn).max(-1)[frame].mean() for g in (1.0, 0.0))
                line += f" {change.mean():8.2f} / {change.max():4d} {kept:7.1f} / {off:4.1f}"
            print(line, flush=True)
    if args.degraded:
        from facehelpers import detect_faces

        rng = np.random.default_rng(0)
        counts = {c: [0, 0] for c in ("bare", *colours)}
        for name in (n for n in names if n in faces):
            image = faces[name]
            face = largest_face(image)
            for colour in counts:
                picture = image if colour == "bare" else wear_glasses(image, face, colours[colour], THICKNESS)[0]
                for i in range(8):
                    copy = degraded(picture, i, rng)
                    found = detect_faces(copy)
                    if not found:
                        continue
                    near = min(found, key=lambda f: float(np.linalg.norm(f.box - face.box * copy.shape[1] / image.shape[1])))
                    aligned = align_face(copy, near, "ffhq", crop_size_for(near))
                    present = find_glasses(aligned.image, aligned.landmarks).present
                    counts[colour][0] += 1
                    counts[colour][1] += int(present > 0 if colour == "bare" else present > 0.5)
        for colour, (seen, hits) in counts.items():
            what = "with anything found" if colour == "bare" else "with glasses found"
            print(f"degraded copies, {colour:9s}: {hits:3d} of {seen:3d} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
