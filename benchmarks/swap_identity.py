"""How much a swapped face looks like its source, by the swap's ``shape`` (or any other setting).

Usage::

    python benchmarks/swap_identity.py [--shape 0,0.25,0.5,0.75,1] [--set NAME=VALUE ...]

The 21 source -> target pairs of tests/test_swap.py (``tests/swap_pairs.py``: real photos from
installed packages and ../shared/media) are swapped with the embedded editor at each ``--shape``
(``--set`` overrides another swap parameter, JSON values: ``--set folds=0``) and composited
multi-band, as the tests do. Printed per setting: the identity margin (dlib 128-d distance of the
re-found face to the target's own face less its distance to the source photo's; positive: nearer
the source), its mean and how many pairs are positive; and how far the re-found inner landmarks
lie from the target's own (mean / max over the pairs, in eye distances): the price in pose and
expression. Needs ../shared/media. dlib is a yardstick, not a verdict on likeness.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from apparent_age import parse_value  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="0,0.25,0.5,0.75,1", help="comma-separated swap 'shape' values")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a swap parameter")
    args = ap.parse_args()

    from conftest import SHARED
    from swap_pairs import PAIRS, nearest, source_specs, swap_targets

    from deage.blend.composite import composite
    from deage.blend.params import BlendParams
    from deage.edit.base import crop_size_for
    from deage.edit.swap import SwapEditor, SwapParams
    from deage.face.align import align_face
    from deage.face.backends.dlib_backend import DlibDetector, DlibRecognizer
    from deage.face.masks import FaceFrame

    media = SHARED / "media"
    if not media.is_dir():
        print(f"needs the shared media ({media})", file=sys.stderr)
        return 2
    detector, recognizer = DlibDetector(), DlibRecognizer()
    targets, specs = swap_targets(detector, media), source_specs(media)
    own = {name: recognizer.describe(frame, face) for name, (frame, face) in targets.items()}
    overrides = {n: parse_value(v) for n, v in (item.split("=", 1) for item in args.set)}
    editor = SwapEditor()
    consent = {"name": "benchmark subject", "reference": "benchmark fixture, not for publication"}
    blend = BlendParams(mode="multiband", feather=8)
    print(f"{len(PAIRS)} pairs; margin = distance to the target - distance to the source (dlib)")
    for shape in (float(v) for v in args.shape.split(",")):
        margins, moved = [], []
        for source_name, target_name in PAIRS:
            frame, face = targets[target_name]
            params = SwapParams.from_dict({"sources": {source_name: {**specs[source_name], "consent": consent}},
                                           "shape": shape, **overrides})
            aligned = align_face(frame, face, "ffhq", crop_size_for(face))
            out = composite(frame, aligned, editor.edit(aligned, params), blend)
            found = nearest(detector.detect(out), face)
            after = recognizer.describe(out, found)
            margins.append(recognizer.distance(after, own[target_name])
                           - recognizer.distance(after, editor.sources[source_name].descriptor))
            lm = face.landmarks
            moved.append(float(np.linalg.norm(found.landmarks[17:] - lm[17:], axis=1).mean())
                         / FaceFrame.from_landmarks(lm).eye_distance)
        m = np.array(margins)
        print(f"shape {shape:4.2f}: margin mean {m.mean():.4f}, {int((m > 0).sum())}/{len(m)} nearer the source, "
              f"worst {m.min():+.3f}; inner landmarks from the target's {np.mean(moved):.3f} / {np.max(moved):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
