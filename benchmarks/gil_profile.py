"""Who holds the GIL during a render: a render to profile, and a summary of a py-spy ``--gil`` record.

Threads stop scaling when something holds Python's lock; ``py-spy record --gil`` samples only the
thread holding it. This script gives py-spy a render to watch and sums its raw output by the
innermost deage / benchmark function (or the library call beneath it).

Usage::

    py-spy record --gil -r 100 -f raw -o gil.txt -- \\
        python benchmarks/gil_profile.py render CLIP [--cache-dir DIR] [--device cuda] [--workers 4]
        [--processes 0] [--frames 240]
    python benchmarks/gil_profile.py summary gil.txt [--top 20]

The summary's share is of all samples taken (py-spy samples every thread at each tick, so a
share near 100% / threads means one thread held the lock all the time). On a machine with fewer
cores than busy threads, a thread preempted while holding the lock still counts as holding it.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def summarise(path: Path, top: int = 20) -> list[tuple[str, int]]:
    """``(place, samples)`` for the ``top`` places holding the GIL in a raw py-spy record."""
    places: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")]
        if any("importlib" in f for f in frames):
            places["(imports)"] += int(count)
            continue
        ours = [i for i, f in enumerate(frames) if re.search(r"\((deage|benchmarks)/", f)]
        if not ours:
            places["(other: " + frames[-1][:60] + ")"] += int(count)
            continue
        inner = ours[-1]
        below = frames[inner + 1][:60] if inner + 1 < len(frames) else "itself"
        places[f"{frames[inner]} -> {below}"] += int(count)
    return places.most_common(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render a clip once (for py-spy to watch)")
    r.add_argument("clip", type=Path)
    r.add_argument("--cache-dir", default=None)
    r.add_argument("--device", default="cpu")
    r.add_argument("--workers", type=int, default=4)
    r.add_argument("--processes", type=int, default=0)
    r.add_argument("--frames", type=int, default=240)
    s = sub.add_parser("summary", help="sum a raw py-spy --gil record")
    s.add_argument("record", type=Path)
    s.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    if args.command == "summary":
        rows = summarise(args.record, args.top)
        total = sum(int(line.rpartition(" ")[2]) for line in args.record.read_text().splitlines()
                    if line.rpartition(" ")[2].isdigit())
        print(f"{args.record}: {total} samples with the GIL held")
        for place, count in rows:
            print(f"  {count:6d}  {100 * count / max(total, 1):5.1f}%  {place}")
        return 0
    from deage.face.analysis import analyse_clip
    from deage.look import default_look
    from deage.render import render_clip
    from deage.video import open_clip

    with open_clip(args.clip) as clip:
        stop = min(len(clip), args.frames)
    analysis = analyse_clip(args.clip, cache_dir=args.cache_dir)
    out = Path("/tmp") / f"deage-gil-{time.time_ns()}.mp4"
    result = render_clip(args.clip, out, default_look(), analysis=analysis, frames=(0, stop), device=args.device,
                         workers=args.workers, processes=args.processes, provenance=False)
    out.unlink(missing_ok=True)
    print(f"rendered {result.frames} frames at {result.fps:.1f} fps (device {args.device}, workers {args.workers}, "
          f"processes {args.processes})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
