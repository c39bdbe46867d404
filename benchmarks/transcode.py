"""Decode-only and decode+encode throughput of a clip: the baseline for every throughput figure.

Usage::

    python benchmarks/transcode.py [CLIP] [--codec h264] [--repeat 1]

Without CLIP the example clip (4 s, 1280x720, 24 fps, real face) is generated into a temporary
folder. Decode = ``open_clip(...).frames()`` to RGB uint8 arrays; transcode = the same frames
written by ``ClipWriter`` with its default settings for the codec (H.264: CRF 16, preset medium),
audio copied, to a temporary file. Other benchmarks divide their figures by these (the machines
are noisy: compare ratios measured in the same run)::

    sys.path.insert(0, str(Path(__file__).parent))
    from transcode import measure_transcode
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import av

from deage.video import ClipWriter, open_clip

REPO = Path(__file__).resolve().parents[1]


def machine() -> dict:
    """Cores, CPU model and library versions of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu": model,
        "python": platform.python_version(),
        "pyav": av.__version__,
        "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
    }


def make_example(folder: Path, seconds: float = 4.0) -> Path:
    """Generate the example clip into ``folder`` (examples/make_example_clip.py)."""
    spec = importlib.util.spec_from_file_location("make_example_clip", REPO / "examples" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.make_example_clip(folder / "example.mp4", seconds=seconds)


def measure_transcode(path: str | Path, codec: str = "h264", repeat: int = 1) -> dict:
    """Throughput of decoding ``path`` to RGB arrays, and of decoding + encoding it.

    Returns:
        ``{"decode_fps", "transcode_fps", "frames", "width", "height", "codec", "decode_s",
        "transcode_s"}``; with ``repeat > 1`` the best of the runs is kept.
    """
    path = Path(path)
    with open_clip(path) as clip:
        info = clip.info
    ext = {"h264": ".mp4", "h264-lossless": ".mp4", "prores": ".mov", "prores4444": ".mov", "ffv1": ".mkv"}.get(
        codec, ".mp4"
    )
    best_decode = best_transcode = float("inf")
    frames = 0
    for _ in range(max(repeat, 1)):
        with open_clip(path) as clip:
            t0 = time.perf_counter()
            frames = sum(1 for _ in clip.frames())
            best_decode = min(best_decode, time.perf_counter() - t0)
        with tempfile.TemporaryDirectory(prefix="deage-bench-") as tmp, open_clip(path) as clip:
            out = Path(tmp) / f"out{ext}"
            t0 = time.perf_counter()
            with ClipWriter(out, fps=info.fps, width=info.width, height=info.height, codec=codec,
                            audio_from=path if info.has_audio else None, inputs=(path,)) as writer:
                for frame in clip.frames():
                    writer.write(frame)
            best_transcode = min(best_transcode, time.perf_counter() - t0)
    return {
        "decode_fps": frames / best_decode,
        "transcode_fps": frames / best_transcode,
        "frames": frames,
        "width": info.width,
        "height": info.height,
        "codec": codec,
        "decode_s": best_decode,
        "transcode_s": best_transcode,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", type=Path, help="clip to measure (default: generate the example clip)")
    parser.add_argument("--codec", default="h264", help="output codec for the transcode (default h264)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best is reported")
    args = parser.parse_args(argv)
    m = machine()
    print(f"machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}; "
          f"python {m['python']}, PyAV {m['pyav']}, libavcodec {m['libavcodec']}")
    with tempfile.TemporaryDirectory(prefix="deage-bench-clip-") as tmp:
        clip = args.clip if args.clip is not None else make_example(Path(tmp))
        r = measure_transcode(clip, codec=args.codec, repeat=args.repeat)
        print(f"clip: {clip.name if args.clip is None else clip} {r['width']}x{r['height']}, {r['frames']} frames")
        print(f"decode only:     {r['decode_fps']:7.1f} fps  ({r['decode_s']:.2f} s)")
        print(f"decode + encode: {r['transcode_fps']:7.1f} fps  ({r['transcode_s']:.2f} s, {r['codec']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
