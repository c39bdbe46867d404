"""onnxruntime on the GPU with I/O binding: a wiring check and timing with a stand-in model.

A stand-in (a 3x3 convolution, 3 -> 16 -> 3 channels, ReLU between: the shape of a face editor's
input and output, float32 (N, 3, 512, 512)) runs as a batch of crops through
``deage.gpu.onnx_io.BoundRunner`` on the requested device and, for reference, through a plain
``session.run`` on the CPU provider. Prints the providers onnxruntime has, where the session really
runs, the largest difference between the two outputs and the time per batch of both.
This proves the CUDA wiring and measures binding overhead; it says nothing about a real model's quality.

Usage::

    python benchmarks/gpu_onnx.py --make standin.onnx         # here: build the stand-in (needs onnx)
    python benchmarks/gpu_onnx.py standin.onnx [--device cuda] [--batch 8] [--repeat 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_standin(path: Path, size: int = 512) -> Path:
    """Write the stand-in editor: float32 (N, 3, size, size) -> float32 (N, 3, size, size), fixed weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((16, 3, 3, 3)) * 0.2).astype(np.float32)
    w2 = (rng.standard_normal((3, 16, 3, 3)) * 0.1).astype(np.float32)
    nodes = [helper.make_node("Conv", ["input", "w1"], ["h"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["output"], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(
        nodes, "standin_editor",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, size, size])],
        initializer=[numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def _timed(fn, repeat: int, sync) -> float:
    fn()  # warm-up (allocations, kernel choice)
    sync()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync()
    return (time.perf_counter() - t0) / repeat


def check(model: Path, device: str, batch: int, repeat: int) -> int:
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime is not installed here: the ONNX GPU check is skipped")
        return 0
    import torch

    from deage.gpu.onnx_io import BoundRunner
    from deage.onnx_session import create_session, session_device, torch_device

    print(f"onnxruntime {onnxruntime.__version__}, providers {onnxruntime.get_available_providers()}")
    session = create_session(model, device)
    where = torch_device(device) if session_device(session) != "cpu" else torch.device("cpu")
    print(f"stand-in session on {session_device(session)} (asked for {device}), tensors on {where}")
    runner = BoundRunner(session, where)
    reference = create_session(model, "cpu")
    x = torch.rand(batch, 3, 512, 512, generator=torch.Generator().manual_seed(0))
    x_dev = x.to(where)

    def sync() -> None:
        if where.type == "cuda":
            torch.cuda.synchronize(where)

    bound = _timed(lambda: runner.run({"input": x_dev}), repeat, sync)
    plain = _timed(lambda: reference.run(None, {"input": x.numpy()}), max(2, repeat // 10), lambda: None)
    got = runner.run({"input": x_dev})["output"].cpu().numpy()
    want = reference.run(None, {"input": x.numpy()})[0]
    worst = float(np.abs(got - want).max())
    print(f"batch {batch}x3x512x512: bound on {where} {bound * 1e3:.2f} ms ({batch / bound:.0f} crops/s), "
          f"plain CPU session.run {plain * 1e3:.1f} ms; outputs differ by at most {worst:.2e} "
          f"(output range {want.min():.2f}..{want.max():.2f})")
    return 0 if worst < 1e-2 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--make", type=Path, help="build the stand-in model at this path and exit")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    if args.make:
        print(make_standin(args.make))
        return 0
    if args.model is None:
        parser.error("give the stand-in model (or --make PATH)")
    return check(args.model, args.device, args.batch, args.repeat)


if __name__ == "__main__":
    sys.exit(main())
