"""Prepare a GPU benchmark run for a machine that has a GPU but not this project's environment.

The GPU machines this team is lent (an H100 / H200 with PyTorch, OpenCV and NumPy, Python 3.12)
have no package registry and neither PyAV nor dlib, and dlib's 126 MB of models are too big to
send. This script, run here, puts everything the GPU benchmark needs into ``.gpukit/`` (ignored by
git, ~50 MB):

- ``example_1080.mp4``: the example clip at 1920x1080 (``--seconds``, 24 fps), and ``cache/``:
  its face analysis, made here (the render then needs no face models there);
- ``whl/``: PyAV, dlib-bin and py-spy wheels for CPython 3.12 on x86-64 Linux (``pip download``);
- ``standin.onnx``: a stand-in editor for ``benchmarks/gpu_onnx.py`` (onnxruntime CUDA wiring);
- ``run.sh``: installs the wheels into /tmp/site, runs ``benchmarks/gpu_onnx.py`` (when the machine
  has onnxruntime) and ``benchmarks/scale.py --gpu`` on the clip (with ``PROFILE=1`` also a py-spy
  ``--gil`` profile of a threaded and a process render, ``benchmarks/gil_profile.py``; with
  ``BEFORE=1`` the threaded renders again with ``DEAGE_KEEP_FREED_MEMORY=0``), writing its output to
  ``$OUT/gpu.txt`` when ``OUT`` is set.

Usage::

    .venv/bin/python benchmarks/gpu_kit.py [--seconds 20]
    # then, on the GPU machine, from the repository root (with .gpukit/ sent along):
    bash .gpukit/run.sh
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KIT = REPO / ".gpukit"
WHEELS = ("av==18.1.0", "dlib-bin==20.0.1", "py-spy==0.4.3")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux_2_5_x86_64", "manylinux1_x86_64")

RUN_SH = """#!/usr/bin/env bash
# Made by benchmarks/gpu_kit.py: the GPU benchmark on a machine with torch but without PyAV / dlib.
set -o pipefail
cd "$(dirname "$0")/.."
log="${OUT:-.gpukit}/gpu.txt"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpukit/whl/*.whl \\
    || { echo "installing the wheels failed"; exit 3; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc; } 2>&1 | tee "$log"
timeout 120 python3 benchmarks/gpu_onnx.py .gpukit/standin.onnx --device cuda 2>&1 | tee -a "$log"
gpu_scale() {
    python3 benchmarks/scale.py --gpu --gpu-clip .gpukit/example_1080.mp4 --cache-dir .gpukit/cache \\
        --gpu-threads "${THREADS:-1,4,8,14}" --gpu-cv2-threads "${CV2_THREADS:-default}" "$@" 2>&1 | tee -a "$log"
}
gpu_scale --gpu-processes "${PROCESSES:-4,8,12}"
# BEFORE=1: the threaded renders again with glibc's allocator left as it is (before session 30)
if [ -n "$BEFORE" ]; then
    echo "DEAGE_KEEP_FREED_MEMORY=0 (allocator left alone):" | tee -a "$log"
    DEAGE_KEEP_FREED_MEMORY=0 gpu_scale --gpu-processes ""
fi
# PROFILE=1: who holds the GIL in a cuda render with threads and with worker processes (py-spy)
if [ -n "$PROFILE" ] && [ -x /tmp/site/bin/py-spy ]; then
    for mode in "--workers 4" "--processes 8"; do
        /tmp/site/bin/py-spy record --gil -r 100 -f raw -o /tmp/gil.txt -- python3 benchmarks/gil_profile.py \
            render .gpukit/example_1080.mp4 --cache-dir .gpukit/cache --device cuda $mode 2>&1 \
            | grep -v "py-spy>" | tee -a "$log"
        python3 benchmarks/gil_profile.py summary /tmp/gil.txt --top 15 2>&1 | tee -a "$log"
    done
fi
"""


def make_clip(seconds: float) -> Path:
    spec = importlib.util.spec_from_file_location("make_example_clip", REPO / "examples" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.make_example_clip(KIT / "example_1080.mp4", seconds=seconds, fps=24, size=(1920, 1080))


def download_wheels(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
           "--implementation", "cp", *[a for p in PLATFORMS for a in ("--platform", p)], "-d", str(folder), *WHEELS]
    subprocess.run(cmd, check=True)


def make_standin(path: Path) -> Path:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gpu_onnx import make_standin as build

    return build(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="clip length at 24 fps (default 20 s)")
    args = parser.parse_args(argv)
    from deage.face.analysis import analyse_clip

    if KIT.exists():
        shutil.rmtree(KIT)
    KIT.mkdir()
    clip = make_clip(args.seconds)
    analysis = analyse_clip(clip, cache_dir=KIT / "cache")
    print(f"{clip}: {analysis.frame_count} frames, {len(analysis.tracks)} track(s), analysis cached in {KIT / 'cache'}")
    download_wheels(KIT / "whl")
    make_standin(KIT / "standin.onnx")
    (KIT / "run.sh").write_text(RUN_SH)
    size = sum(f.stat().st_size for f in KIT.rglob("*") if f.is_file())
    print(f"{KIT}: {size / 2**20:.1f} MiB. On the GPU machine, from the repository root: bash .gpukit/run.sh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
