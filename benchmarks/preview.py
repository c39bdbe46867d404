"""Slider-change-to-new-preview latency of the notebook preview, at 720p and 1080p.

Run: .venv/bin/python benchmarks/preview.py [--changes 60] [--sizes 1280x720,1920x1080] [--seconds 1]

For each size it builds the real-face example clip (examples/make_example_clip.py, the
astronaut), analyses it once, then times ``--changes`` slider changes through
``deage.preview`` exactly as the studio runs them: a change is submitted to ``LatestWins``, the
worker sets the Look on the ``PreviewEngine``, renders the frame on screen (cached decode and
aligned crop; edit, mask and blend re-run), draws the side-by-side picture scaled to 1280 px and
encodes it as JPEG; the latency is from ``submit`` to the picture being ready. Each change waits
for the previous one (a person dragging slowly). Three kinds of change are timed:

- ``years``: the makeup editor's main slider (edit + blend re-run),
- ``feather``: a blend slider (the edit is re-used from the cache, only the blend re-runs),
- ``scrub``: moving to another frame (decode + align + edit + blend, nothing cached).

Then a burst: ``--changes`` changes submitted back to back, to show how many renders the
coalescing actually ran. Goal on a 2-core CPU: p95 at most 150 ms at 720p for slider changes.
This machine is shared: compare figures taken in the same run.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _example_module():
    spec = importlib.util.spec_from_file_location("make_example_clip", REPO / "examples" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    from deage.face.analysis import analyse_clip
    from deage.look import Look
    from deage.preview import LatestWins, PreviewEngine
    from deage.studio import views

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=60, help="slider changes per kind (at least 50 for p95)")
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of the example clip")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    make = _example_module().make_example_clip

    print(f"preview latency: submit -> JPEG ready, {args.changes} changes per kind, makeup editor, side-by-side "
          "view scaled to 1280 px (ms)")
    print(f"{'size':>10} {'change':>8} {'p50':>7} {'p95':>7} {'max':>7}   edit / blend / decode p50")
    with tempfile.TemporaryDirectory(prefix="deage-bench-") as tmp:
        for width, height in sizes:
            clip = make(Path(tmp) / f"clip_{width}x{height}.mp4", seconds=args.seconds, size=(width, height))
            analysis = analyse_clip(clip, cache_dir=tmp)
            frames = [i for i in range(analysis.frame_count) if analysis.faces_at(i)]
            if not frames:
                print(f"{width}x{height}: no face found in the example clip", file=sys.stderr)
                continue
            look = Look(editor="makeup", edit={"years": 10.0})
            engine = PreviewEngine(clip, analysis, look)
            ready = threading.Event()

            def work(request: tuple[int, Look]):
                index, look = request
                engine.set_look(look)
                result = engine.render(index)
                picture = views.fit_width(views.side_by_side(result.before, result.after), 1280)
                return result, views.encode_jpeg(picture, 88)

            worker = LatestWins(work, lambda _done: ready.set())
            here = frames[len(frames) // 2]
            worker.submit((here, look))  # warm-up: decode, align, first edit
            worker.wait()

            def timed(requests: list[tuple[int, Look]]) -> tuple[list[float], list[dict[str, float]]]:
                latencies, stages = [], []
                for request in requests:
                    ready.clear()
                    started = time.perf_counter()
                    worker.submit(request)
                    ready.wait()
                    latencies.append((time.perf_counter() - started) * 1e3)
                    done = worker.last
                    if done.error is not None:
                        raise done.error
                    stages.append(done.result[0].timings)
                return latencies, stages

            def with_value(section: str, key: str, value: float) -> Look:
                changed = copy.deepcopy(look)
                getattr(changed, section)[key] = value
                return changed

            n = args.changes
            kinds = {
                "years": [(here, with_value("edit", "years", 5.0 + 20.0 * i / n)) for i in range(n)],  # all new
                "feather": [(here, with_value("blend", "feather", 2.0 + (i % 17))) for i in range(n)],
                "scrub": [(frames[(here + 1 + i) % len(frames)], with_value("edit", "years", 15.0)) for i in range(n)],
            }
            for kind, requests in kinds.items():
                if kind == "scrub":
                    engine.clear_cache()
                latencies, stages = timed(requests)
                med = {k: statistics.median(s[k] for s in stages) for k in ("edit", "blend", "decode")}
                print(f"{width}x{height:<5} {kind:>8} {statistics.median(latencies):7.1f} "
                      f"{_percentile(latencies, 95):7.1f} {max(latencies):7.1f}   "
                      f"{med['edit']:.1f} / {med['blend']:.1f} / {med['decode']:.1f}")
            runs_before = worker.runs
            started = time.perf_counter()
            for i in range(n):
                worker.submit((here, with_value("edit", "years", 5.0 + 25.0 * i / n)))
            worker.wait()
            runs = worker.runs - runs_before
            last_years = worker.last.result[0].look.edit["years"]
            print(f"{width}x{height:<5} {'burst':>8} {n} changes back to back -> {runs} renders, "
                  f"{(time.perf_counter() - started) * 1e3:.0f} ms, last preview at years={last_years:g} "
                  f"(last value {5.0 + 25.0 * (n - 1) / n:g})")
            worker.close()
            engine.close()


if __name__ == "__main__":
    main()
