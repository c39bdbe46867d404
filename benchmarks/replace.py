"""Face-replacement throughput at 720p with the embedded swap editor, as a ratio to the transcode baseline.

Usage::

    python benchmarks/replace.py [CLIP] [--look examples/looks/swap.json] [--repeat 1]

Without CLIP the example clip (4 s, 1280x720, 24 fps, one real face) is generated into a temporary
folder. In the same run it measures the transcode baseline (``benchmarks/transcode.py``: decode +
H.264 encode with ClipWriter's defaults), the face analysis pass, and the replacement render
(``render_clip`` with the swap look and the precomputed analysis: decode, edit every face,
composite, encode, provenance), and prints the replacement fps and its ratio to the transcode fps.
The machines are noisy: compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
sys.path.insert(0, _HERE)
from transcode import machine, make_example, measure_transcode  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def measure_replace(clip: Path, look_path: Path, repeat: int = 1) -> dict:
    """Analysis and replacement-render throughput of ``clip`` with the look at ``look_path``."""
    from deage.face.analysis import analyse_clip
    from deage.look import load_look
    from deage.render import render_clip

    look = load_look(look_path)
    with tempfile.TemporaryDirectory(prefix="deage-bench-replace-") as tmp:
        t0 = time.perf_counter()
        analysis = analyse_clip(clip, cache_dir=tmp, use_cache=False)
        analyse_s = time.perf_counter() - t0
        runs, faces, frames = [], 0, 0
        for i in range(max(repeat, 1)):
            out = Path(tmp) / f"replaced{i}.mp4"
            t0 = time.perf_counter()
            result = render_clip(clip, out, look, analysis=analysis)
            runs.append(time.perf_counter() - t0)
            faces, frames = result.faces_edited, result.frames
    best = min(runs)
    return {"frames": frames, "faces": faces, "analyse_fps": frames / analyse_s, "replace_fps": frames / best,
            "replace_s": best, "replace_median_s": statistics.median(runs), "analyse_s": analyse_s}


def per_face_ms(look_path: Path, repeat: int = 10) -> dict:
    """Median milliseconds of the swap edit and of the composite for one face of the example clip's
    first frame (no decode or encode)."""
    import numpy as np

    from deage.blend.composite import composite
    from deage.blend.params import BlendParams
    from deage.edit.base import crop_size_for
    from deage.edit.swap import SwapEditor, SwapParams
    from deage.face.align import align_face
    from deage.face.backends.dlib_backend import DlibDetector
    from deage.look import load_look

    sys.path.insert(0, str(REPO / "examples"))
    from make_example_clip import render_frame  # noqa: E402
    from skimage import data

    frame = render_frame(data.astronaut(), 0, 96, (1280, 720))
    face = DlibDetector().detect(frame)[0]
    look = load_look(look_path)
    editor = SwapEditor()
    editor.prepare(look)
    params = SwapParams.from_dict(look.edit)
    blend = BlendParams.from_dict(look.blend)
    aligned = align_face(frame, face, "ffhq", crop_size_for(face))
    result = editor.edit(aligned, params)

    def timed(fn) -> float:
        fn()
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - t) * 1000.0)
        return float(np.median(runs))

    return {"crop": aligned.size, "edit_ms": timed(lambda: editor.edit(aligned, params)),
            "composite_ms": timed(lambda: composite(frame, aligned, result, blend))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", type=Path, help="clip to measure (default: generate the example clip)")
    parser.add_argument("--look", type=Path, default=REPO / "examples" / "looks" / "swap.json")
    parser.add_argument("--repeat", type=int, default=1, help="renders; the best is reported")
    args = parser.parse_args(argv)
    m = machine()
    print(f"machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}; python {m['python']}, "
          f"PyAV {m['pyav']}")
    with tempfile.TemporaryDirectory(prefix="deage-bench-clip-") as tmp:
        clip = args.clip if args.clip is not None else make_example(Path(tmp))
        base = measure_transcode(clip, repeat=args.repeat)
        rep = measure_replace(clip, args.look, repeat=args.repeat)
        face = per_face_ms(args.look)
        print(f"clip: {clip.name if args.clip is None else clip} {base['width']}x{base['height']}, "
              f"{base['frames']} frames, {rep['faces']} faces replaced; look {args.look.name}")
        print(f"transcode (decode + H.264 encode): {base['transcode_fps']:7.1f} fps")
        print(f"face analysis (dlib, cached after): {rep['analyse_fps']:7.1f} fps")
        print(f"replacement render:                {rep['replace_fps']:7.1f} fps  "
              f"= {rep['replace_fps'] / base['transcode_fps']:.2f} x transcode")
        print(f"per face, crop {face['crop']}: swap edit {face['edit_ms']:.1f} ms, "
              f"composite {face['composite_ms']:.1f} ms (median of 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
