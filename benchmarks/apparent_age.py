"""How much younger the de-ager makes faces look, by the embedded apparent-age estimator.

Usage::

    python benchmarks/apparent_age.py [--years 10,20,30 | --target-age 25,35] [--look LOOK.json] [--set NAME=VALUE ...]

Each photo of ``edit_reach.photos()`` (astronaut, insightface's t1 and the shared media's photos
when ../shared/media is there) and matplotlib's portrait of Grace Hopper (about 77: the one old face) is analysed once and rendered in memory at each ``--years``
(``--set`` overrides one of the makeup editor's parameters, e.g. ``--set hollows=0.8``), or at each
``--target-age`` (every face made to look that age: each gets the years it looks older).
Printed per face: its apparent age on the photo, the change after each render (years; negative is
younger, ``AgeEstimator.compare``: the same 14 chips on both) and the identity distance (dlib
128-d, same person < 0.6); then the mean change over the faces older than ``--older`` (a face
that already looks 25 has little to lose), and over all faces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edit_reach import photos  # noqa: E402


def parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", default="10,20,30", help="comma-separated years younger")
    ap.add_argument("--target-age", default=None, help="comma-separated target ages (instead of --years)")
    ap.add_argument("--look", help="a Look JSON (default: the default look); its edit's years are replaced")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override an edit parameter")
    ap.add_argument("--older", type=float, default=30.0, help="faces at least this old count in the first mean")
    args = ap.parse_args()

    import cv2
    import matplotlib

    from deage.face.analysis import AnalysisSettings, analyse_frames
    from deage.face.apparent_age import AgeEstimator
    from deage.face.detect import make_recognizer
    from deage.look import Look, default_look, load_look
    from deage.render import render_image

    if args.target_age:
        columns = [(f"to {float(a):g}", {"target_age": float(a)}) for a in args.target_age.split(",")]
    else:
        columns = [(f"{float(y):g}y", {"years": float(y)}) for y in args.years.split(",")]
    base = (load_look(args.look) if args.look else default_look()).to_dict()
    overrides = {n: parse_value(v) for n, v in (item.split("=", 1) for item in args.set)}
    estimator, recognizer = AgeEstimator(), make_recognizer("dlib")
    rows: list[tuple[str, float, list[float], list[float]]] = []
    print(f"{'photo':<28} {'face':>4} {'age':>5}  " + "  ".join(f"{label:>6}  (id)" for label, _ in columns))
    pictures = photos()
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    pictures["grace_hopper"] = cv2.cvtColor(cv2.imread(str(hopper)), cv2.COLOR_BGR2RGB)
    for name, image in pictures.items():
        analysis = analyse_frames([image], 1, AnalysisSettings())
        faces = [f for f in analysis.faces_at(0).values() if f.landmarks is not None]
        changes = [[0.0] * len(columns) for _ in faces]
        ids = [[0.0] * len(columns) for _ in faces]
        ages = estimator.estimate(image, faces)
        for k, (_, setting) in enumerate(columns):
            look = dict(base, edit={**base.get("edit", {}), **setting, **overrides})
            out = render_image(image, Look.from_dict(look))
            src, dst = estimator.compare(image, out, faces)
            for i, face in enumerate(faces):
                changes[i][k] = float(dst[i] - src[i])
                ids[i][k] = float(recognizer.distance(recognizer.describe(image, face), recognizer.describe(out, face)))
        for i in range(len(faces)):
            rows.append((name, float(ages[i]), changes[i], ids[i]))
            cells = "  ".join(f"{c:+6.1f} ({d:.2f})" for c, d in zip(changes[i], ids[i]))
            print(f"{name[:28]:<28} {i:>4} {ages[i]:5.1f}  {cells}", flush=True)
    for label, keep in ((f"faces >= {args.older:g}", lambda a: a >= args.older), ("all faces", lambda a: True)):
        chosen = [r for r in rows if keep(r[1])]
        if chosen:
            mean = np.mean([r[2] for r in chosen], axis=0)
            ident = np.max([r[3] for r in chosen], axis=0)
            print(f"mean change, {label} ({len(chosen)}): " + "  ".join(
                f"{label} {m:+.1f} (id max {d:.2f})" for (label, _), m, d in zip(columns, mean, ident)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
