"""Milliseconds per face for the makeup edit and the composite, at 512 and 1024 crops.

Run: .venv/bin/python benchmarks/deage_edit.py [--repeats 20] [--years 20]

Faces, in the makeup editor's "head" crop as the render makes it: a 720p frame of
shared/media/source_s18.mp4 (a 268 px face, edited at 512) and shared/media/driving_d19.jpg
(a 385 px face, edited at 1024); without shared media, the
scikit-image astronaut placed in a 720p frame (512 only). The figures are the median and the
best of ``repeats`` runs (this machine is shared: the best run is the least disturbed one).
The render budget at 720p is about 30 ms per face for edit + composite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from deage.blend.composite import composite  # noqa: E402
from deage.blend.params import BlendParams  # noqa: E402
from deage.edit.makeup import MakeupEditor, MakeupParams  # noqa: E402
from deage.face.align import align_face  # noqa: E402


def _faces() -> list[tuple[str, np.ndarray, object, int]]:
    from facehelpers import largest_face  # dlib directly (tests/facehelpers.py)

    shared = REPO.parent / "shared" / "media"
    out = []
    if (shared / "source_s18.mp4").is_file():
        import av

        with av.open(str(shared / "source_s18.mp4")) as clip:
            frame = next(iter(clip.decode(video=0))).to_ndarray(format="rgb24")
        out.append(("source_s18 720p", frame, largest_face(frame), 512))
    if (shared / "driving_d19.jpg").is_file():
        import cv2

        image = cv2.cvtColor(cv2.imread(str(shared / "driving_d19.jpg")), cv2.COLOR_BGR2RGB)
        out.append(("driving_d19 720x720", image, largest_face(image), 1024))
    if not out:
        from skimage import data

        frame = np.zeros((720, 1280, 3), np.uint8)
        frame[100:612, 400:912] = data.astronaut()
        out.append(("astronaut in 720p", frame, largest_face(frame), 512))
    return out


def _time(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(runs), min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--years", type=float, default=20.0)
    args = parser.parse_args()
    editor = MakeupEditor()
    params = MakeupParams(years=args.years)
    print(f"makeup edit + composite, years={args.years:g}, {args.repeats} runs each (median / best, ms)")
    template = editor.template  # the render's crop for this editor
    for name, frame, face, size in _faces():
        aligned = align_face(frame, face, template, size)
        result = editor.edit(aligned, params)
        align = _time(lambda: align_face(frame, face, template, size), args.repeats)
        edit = _time(lambda: editor.edit(aligned, params), args.repeats)
        work = editor.working_size(aligned)
        line = f"{name:22s} crop {size:4d} (work {work}): align {align[0]:5.1f} / {align[1]:5.1f}" \
               f"  edit {edit[0]:5.1f} / {edit[1]:5.1f}"
        for mode in ("feather", "multiband", "poisson"):
            blend = BlendParams(mode=mode)
            runs = max(3, args.repeats // (4 if mode == "poisson" else 1))
            comp = _time(lambda: composite(frame, aligned, result, blend), runs)
            line += f"  {mode} {comp[0]:5.1f} / {comp[1]:5.1f}"
        print(line)
        total = _time(lambda: composite(frame, align_face(frame, face, template, size),
                                        editor.edit(align_face(frame, face, template, size), params)), args.repeats)
        print(f"{'':22s} align + edit + feather composite per face: {total[0]:5.1f} / {total[1]:5.1f}")


if __name__ == "__main__":
    main()
