"""Scale figures: Ray render fps with 1 and 2 local workers, peak memory against clip length, GPU fps.

Usage::

    python benchmarks/scale.py [--ray] [--memory] [--gpu] [--seconds 4] [--workers 1,2]
                               [--lengths 200,2000] [--memory-size 640x360] [--look examples/looks/young10.json]

With no section named, runs ``--ray`` and ``--memory`` (and ``--gpu`` when torch sees CUDA).

- ``--ray``: the 720p example clip rendered by ``render_clip`` (one process, streamed) and by
  ``render_clip_ray`` on a local Ray cluster with 1 and 2 workers (ranges of ``--chunk`` frames),
  in the same run; Ray's start-up is timed apart (it is paid once per session). The outputs are
  checked to be byte-identical to the single-process one.
- ``--memory``: clips of each ``--lengths`` frame count are generated at ``--memory-size`` and
  analysed; each is then rendered in a child process run under ``/usr/bin/time -v``, whose
  "Maximum resident set size" is the peak memory. Flat in clip length = the streaming works.
- ``--gpu``: a 1080p clip rendered with ``device="cpu"`` and ``device="cuda"`` in one process, and
  on local Ray workers sharing the GPU (``--gpu-workers``), when torch sees CUDA. ``--gpu-clip``
  with ``--cache-dir`` uses a clip analysed elsewhere (a GPU machine without dlib's models).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent

from deage.face.analysis import analyse_clip  # noqa: E402
from deage.look import load_look  # noqa: E402
from deage.render import render_clip  # noqa: E402

sys.path.insert(0, str(_HERE))
from transcode import machine, measure_transcode  # noqa: E402

REPO = _HERE.parent


def example(folder: Path, frames: int, size: tuple[int, int], fps: int = 24) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_example_clip", REPO / "examples" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.make_example_clip(folder / f"clip_{frames}_{size[0]}x{size[1]}.mp4", seconds=frames / fps,
                                    fps=fps, size=size)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def section_ray(args, look) -> None:
    import ray

    from deage.scale.ray_render import render_clip_ray

    with tempfile.TemporaryDirectory(prefix="deage-bench-ray-") as tmp:
        folder = Path(tmp)
        clip = example(folder, int(args.seconds * 24), (1280, 720))
        analysis = analyse_clip(clip, cache_dir=folder / "cache")
        base = measure_transcode(clip)
        single = render_clip(clip, folder / "single.mp4", look, analysis=analysis, provenance=False)
        print(f"\n--ray: 1280x720, {single.frames} frames, ranges of {args.chunk} frames")
        print(f"  decode + encode                 {base['transcode_fps']:6.1f} fps")
        print(f"  render_clip, one process        {single.fps:6.1f} fps  ({single.fps / base['transcode_fps']:.2f}x)")
        workers = [int(w) for w in args.workers.split(",")]
        t0 = time.perf_counter()
        ray.init(num_cpus=max(workers), include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 configure_logging=False)
        print(f"  Ray start (local, {max(workers)} CPUs)      {time.perf_counter() - t0:6.1f} s")
        try:
            for n in workers:
                for attempt in ("first", "warm"):
                    out = folder / f"ray{n}.mp4"
                    out.unlink(missing_ok=True)
                    t0 = time.perf_counter()
                    result = render_clip_ray(clip, out, look, analysis=analysis, workers=n, chunk=args.chunk,
                                             work_dir=folder / "work", provenance=False, resume=False)
                    fps = result.frames / (time.perf_counter() - t0)
                    same = "byte-identical" if sha(out) == sha(single.output) else "DIFFERENT BYTES"
                    print(f"  render_clip_ray, {n} worker{'s' if n > 1 else ' '} ({attempt:5}) {fps:6.1f} fps  "
                          f"({fps / base['transcode_fps']:.2f}x; {same})")
        finally:
            ray.shutdown()


def section_memory(args, look) -> None:
    size = tuple(int(v) for v in args.memory_size.lower().split("x"))
    lengths = [int(n) for n in args.lengths.split(",")]
    print(f"\n--memory: peak resident memory of a render (child process under /usr/bin/time -v), {size[0]}x{size[1]}")
    with tempfile.TemporaryDirectory(prefix="deage-bench-mem-") as tmp:
        folder = Path(tmp)
        for frames in lengths:
            t0 = time.perf_counter()
            clip = example(folder, frames, size)
            made = time.perf_counter() - t0
            t0 = time.perf_counter()
            analyse_clip(clip, cache_dir=folder / "cache")
            analysed = time.perf_counter() - t0
            cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--child-render", str(clip),
                   str(folder / f"out{frames}.mp4"), str(folder / "cache"), args.look]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stdout, proc.stderr)
                raise SystemExit(f"child render failed ({proc.returncode})")
            peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
            fps = float(re.search(r"render fps ([\d.]+)", proc.stdout).group(1))
            print(f"  {frames:5d} frames: peak RSS {peak / 1024:7.1f} MiB, render {fps:5.1f} fps "
                  f"(clip made in {made:.0f} s, analysed in {analysed:.0f} s)")


def child_render(clip: str, out: str, cache: str, look_path: str) -> None:
    analysis = analyse_clip(clip, cache_dir=cache)
    result = render_clip(clip, out, load_look(look_path), analysis=analysis, provenance=False)
    print(f"render fps {result.fps:.2f}")


def _frame_difference(a: Path, b: Path) -> tuple[float, float]:
    """Largest and mean absolute difference (8-bit levels) between the decoded frames of two clips."""
    import numpy as np

    from deage.video import open_clip

    worst, total, count = 0.0, 0.0, 0
    with open_clip(a) as ca, open_clip(b) as cb:
        for fa, fb in zip(ca.frames(), cb.frames()):
            d = np.abs(fa.astype(np.int16) - fb.astype(np.int16))
            worst, total, count = max(worst, float(d.max())), total + float(d.mean()), count + 1
    return worst, total / max(count, 1)


def codec_stages(clip: Path, count: int = 48) -> dict:
    """Where a transcode's time goes, per frame: decoding without RGB conversion (fps), the RGB
    conversion and the encoder's conversion (ms, one thread), encoding converted frames (fps)."""
    from deage.video import ClipWriter, open_clip

    with open_clip(clip) as c:
        info = c.info
        t0 = time.perf_counter()
        decoded = [f for _, f in zip(range(count), c.deferred_frames())]
        decode_fps = len(decoded) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        rgb = [f() for f in decoded]
        to_rgb_ms = (time.perf_counter() - t0) / len(rgb) * 1e3
    with tempfile.TemporaryDirectory(prefix="deage-bench-stages-") as tmp:
        with ClipWriter(Path(tmp) / "out.mp4", fps=info.fps, width=info.width, height=info.height) as writer:
            writer.write(rgb[0])
            t0 = time.perf_counter()
            prepared = [writer.prepare(f) for f in rgb[1:]]
            prepare_ms = (time.perf_counter() - t0) / len(prepared) * 1e3
            t0 = time.perf_counter()
            for f in prepared:
                writer.write(f)
            encode_fps = len(prepared) / (time.perf_counter() - t0)
    return {"decode_fps": decode_fps, "to_rgb_ms": to_rgb_ms, "prepare_ms": prepare_ms, "encode_fps": encode_fps}


def per_frame_ms(clip: Path, look, analysis, device: str, count: int = 24) -> tuple[float, float]:
    """``FrameRenderer.render`` on one thread, after a warm-up: (ms per frame, of which the editor)."""
    import torch

    from deage.render import FrameRenderer
    from deage.video import open_clip

    renderer = FrameRenderer(look, analysis=analysis, device=device)
    spent = [0.0]
    edit = renderer.editor.edit

    def timed_edit(*a, **k):
        t = time.perf_counter()
        try:
            return edit(*a, **k)
        finally:
            spent[0] += time.perf_counter() - t

    renderer.editor.edit = timed_edit
    with open_clip(clip) as c:
        frames = list(c.frames(0, count + 2))
    for i in range(2):
        renderer.render(frames[i], i, analysis.faces_at(i), masks=False)
    spent[0] = 0.0
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(2, count + 2):
        renderer.render(frames[i], i, analysis.faces_at(i), masks=False)
    return (time.perf_counter() - t0) / count * 1e3, spent[0] / count * 1e3


def timed_render(clip: Path, out: Path, look, analysis, **kwargs):
    """``render_clip`` and its steady rate: frames after the first second over the time they took
    (worker start-up and the first frames' latency excluded)."""
    stamps: list[float] = []
    result = render_clip(clip, out, look, analysis=analysis, provenance=False,
                         progress=lambda done, total: stamps.append(time.perf_counter()), **kwargs)
    skip = min(24, len(stamps) - 2)
    steady = (len(stamps) - 1 - skip) / max(stamps[-1] - stamps[skip], 1e-9) if skip >= 0 else float("nan")
    return result, steady


def section_gpu(args, look) -> None:
    import torch

    if not torch.cuda.is_available():
        print("\n--gpu: torch sees no CUDA device here; skipped")
        return
    with tempfile.TemporaryDirectory(prefix="deage-bench-gpu-") as tmp:
        folder = Path(tmp)
        if args.gpu_clip:  # a clip made (and analysed, into --cache-dir) elsewhere
            clip = Path(args.gpu_clip)
            analysis = analyse_clip(clip, cache_dir=args.cache_dir)
        else:
            clip = example(folder, int(args.seconds * 24), (1920, 1080))
            analysis = analyse_clip(clip, cache_dir=folder / "cache")
        print(f"\n--gpu: {torch.cuda.get_device_name(0)}, torch {torch.__version__}; {analysis.width}x{analysis.height}, "
              f"{analysis.frame_count} frames (analysis {'from the cache' if analysis.from_cache else 'run here'})")
        base = measure_transcode(clip)
        print(f"  decode + encode                       {base['transcode_fps']:6.1f} fps  (decode alone "
              f"{base['decode_fps']:.1f} fps)")
        stages = codec_stages(clip)
        print(f"  stages: decode without RGB conversion {stages['decode_fps']:.1f} fps; RGB conversion "
              f"{stages['to_rgb_ms']:.1f} ms; encoder's conversion {stages['prepare_ms']:.1f} ms; encoding "
              f"converted frames {stages['encode_fps']:.1f} fps")
        for device in ("cpu", "cuda"):
            total, editor = per_frame_ms(clip, look, analysis, device)
            print(f"  FrameRenderer.render device={device:<4} one thread: {total:.1f} ms/frame (editor {editor:.1f} ms)")
        import cv2

        default_cv2 = cv2.getNumThreads()
        outputs = {}
        for cv2_threads in args.gpu_cv2_threads.split(","):
            cv2.setNumThreads(default_cv2 if cv2_threads == "default" else int(cv2_threads))
            for device in ("cpu", "cuda"):
                for threads in (int(t) for t in args.gpu_threads.split(",") if t):
                    out = folder / f"{device}{threads}.mp4"
                    r, steady = timed_render(clip, out, look, analysis, device=device, workers=threads)
                    outputs.setdefault(device, out)
                    print(f"  render_clip device={device:<4} {threads:2d} thread{'s' if threads > 1 else ' '} "
                          f"cv2 threads {cv2.getNumThreads():2d}  {r.fps:6.1f} fps  "
                          f"({r.fps / base['transcode_fps']:.2f}x transcode; after the first second {steady:.1f} fps)")
        cv2.setNumThreads(default_cv2)
        for device in ("cpu", "cuda"):
            for n in (int(p) for p in args.gpu_processes.split(",") if p):
                out = folder / f"{device}p{n}.mp4"
                r, steady = timed_render(clip, out, look, analysis, device=device, processes=n)
                outputs.setdefault(device, out)
                same = sha(out) == sha(outputs[device])
                print(f"  render_clip device={device:<4} {n:2d} processes             {r.fps:6.1f} fps  "
                      f"({r.fps / base['transcode_fps']:.2f}x transcode; after the first second {steady:.1f} fps; "
                      f"{'same file as' if same else 'DIFFERS from'} the threaded render)")
        worst, mean = _frame_difference(outputs["cpu"], outputs["cuda"])
        print(f"  cpu vs cuda output, decoded frames: max {worst:.0f} levels, mean {mean:.3f} levels")
        try:
            import ray
        except ImportError:
            print("  (ray is not installed here: the Ray figures are skipped)")
            return
        from deage.scale.ray_render import render_clip_ray

        for n in (int(w) for w in args.gpu_workers.split(",")):
            ray.init(num_cpus=n, num_gpus=1, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, configure_logging=False)
            try:
                for device, gpus in (("cpu", 0.0), ("cuda", 1.0 / n), ("cuda", 1.0 / n)):
                    t0 = time.perf_counter()
                    result = render_clip_ray(clip, folder / f"ray{n}{device}.mp4", look, analysis=analysis, workers=n,
                                             chunk=args.chunk, device=device, gpus_per_task=gpus,
                                             work_dir=folder / "work", provenance=False, resume=False)
                    fps = result.frames / (time.perf_counter() - t0)
                    print(f"  render_clip_ray {n:2d} workers device={device:<4} {fps:6.1f} fps")
            finally:
                ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child-render":
        child_render(*argv[1:5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the --ray and --gpu clips")
    parser.add_argument("--workers", default="1,2", help="local Ray workers for --ray")
    parser.add_argument("--gpu-workers", default="4,12", help="local Ray workers for --gpu")
    parser.add_argument("--gpu-threads", default="1,4,8,14", help="editing threads of render_clip for --gpu")
    parser.add_argument("--gpu-processes", default="4,8,12",
                        help="worker processes of render_clip to try for --gpu (comma-separated; empty: none)")
    parser.add_argument("--gpu-cv2-threads", default="default",
                        help="OpenCV thread counts to try for --gpu (comma-separated; 'default' = OpenCV's own)")
    parser.add_argument("--chunk", type=int, default=24, help="frames per Ray range")
    parser.add_argument("--lengths", default="200,2000", help="clip lengths (frames) for --memory")
    parser.add_argument("--memory-size", default="640x360", help="frame size for --memory")
    parser.add_argument("--look", default=str(REPO / "examples" / "looks" / "young10.json"))
    parser.add_argument("--gpu-clip", default=None, help="for --gpu: use this clip instead of generating one")
    parser.add_argument("--cache-dir", default=None, help="for --gpu-clip: its analysis cache folder")
    args = parser.parse_args(argv)
    if not (args.ray or args.memory or args.gpu):
        import torch

        args.ray = args.memory = True
        args.gpu = torch.cuda.is_available()
    m = machine()
    print(f"machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}; python {m['python']}, "
          f"PyAV {m['pyav']}; load average {os.getloadavg()[0]:.1f}")
    look = load_look(args.look)
    if args.ray:
        section_ray(args, look)
    if args.memory:
        section_memory(args, look)
    if args.gpu:
        section_gpu(args, look)
    return 0


if __name__ == "__main__":
    sys.exit(main())
