"""Full-clip render speed with the embedded de-ager, as a ratio to decode + encode of the same clip.

Usage::

    python benchmarks/deage.py [--sizes 1280x720,1920x1080] [--seconds 4] [--look examples/looks/young10.json]
                               [--workers 1,2] [--device cpu] [--repeat 1] [--profile]

For each size the example clip (real face, camera motion, audio) is generated into a temporary
folder; its analysis is computed first (reported, then excluded: it is cached once per clip);
then, in the same run, the baseline (``measure_transcode``: decode to RGB arrays + ClipWriter's
H.264 encode, audio copied) and ``render_clip`` with the Look (decode -> align -> edit ->
composite -> encode, streamed) for each editing-thread count. The figure to read is
``render / transcode``: these machines are noisy, the ratio within one run is what holds.
``--profile`` adds where the render's time goes (cProfile of the frame renderer alone, by stage).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent

from deage.face.analysis import analyse_clip  # noqa: E402
from deage.look import load_look  # noqa: E402
from deage.render import FrameRenderer, render_clip  # noqa: E402
from deage.video import open_clip  # noqa: E402

sys.path.insert(0, str(_HERE))
from transcode import machine, make_example, measure_transcode  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# Functions whose cumulative time is reported by --profile: the stages of one frame.
_STAGES = {
    "align (warp to the 512/1024 crop)": "align.py(align_face)",
    "editor: makeup (whole)": "editor.py(retouch)",
    "  regions / masks": "masks.py(face_regions)",
    "  wrinkles (texture)": "texture.py(wrinkle_delta)",
    "  tone": "tone.py(tone_delta)",
    "  creases": "creases.py(find_creases)",
    "  shape flow": "shape.py(shape_flow)",
    "composite (whole)": "composite.py(composite)",
    "  retouch into the frame": "composite.py(_apply_retouch)",
    "  multiband blend": "pyramid.py(multiband_blend)",
    "  alpha blend": "feather.py(alpha_blend)",
}


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def render_fps(clip: Path, look, analysis, workers: int, device: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(max(repeat, 1)):
        with tempfile.TemporaryDirectory(prefix="deage-bench-render-") as tmp:
            t0 = time.perf_counter()
            result = render_clip(clip, Path(tmp) / "out.mp4", look, analysis=analysis, workers=workers,
                                 device=device, provenance=False)
            best = min(best, time.perf_counter() - t0)
    return result.frames / best


def profile_frames(clip: Path, look, analysis, count: int = 24) -> None:
    """cProfile of FrameRenderer.render over ``count`` decoded frames, summed by stage (ms/frame)."""
    renderer = FrameRenderer(look, analysis=analysis)
    with open_clip(clip) as c:
        frames = [c.read(i) for i in range(min(count, len(c)))]
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for i, frame in enumerate(frames):
        renderer.render(frame, i, analysis.faces_at(i))
    profiler.disable()
    wall = (time.perf_counter() - t0) / len(frames) * 1000
    stats = pstats.Stats(profiler).stats
    by_name: dict[str, float] = {}  # "file.py(function)" -> cumulative seconds (line numbers drift)
    for k, v in stats.items():
        key = f"{Path(k[0]).name}({k[2]})"
        by_name[key] = by_name.get(key, 0.0) + v[3]
    print(f"  profile of FrameRenderer.render, {len(frames)} frames, one thread: {wall:.1f} ms/frame (with profiler)")
    for label, key in _STAGES.items():
        seconds = by_name.get(key)
        if seconds is not None:
            print(f"    {label:<36} {seconds / len(frames) * 1000:6.1f} ms/frame")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1280x720,1920x1080", help="comma-separated WxH (default 720p and 1080p)")
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length (default 4 s at 24 fps)")
    parser.add_argument("--look", default=str(REPO / "examples" / "looks" / "young10.json"))
    parser.add_argument("--workers", default="1,2", help="editing threads to try (default 1,2)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement; the best is kept")
    parser.add_argument("--profile", action="store_true", help="also show where one frame's time goes")
    args = parser.parse_args(argv)

    m = machine()
    print(f"machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}; "
          f"python {m['python']}, PyAV {m['pyav']}, libavcodec {m['libavcodec']}")
    look = load_look(args.look)
    print(f"look: {Path(args.look).name} (editor {look.editor}, blend {look.blend}); device {args.device}")
    workers = [int(w) for w in args.workers.split(",")]
    for size in (parse_size(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="deage-bench-") as tmp:
            folder = Path(tmp)
            clip = make_example_sized(folder, args.seconds, size)
            t0 = time.perf_counter()
            analysis = analyse_clip(clip, cache_dir=folder / "cache")
            analysis_s = time.perf_counter() - t0
            base = measure_transcode(clip, repeat=args.repeat)
            print(f"\n{size[0]}x{size[1]}, {base['frames']} frames: analysis {base['frames'] / analysis_s:.1f} fps "
                  f"(once per clip, cached; not in the figures below)")
            print(f"  decode only        {base['decode_fps']:7.1f} fps")
            print(f"  decode + encode    {base['transcode_fps']:7.1f} fps   (baseline = 1.00x)")
            for w in workers:
                fps = render_fps(clip, look, analysis, w, args.device, args.repeat)
                print(f"  render, {w} thread{'s' if w > 1 else ' '}  {fps:7.1f} fps   "
                      f"{fps / base['transcode_fps']:.2f}x the transcode")
            again = measure_transcode(clip, repeat=1)
            print(f"  decode + encode    {again['transcode_fps']:7.1f} fps   (measured again after the renders)")
            if args.profile:
                profile_frames(clip, look, analysis)
    return 0


def make_example_sized(folder: Path, seconds: float, size: tuple[int, int]) -> Path:
    """The example clip at ``size`` (examples/make_example_clip.py)."""
    if size == (1280, 720):
        return make_example(folder, seconds)
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example_clip", REPO / "examples" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.make_example_clip(folder / f"example_{size[0]}x{size[1]}.mp4", seconds=seconds, size=size)


if __name__ == "__main__":
    sys.exit(main())
