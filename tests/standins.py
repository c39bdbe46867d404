"""Stand-in models for backend tests: tiny files with a real model's input/output signature.

They are built into a test's tmp_path at test time (never committed), registered in a temporary
manifest with their real sha256, and loaded through ``make_backend`` exactly as a user's file
would be. They check wiring (pre-processing, decoding, coordinate maps, errors), not accuracy.
ONNX stand-ins are built with ``onnx.helper`` (opset 17); torch stand-ins are state dicts of
facexlib's own networks with chosen weights.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deage.weights import Manifest

OPSET = 17
IR_VERSION = 8


# -- generic ---------------------------------------------------------------------------------------
def save_onnx(path: Path, nodes: list, inputs: list, outputs: list, initializers: dict[str, np.ndarray] | None = None) -> Path:
    """Write a checked ONNX graph; ``inputs``/``outputs`` are ``(name, shape)`` with None/str for free dims."""
    def vi(name: str, shape: list, elem=TensorProto.FLOAT):
        return helper.make_tensor_value_info(name, elem, shape)

    graph = helper.make_graph(
        nodes, "standin",
        [vi(*i) if len(i) == 2 else vi(i[0], i[1], i[2]) for i in inputs],
        [vi(*o) for o in outputs],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def write_manifest(folder: Path, models: dict[str, dict[str, Any]]) -> Manifest:
    """Write ``folder/manifest.toml`` for ``models`` (name -> fields; defaults filled in) and load it.

    A model's ``sha256`` and ``size`` default to those of ``folder/<file>`` when that file exists.
    """
    lines = []
    for name, fields in models.items():
        f = {"sha256": "", "size": 0, "licence": "test stand-in", "source": "built by the test", "signature": {}}
        f.update(fields)
        path = folder / f["file"]
        if path.is_file():
            if "sha256" not in fields:
                f["sha256"] = sha256(path)
            if "size" not in fields:
                f["size"] = path.stat().st_size
        signature = f.pop("signature")
        lines.append(f"[models.{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in f.items()]
        lines.append(f"[models.{name}.signature]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in signature.items()]
        lines.append("")
    manifest_path = folder / "manifest.toml"
    manifest_path.write_text("\n".join(lines), encoding="utf-8")
    return Manifest.load(manifest_path, weights_dir=folder)


# -- ONNX stand-ins --------------------------------------------------------------------------------
def constant_points_model(path: Path, values: np.ndarray, input_shape: list) -> Path:
    """Input ``input_shape`` ([N, 3, S, S]) -> output [N, len(values)] = ``values`` for every image.

    The output depends on the input only through ``0 * mean(input)``, so the graph uses its input.
    """
    values = np.asarray(values, np.float32).reshape(1, -1)
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m"], axes=[1, 2, 3], keepdims=0, name="reduce"),
        helper.make_node("Unsqueeze", ["m", "axis1"], ["m1"], name="unsqueeze"),
        helper.make_node("MatMul", ["m1", "zeros"], ["z"], name="zero_out"),
        helper.make_node("Add", ["z", "values"], ["output"], name="add_values"),
    ]
    init = {"axis1": np.array([1], np.int64), "zeros": np.zeros((1, values.shape[1]), np.float32), "values": values}
    return save_onnx(path, nodes, [("input", input_shape)], [("output", [input_shape[0], values.shape[1]])], init)


def projection_model(path: Path, size: int = 112, dim: int = 512, pool: int = 8, seed: int = 0) -> Path:
    """ArcFace-like: [N, 3, size, size] -> average-pool ``pool`` -> flatten -> fixed random projection -> [N, dim]."""
    cells = 3 * (size // pool) ** 2
    weights = np.random.default_rng(seed).standard_normal((cells, dim)).astype(np.float32)
    nodes = [
        helper.make_node("AveragePool", ["input"], ["p"], kernel_shape=[pool, pool], strides=[pool, pool]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "w"], ["output"]),
    ]
    return save_onnx(path, nodes, [("input", ["N", 3, size, size])], [("output", ["N", dim])], {"w": weights})


def scrfd_without_keypoints(path: Path) -> Path:
    """An SCRFD-like graph with only score and box outputs (6): a detector deage cannot use."""
    nodes, outputs = [], []
    for stride in (8, 16, 32):
        nodes.append(helper.make_node("AveragePool", ["input"], [f"p{stride}"], kernel_shape=[stride, stride],
                                      strides=[stride, stride]))
        for part, width in (("score", 1), ("bbox", 4)):
            nodes.append(helper.make_node("Conv", [f"p{stride}", f"w_{part}"], [f"{part}_{stride}"]))
            outputs.append((f"{part}_{stride}", ["N", width, None, None]))
    init = {"w_score": np.zeros((1, 3, 1, 1), np.float32), "w_bbox": np.zeros((4, 3, 1, 1), np.float32)}
    return save_onnx(path, nodes, [("input", ["N", 3, None, None])], outputs, init)


def fran_model(path: Path, size: int | str = 256, gain: float = 0.5, mode: str = "delta") -> Path:
    """FRAN-like: [1, 5, S, S] -> [1, 3, S, S]; delta = ``gain`` x (target plane - input plane) on all 3 channels.

    ``mode="image"``: the output is the RGB input plus that delta.
    """
    nodes = [
        helper.make_node("Slice", ["x", "c3", "c4", "ax1"], ["age_in"]),
        helper.make_node("Slice", ["x", "c4", "c5", "ax1"], ["age_out"]),
        helper.make_node("Sub", ["age_out", "age_in"], ["dage"]),
        helper.make_node("Mul", ["dage", "gain"], ["d1"]),
        helper.make_node("Concat", ["d1", "d1", "d1"], ["delta"], axis=1),
    ]
    if mode == "image":
        nodes += [helper.make_node("Slice", ["x", "c0", "c3", "ax1"], ["rgb"]),
                  helper.make_node("Add", ["rgb", "delta"], ["y"])]
    else:
        nodes.append(helper.make_node("Identity", ["delta"], ["y"]))
    init = {f"c{i}": np.array([i], np.int64) for i in (0, 3, 4, 5)}
    init.update({"ax1": np.array([1], np.int64), "gain": np.array(gain, np.float32)})
    return save_onnx(path, nodes, [("x", [1, 5, size, size])], [("y", [1, 3, size, size])], init)


def stylegan_model(path: Path, control: str = "direction", gain: float = 0.2, context: bool = True,
                   image_size: int = 256, out_size: int = 256) -> Path:
    """StyleGAN-editor-like: image [1,3,image_size,image_size] (+ context [1,3,384,384]) + control [1]
    -> image + gain x control (+ 0 x mean(context)), resized to ``out_size``."""
    nodes = [helper.make_node("Mul", [control, "gain"], ["shift"]),
             helper.make_node("Add", ["image", "shift"], ["edited"])]
    inputs = [("image", [1, 3, image_size, image_size])]
    init = {"gain": np.array(gain, np.float32)}
    last = "edited"
    if context:
        inputs.append(("context", [1, 3, 384, 384]))
        nodes += [helper.make_node("ReduceMean", ["context"], ["cm"], keepdims=1),
                  helper.make_node("Mul", ["cm", "zero"], ["cz"]),
                  helper.make_node("Add", [last, "cz"], ["edited2"])]
        init["zero"] = np.array(0.0, np.float32)
        last = "edited2"
    if out_size != image_size:
        nodes.append(helper.make_node("Resize", [last, "", "scales"], ["resized"], mode="linear"))
        init["scales"] = np.array([1, 1, out_size / image_size, out_size / image_size], np.float32)
        last = "resized"
    nodes.append(helper.make_node("Identity", [last], ["output"]))
    inputs.append((control, [1]))
    return save_onnx(path, nodes, inputs, [("output", [1, 3, out_size, out_size])], init)


# -- torch stand-ins -------------------------------------------------------------------------------
def retinaface_anchor_state(path: Path, network: str = "mobile0.25") -> Path:
    """facexlib RetinaFace whose heads output zero regressions and a sure face everywhere.

    Every detection then equals its anchor: a square of the anchor's min size centred on the
    anchor, with all 5 key points at the centre.
    """
    import torch
    import warnings
    from facexlib.detection.retinaface import RetinaFace

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        net = RetinaFace(network_name=network, half=False, phase="test", device=torch.device("cpu"))
    torch.manual_seed(0)
    with torch.no_grad():
        for heads in (net.BboxHead, net.LandmarkHead, net.ClassHead):
            for head in heads:
                head.conv1x1.weight.zero_()
                head.conv1x1.bias.zero_()
        for head in net.ClassHead:  # (background, face) logits per anchor: 0 and 6 -> face prob 0.998
            head.conv1x1.bias.view(-1, 2)[:, 1] = 6.0
    torch.save(net.state_dict(), str(path))
    return path


def bisenet_state(path: Path, winner: int) -> Path:
    """facexlib BiSeNet(19) whose final classifier favours class ``winner`` wherever features are non-zero."""
    import torch
    from facexlib.parsing.bisenet import BiSeNet

    torch.manual_seed(0)
    net = BiSeNet(num_class=19).eval()
    with torch.no_grad():
        w = net.conv_out.conv_out.weight  # (19, 256, 1, 1), no bias
        w.zero_()
        w[winner] = 1.0
    torch.save(net.state_dict(), str(path))
    return path


def xseg_model(path: Path, covered: str = "blue", size: int = 256) -> Path:
    """XSeg-like: [N, size, size, 3] BGR 0..1 -> [N, size, size, 1] "face seen" 0..1.

    ``covered="blue"``: a pixel is covered (0) where its first channel (blue, in the BGR the
    backend must feed) exceeds both others by more than 0.2; seen (1) elsewhere. A backend that fed
    RGB would take red for covered and blue for face. ``covered="left_cheek"``: the crop's left half
    below 45 % of its height (in a face crop: the image-left cheek and jaw) is covered whatever it
    holds (the output uses the input only through 0 x it).
    """
    if covered == "blue":
        nodes = [
            helper.make_node("Split", ["input", "thirds"], ["c0", "c1", "c2"], axis=3),
            helper.make_node("Max", ["c1", "c2"], ["others"]),
            helper.make_node("Sub", ["c0", "others"], ["lead"]),
            helper.make_node("Mul", ["lead", "gain"], ["scaled"]),
            helper.make_node("Sub", ["scaled", "offset"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["cover"]),
            helper.make_node("Sub", ["one", "cover"], ["output"]),
        ]
        init = {"thirds": np.array([1, 1, 1], np.int64), "gain": np.array(40.0, np.float32),
                "offset": np.array(8.0, np.float32), "one": np.array(1.0, np.float32)}
    elif covered == "left_cheek":
        seen = np.ones((1, size, size, 1), np.float32)
        seen[0, int(0.45 * size):, : size // 2] = 0.0
        nodes = [
            helper.make_node("ReduceMean", ["input"], ["m"], axes=[3], keepdims=1),
            helper.make_node("Mul", ["m", "zero"], ["z"]),
            helper.make_node("Add", ["z", "seen"], ["output"]),
        ]
        init = {"zero": np.array(0.0, np.float32), "seen": seen}
    else:
        raise ValueError(covered)
    return save_onnx(path, nodes, [("input", ["N", size, size, 3])], [("output", ["N", size, size, 1])], init)


def bisenet_onnx_model(path: Path, classes: int = 19, red: int = 1, blue: int = 17) -> Path:
    """BiSeNet-like ONNX parser: [1, 3, 512, 512] (RGB, ImageNet mean/std) -> [1, classes, 512, 512]
    scores, a 1x1 convolution: class ``red`` scores where the first channel (red) is high, class
    ``blue`` where the third (blue) is, the background (class 0) elsewhere. A backend that fed BGR
    would swap the two."""
    weight = np.zeros((classes, 3, 1, 1), np.float32)
    weight[red, 0] = 3.0
    weight[blue, 2] = 3.0
    bias = np.full(classes, -5.0, np.float32)
    bias[0] = 0.0
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["output"])]
    return save_onnx(path, nodes, [("input", [1, 3, 512, 512])], [("output", [1, classes, 512, 512])],
                     {"w": weight, "b": bias})
