"""deage.render: the streaming clip render against frame-by-frame rendering, the matte output,
frame numbering, errors, and the torch (GPU) path against the CPU path on real faces."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deage.edit.base import EditResult
from deage.errors import DeageError, MediaError, OutputError
from deage.look import Look
from deage.render import FrameRenderer, render_clip, resolve_device
from deage.scale.outputs import matte_to_uint16
from deage.video import open_clip

from conftest import insightface_image_path

YOUNG = Look.from_dict({"editor": "makeup", "edit": {"years": 25, "texture_keep": 0.9},
                        "blend": {"mode": "multiband", "feather": 10},
                        "keyframes": {"edit.years": [[20, 10], [30, 25]]}})
FEATHER = Look.from_dict({"editor": "makeup", "edit": {"years": 12}, "blend": {"mode": "feather", "feather": 8}})


@pytest.fixture(scope="module")
def analysis(example_clip, tmp_path_factory):
    from deage.face.analysis import analyse_clip

    return analyse_clip(example_clip, cache_dir=tmp_path_factory.mktemp("cache"))


def frames_of(path) -> list[np.ndarray]:
    with open_clip(path) as clip:
        return list(clip.frames())


# ------------------------------------------------------------------------------ the streaming render


def test_streaming_render_equals_rendering_frame_by_frame(example_clip, analysis, tmp_path):
    """Threads (2 editing workers) and the overlapped decode/encode change no pixel (lossless FFV1 output)."""
    seen: list[tuple[int, int]] = []
    result = render_clip(example_clip, tmp_path / "out.mkv", YOUNG, frames=(20, 30), analysis=analysis, workers=2,
                         progress=lambda done, total: seen.append((done, total)))
    renderer = FrameRenderer(YOUNG, analysis=analysis)
    with open_clip(example_clip) as clip:
        expected = [renderer.render(clip.read(i), i, analysis.faces_at(i))[0] for i in range(20, 30)]
        originals = [clip.read(i) for i in range(20, 30)]
    got = frames_of(result.output)
    assert len(got) == 10 and all(np.array_equal(a, b) for a, b in zip(expected, got))
    assert all(np.abs(g.astype(int) - o).max() > 10 for g, o in zip(got, originals))  # the faces were edited
    assert seen == [(i, 10) for i in range(1, 11)]
    assert result.faces_edited == 10 and result.frames_without_face == [] and result.frame_range == (20, 30)


def test_worker_processes_render_the_same_file_as_threads(example_clip, analysis, tmp_path):
    """``processes=2`` (frames edited in spawned worker processes, sent through shared memory,
    returned as the changes the edit made, encoded over the decoded frames) writes the
    byte-identical H.264 file, matte included; the faces were edited, and no shared-memory block
    is left behind."""
    import glob

    before = set(glob.glob("/dev/shm/psm_*"))
    outputs = {}
    for name, kwargs in (("threads", {"workers": 2}), ("processes", {"processes": 2})):
        result = render_clip(example_clip, tmp_path / f"{name}.mp4", YOUNG, frames=(18, 34), analysis=analysis,
                             matte=tmp_path / f"{name}_matte.mkv", provenance=False, **kwargs)
        assert result.faces_edited == 16
        outputs[name] = [(tmp_path / f"{name}.mp4").read_bytes(), (tmp_path / f"{name}_matte.mkv").read_bytes()]
    assert outputs["processes"] == outputs["threads"]
    with open_clip(example_clip) as clip:
        original = clip.read(25)
    assert np.abs(frames_of(tmp_path / "processes.mp4")[7].astype(int) - original).max() > 10
    assert set(glob.glob("/dev/shm/psm_*")) <= before


def test_a_killed_worker_process_is_replaced_and_the_output_unchanged(example_clip, analysis, tmp_path, monkeypatch):
    """A worker process killed mid-render (as the OOM killer would): the pool is replaced, the
    frames in flight are edited again, and the file is byte-identical to a threaded render."""
    import multiprocessing
    import os
    import signal

    from deage.scale.processes import ProcessEditing

    killed: list[int] = []
    restarts: list[int] = []
    close = ProcessEditing.__exit__

    def recording_exit(self, *exc):
        restarts.append(self.restarts)
        return close(self, *exc)

    monkeypatch.setattr(ProcessEditing, "__exit__", recording_exit)

    def kill_one(done: int, total: int) -> None:
        if done == 4 and not killed:
            child = multiprocessing.active_children()[0]
            os.kill(child.pid, signal.SIGKILL)
            killed.append(child.pid)

    reference = render_clip(example_clip, tmp_path / "threads.mp4", YOUNG, frames=(18, 34), analysis=analysis,
                            workers=2, provenance=False)
    result = render_clip(example_clip, tmp_path / "processes.mp4", YOUNG, frames=(18, 34), analysis=analysis,
                         processes=2, provenance=False, progress=kill_one)
    assert killed and result.frames == 16 and restarts == [1]
    assert (tmp_path / "processes.mp4").read_bytes() == reference.output.read_bytes()


def test_worker_processes_refuse_a_too_small_shared_memory(monkeypatch):
    """A container's small /dev/shm is a clear error up front, not a worker killed by SIGBUS."""
    import os

    from deage.scale import processes

    class Tiny:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(os, "statvfs", lambda path: Tiny())
    with pytest.raises(DeageError, match=r"/dev/shm has 0 MiB free.*--shm-size"):
        processes._check_shared_memory(6_220_800)


def test_matte_is_the_union_of_the_blend_masks_of_every_face(tmp_path):
    """A group photo (6 faces) as a one-frame clip: the matte holds every face's mask, and the
    picture is untouched wherever the matte is 0."""
    photo = tmp_path / "group.png"
    shutil.copy(insightface_image_path("t1.jpg"), tmp_path / "group.jpg")
    cv2.imwrite(str(photo), cv2.imread(str(tmp_path / "group.jpg")))
    look = Look.from_dict({**FEATHER.to_dict(), "faces": "all"})
    result = render_clip(photo, tmp_path / "out.%04d.png", look, matte=tmp_path / "matte.%04d.png",
                         cache_dir=tmp_path / "cache")
    assert result.matte == tmp_path / "matte.%04d.png" and result.faces_edited >= 4
    matte = cv2.imread(str(tmp_path / "matte.1001.png"), cv2.IMREAD_UNCHANGED)
    picture = frames_of(tmp_path / "out.1001.png")[0]
    source = frames_of(photo)[0]
    assert matte.dtype == np.uint16 and matte.shape[:2] == source.shape[:2]
    assert np.array_equal(matte[..., 0], matte[..., 1]) and np.array_equal(matte[..., 0], matte[..., 2])

    from deage.face.analysis import analyse_clip
    from deage.face.select import select_tracks

    found = analyse_clip(photo, cache_dir=tmp_path / "cache")
    faces = {t: f for t, f in found.faces_at(0).items() if t in select_tracks(found, "all")}
    expected, masks = FrameRenderer(look, analysis=found).render(source, 0, faces)
    assert np.array_equal(matte[..., 0], matte_to_uint16(masks, source.shape[:2]))
    blobs = cv2.connectedComponents((matte[..., 0] > 0).astype(np.uint8))[0] - 1
    assert blobs == len(masks) >= 4  # one separate region per face
    assert np.array_equal(picture, expected)
    untouched = matte[..., 0] == 0
    assert np.array_equal(picture[untouched], source[untouched]) and not np.array_equal(picture, source)


def test_matte_to_uint16_takes_the_maximum_and_rounds():
    a = np.zeros((2, 3), np.float32)
    b = np.zeros((2, 3), np.float32)
    a[0, 0], b[0, 0], b[1, 2] = 0.25, 0.5, 1.0
    out = matte_to_uint16([a, b], (2, 3))
    assert out.dtype == np.uint16 and out[0, 0] == 32768 and out[1, 2] == 65535 and out.sum() == 32768 + 65535
    assert not matte_to_uint16([], (2, 3)).any()


def test_a_range_rendered_to_a_sequence_is_numbered_from_its_first_frame(example_clip, tmp_path):
    result = render_clip(example_clip, tmp_path / "id.%04d.png", Look(), frames=(10, 13), provenance=False)
    assert sorted(p.name for p in tmp_path.glob("id.*.png")) == ["id.1011.png", "id.1012.png", "id.1013.png"]
    with open_clip(example_clip) as clip:
        assert np.array_equal(frames_of(tmp_path / "id.%04d.png")[0], clip.read(10))
    assert result.frames == 3


def test_render_errors_are_one_line_and_leave_nothing_behind(example_clip, tmp_path):
    with pytest.raises(OutputError, match="matte cannot be written to the picture's own path"):
        render_clip(example_clip, tmp_path / "o.mov", Look(), frames=(0, 2), matte=tmp_path / "o.mov")
    with pytest.raises(OutputError, match="same as the input"):
        render_clip(example_clip, tmp_path / "o.mov", Look(), frames=(0, 2), matte=example_clip)
    with pytest.raises(DeageError, match="outside the clip"):
        render_clip(example_clip, tmp_path / "o.mov", Look(), frames=(40, 60))
    truncated = tmp_path / "cut.mp4"
    data = Path(example_clip).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="cut.mp4"):
        render_clip(truncated, tmp_path / "o.mp4", Look())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4"]


# ------------------------------------------------------------------------------ the GPU path


def _compare(cpu: tuple[np.ndarray, list[np.ndarray]], gpu: tuple[np.ndarray, list[np.ndarray]], frame: np.ndarray,
             flips: int = 0):
    """``flips``: pixels allowed past 2 levels, where a shape warp moves a noisy plate's grain by
    whole pixels and the two paths' float rounding picks the neighbour across a half pixel."""
    (a, masks_a), (b, masks_b) = cpu, gpu
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert np.abs(a.astype(int) - frame).max() > 10  # the CPU path edited the face
    assert np.count_nonzero(diff.max(axis=2) > 2) <= flips and diff.mean() < 0.5, (diff.max(), diff.mean())
    # Mattes agree within 1e-3, plus the 1/512 step where both paths zero alphas below 1/512: a
    # value on that threshold can fall on either side of it (float32 warps in different orders).
    assert len(masks_a) == len(masks_b) and all(np.abs(p - q).max() < 1e-3 + 1 / 512 for p, q in zip(masks_a, masks_b))


@pytest.mark.parametrize("look, noise", [(YOUNG, 0), (FEATHER, 0), (YOUNG, 6)],
                         ids=["multiband+shape+texture", "feather", "noisy plate"])
def test_torch_path_matches_the_cpu_path_on_a_real_face(example_clip, analysis, look, noise):
    """The GPU code run on torch's CPU device: same pixels within 2 levels (max) and 0.5 (mean);
    also on a noisy plate, whose grain both keep (``deage.blend.grain``)."""
    index = 30
    with open_clip(example_clip) as clip:
        frame = clip.read(index)
    if noise:
        grain = np.random.default_rng(3).normal(0, noise, frame.shape[:2])[..., None]
        frame = np.clip(frame + grain, 0, 255).astype(np.uint8)
    faces = analysis.faces_at(index)
    cpu = FrameRenderer(look, analysis=analysis).render(frame, index, faces)
    gpu = FrameRenderer(look, analysis=analysis, device=torch.device("cpu")).render(frame, index, faces)
    _compare(cpu, gpu, frame, flips=50 if noise else 0)
    assert not np.shares_memory(gpu[0], frame)


class DarkenOval:
    """Stand-in editor returning an edited crop (no Retouch), like learned editors and swaps: checks
    the crop-compositing wiring of both paths, not quality."""

    name = "darken-oval"

    def edit(self, aligned, params, parsing=None):
        size = aligned.size
        mask = np.zeros((size, size), np.float32)
        cv2.ellipse(mask, (size // 2, size // 2), (size // 4, size // 3), 0, 0, 360, 1.0, -1)
        image = (aligned.image.astype(np.float32) * 0.6).astype(np.uint8)
        return EditResult(image, mask)


@pytest.mark.parametrize("blend, noise", [({"mode": "feather"}, 0), ({"mode": "poisson", "colour_match": "lab"}, 0),
                                          ({"mode": "multiband"}, 6)], ids=["feather", "poisson+lab", "noisy plate"])
def test_torch_path_composites_edited_crops_like_the_cpu_path(example_clip, analysis, blend, noise):
    """Also on a noisy plate, where both give the darkened crop (its noise darkened too) the grain
    it lacks (``deage.blend.grain.regrain``)."""
    index = 5
    look = Look.from_dict({"editor": "makeup", "blend": blend})
    with open_clip(example_clip) as clip:
        frame = clip.read(index)
    if noise:
        grain = np.random.default_rng(3).normal(0, noise, frame.shape[:2])[..., None]
        frame = np.clip(frame + grain, 0, 255).astype(np.uint8)
    faces = analysis.faces_at(index)
    cpu = FrameRenderer(look, analysis=analysis, editor=DarkenOval()).render(frame, index, faces)
    gpu = FrameRenderer(look, analysis=analysis, editor=DarkenOval(), device=torch.device("cpu")).render(
        frame, index, faces)
    _compare(cpu, gpu, frame)


def test_device_selection_and_cpu_fallback(monkeypatch, example_clip, analysis, tmp_path):
    monkeypatch.delenv("DEAGE_DEVICE", raising=False)
    assert resolve_device(None) is None and resolve_device("cpu") is None
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(DeageError, match="unknown device"):
        resolve_device("gpu0")
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
        return
    with pytest.warns(RuntimeWarning, match="no CUDA"):
        assert resolve_device("cuda") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_device("auto") is None  # "auto" falls back quietly
    monkeypatch.setenv("DEAGE_DEVICE", "cuda:0")
    with pytest.warns(RuntimeWarning):
        fallback = render_clip(example_clip, tmp_path / "a.mkv", FEATHER, frames=(0, 2), analysis=analysis,
                               provenance=False)
    monkeypatch.setenv("DEAGE_DEVICE", "cpu")
    plain = render_clip(example_clip, tmp_path / "b.mkv", FEATHER, frames=(0, 2), analysis=analysis, provenance=False)
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(fallback.output), frames_of(plain.output)))


def test_onnx_io_binding_runs_a_batch_in_place(tmp_path):
    """A tiny ONNX model built here (y = 2x + 1, m = mean over channels): checks the binding wiring."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from deage.gpu.onnx_io import BoundRunner
    from deage.onnx_session import create_session

    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 16, 16]),
            helper.make_tensor_value_info("m", TensorProto.FLOAT, ["N", 1, 16, 16])]
    consts = [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]), helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])]
    nodes = [helper.make_node("Mul", ["x", "two"], ["t"]), helper.make_node("Add", ["t", "one"], ["y"]),
             helper.make_node("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1)]
    model = helper.make_model(helper.make_graph(nodes, "g", [x_info], outs, initializer=consts),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "tiny.onnx")
    runner = BoundRunner(create_session(tmp_path / "tiny.onnx", "cpu"), "cpu")
    for batch in (4, 4, 2):  # the second call of a shape writes into preallocated outputs
        x = torch.rand(batch, 3, 16, 16)
        out = runner.run({"x": x})
        assert out["y"].shape == (batch, 3, 16, 16) and torch.allclose(out["y"], 2 * x + 1)
        assert torch.allclose(out["m"], x.mean(1, keepdim=True), atol=1e-6)


def test_render_image_edits_a_photo_in_memory(astronaut):
    """The public one-call API on a real photo: the face changes, pixels far from it do not."""
    import deage
    from skimage import data

    from deage.face.backends.dlib_backend import DlibDetector

    look = deage.load_look(Path(__file__).resolve().parents[1] / "examples" / "looks" / "young25.json")
    before = astronaut.copy()
    young = deage.render_image(astronaut, look)
    np.testing.assert_array_equal(astronaut, before)  # the input is not modified
    assert young.shape == astronaut.shape and young.dtype == np.uint8
    (face,) = DlibDetector().detect(astronaut)
    x0, y0, x1, y1 = face.box.astype(int)
    assert np.abs(young[y0:y1, x0:x1].astype(int) - astronaut[y0:y1, x0:x1]).mean() > 1.0
    w, h = x1 - x0, y1 - y0
    far = np.ones(astronaut.shape[:2], bool)
    far[max(y0 - h, 0):y1 + h, max(x0 - w, 0):x1 + w] = False
    np.testing.assert_array_equal(young[far], astronaut[far])
    np.testing.assert_array_equal(deage.render_image(astronaut, deage.Look()), astronaut)  # identity look
    default = deage.render_image(astronaut)  # no look: the default de-age, ten years younger
    assert 0.3 < np.abs(default[y0:y1, x0:x1].astype(int) - astronaut[y0:y1, x0:x1]).mean() < \
        np.abs(young[y0:y1, x0:x1].astype(int) - astronaut[y0:y1, x0:x1]).mean()
    np.testing.assert_array_equal(default[far], astronaut[far])
    with pytest.raises(deage.NoFaceError):
        deage.render_image(data.coffee(), look)
    with pytest.raises(deage.DeageError):
        deage.render_image(astronaut.astype(np.float32), look)
    # half of her face out of the picture (the frame's edge through her nose): still found and
    # edited, on the half there is, and nothing far from it changes
    middle = (x0 + x1) // 2
    half = np.ascontiguousarray(astronaut[:, middle:])
    young_half = deage.render_image(half, look)
    assert np.abs(young_half[y0:y1, :x1 - middle].astype(int) - half[y0:y1, :x1 - middle]).mean() > 1.0
    np.testing.assert_array_equal(young_half[far[:, middle:]], half[far[:, middle:]])
    alpha = np.tile(np.arange(512, dtype=np.uint8)[None, :] // 2, (512, 1))  # a cut-out as Pillow loads it
    cut = deage.render_image(np.dstack([astronaut, alpha]), look)
    assert cut.shape == (512, 512, 4)
    np.testing.assert_array_equal(cut[..., 3], alpha)  # coverage untouched
    np.testing.assert_array_equal(cut[..., :3], young)  # the colour edited as the RGB photo's
    with pytest.raises(AttributeError):
        deage.no_such_thing


def _far_from_face(image: np.ndarray) -> np.ndarray:
    """Boolean (H, W): pixels at least a face box away from the one face dlib finds."""
    from deage.face.backends.dlib_backend import DlibDetector

    (face,) = DlibDetector().detect(image)
    x0, y0, x1, y1 = face.box.astype(int)
    w, h = x1 - x0, y1 - y0
    far = np.ones(image.shape[:2], bool)
    far[max(y0 - h, 0):y1 + h, max(x0 - w, 0):x1 + w] = False
    return far


@pytest.mark.parametrize("ext, scale", [("png", 1.0), ("exr", 4.0)])
def test_deep_plates_keep_their_precision_outside_the_edit(astronaut, tmp_path, ext, scale):
    """16-bit PNG and float EXR plates render on full precision: far from the face the output holds
    the plate's exact values (sub-8-bit detail and EXR highlights at 4.0 included), and the face is
    edited."""
    from deage.look import Look
    from deage.render import render_clip
    from deage.video import ClipWriter, open_clip

    rng = np.random.default_rng(3)
    plate = astronaut.astype(np.float32) / 255 + rng.uniform(0, 1 / 255, astronaut.shape).astype(np.float32)
    if ext == "exr":
        plate[:40] = scale  # a highlight band at the top, far above 1
    src, out = tmp_path / f"plate.%04d.{ext}", tmp_path / f"young.%04d.{ext}"
    with ClipWriter(src, fps=24, width=512, height=512) as writer:
        for _ in range(2):
            writer.write(plate.astype(np.float32))
    look = Look(editor="makeup", edit={"years": 25}, blend={"mode": "multiband"})
    render_clip(src, out, look, cache_dir=tmp_path / "cache", provenance=False)
    with open_clip(src) as a, open_clip(out) as b:
        assert b.info.bit_depth > 8
        before, after = next(a.frames_float()), next(b.frames_float())
    far = _far_from_face(astronaut)
    np.testing.assert_array_equal(after[far], before[far])  # EXR too: half floats rounded, not truncated
    assert (np.abs(before * 255 - np.round(before * 255)) > 0.1).mean() > 0.5  # the plate has sub-8-bit detail
    if ext == "exr":
        assert np.allclose(after[:40], scale, atol=1e-2)  # the highlight is not clipped to 1
    (x0, y0, x1, y1) = (180, 80, 300, 220)  # the face
    assert np.abs(after[y0:y1, x0:x1] - before[y0:y1, x0:x1]).mean() > 0.002


def test_a_deep_plate_rendered_to_an_8_bit_format_says_so(astronaut, tmp_path):
    """A 16-bit plate forced into 8-bit H.264 loses precision everywhere: the render warns and
    names the formats that keep it. Into .mp4 by default it is HEVC Main 10, into 16-bit PNG
    16-bit: no warning."""
    import warnings

    from deage.video import ClipWriter

    src = tmp_path / "plate.%04d.png"
    with ClipWriter(src, fps=24, width=512, height=512) as writer:
        writer.write(astronaut.astype(np.uint16) * 257 + 100)
    look = Look(editor="makeup", edit={"years": 20})
    with pytest.warns(RuntimeWarning, match="16-bit components, h264 output stores 8; write .mov"):
        render_clip(src, tmp_path / "young.mp4", look, cache_dir=tmp_path / "cache", provenance=False, codec="h264")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_clip(src, tmp_path / "young10.mp4", look, cache_dir=tmp_path / "cache", provenance=False)
        render_clip(src, tmp_path / "young.%04d.png", look, cache_dir=tmp_path / "cache", provenance=False)
    with open_clip(tmp_path / "young10.mp4") as clip:
        assert clip.info.codec == "hevc" and clip.info.bit_depth == 10


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_a_photo_rendered_to_png_or_tiff_reads_back_as_the_photo_outside_the_edit(astronaut, tmp_path, ext):
    """A JPEG photo rendered into a (16-bit) PNG or TIFF: far from the face, OpenCV reads the
    output as it reads the photo, bit for bit, in 8 bits and in 16 (v * 257), and so does deage.
    FFmpeg's JPEG decoder and its 8 -> 16-bit conversion each put most pixels a level off (8 %
    unchanged)."""
    from PIL import Image

    from deage.render import render_clip

    photo, out = tmp_path / "astronaut.jpg", tmp_path / f"young.{ext}"
    Image.fromarray(astronaut).save(photo, quality=90)
    render_clip(photo, out, Look(editor="makeup", edit={"years": 25}), cache_dir=tmp_path / "cache",
                provenance=False)
    before = cv2.imread(str(photo))
    after, deep = cv2.imread(str(out)), cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    far = _far_from_face(astronaut)
    assert deep.dtype == np.uint16 and far.mean() > 0.3
    np.testing.assert_array_equal(after[far], before[far])
    np.testing.assert_array_equal(deep[far], before[far].astype(np.uint16) * 257)
    with open_clip(out) as clip:
        np.testing.assert_array_equal(clip.read(0)[far], before[far][..., ::-1])
    assert np.abs(after.astype(int) - before)[~far].mean() > 0.5  # the face is edited


def test_onto_plate_adds_the_edit_and_keeps_the_rest():
    from deage.render import onto_plate

    plate = np.full((4, 4, 3), 0.5, np.float32)
    plate[0, 0] = 3.0  # a highlight
    before = np.clip(plate * 255 + 0.5, 0, 255).astype(np.uint8)
    assert onto_plate(plate, before, before.copy()) is plate
    after = before.copy()
    after[2, 2] = before[2, 2] + 10
    out = onto_plate(plate, before, after)
    assert out[0, 0, 0] == 3.0 and np.isclose(out[2, 2, 0], 0.5 + 10 / 255)
    out[2, 2] = plate[2, 2]
    np.testing.assert_array_equal(out, plate)


def test_a_face_mask_in_a_clip_is_left_alone_in_every_frame(shared_media, tmp_path):
    """A white surgical mask on a pale face (the nearest call of the masks measured), the head
    moving over 8 frames: every frame's render leaves the mask within a level (before the cover
    was recognised it was retouched and warped, about 4 levels on average); the eyes are still
    de-aged."""
    from fractions import Fraction

    from conftest import read_rgb
    from deage.video import ClipWriter
    from facehelpers import largest_face, wear_face_mask

    image = read_rgb(shared_media / "driving_d30.jpg")
    masked, alpha = wear_face_mask(image, largest_face(image), "white")
    frames, alphas = [], []
    for i in range(8):
        dx, dy = 20 + int(round(10 * np.sin(i / 2))), 60 + 2 * i
        frames.append(np.ascontiguousarray(masked[dy:dy + 640, dx:dx + 480]))
        alphas.append(alpha[dy:dy + 640, dx:dx + 480])
    source = tmp_path / "masked.mp4"
    with ClipWriter(source, fps=Fraction(24), width=480, height=640, codec="h264-lossless") as out:
        for frame in frames:
            out.write(frame)
    render_clip(source, tmp_path / "out.mp4", Look(editor="makeup", edit={"years": 30.0}), codec="h264-lossless",
                cache_dir=tmp_path / "cache", provenance=False)
    with open_clip(tmp_path / "out.mp4") as clip:
        changes = [np.abs(clip.read(i).astype(np.int16) - frames[i]).max(-1) for i in range(8)]
    on_mask = [np.mean(c[a > 0.97]) for c, a in zip(changes, alphas)]
    assert max(on_mask) < 1.0, on_mask
    assert all(c[a < 0.01].max() > 10 for c, a in zip(changes, alphas))  # the face above it is edited
