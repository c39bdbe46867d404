"""examples/make_example_clip.py: a real face, large and upright in every part of the clip, with audio."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from deage.errors import OutputError
from deage.video import open_clip

REPO = Path(__file__).resolve().parents[1]


def _load_example_module():
    spec = importlib.util.spec_from_file_location("make_example_clip_t", REPO / "examples" / "make_example_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dlib_models():
    dlib = pytest.importorskip("dlib")
    frm = pytest.importorskip("face_recognition_models")
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(frm.pose_predictor_model_location())


def test_face_stays_large_upright_and_in_frame(example_clip, dlib_models):
    detector, predictor = dlib_models
    with open_clip(example_clip) as clip:
        n = len(clip)
        heights, spans = [], []
        for i in (0, n // 2, n - 1):
            frame = clip.read(i)
            faces = detector(frame, 0)
            assert len(faces) == 1, f"frame {i}: {len(faces)} faces"
            box = faces[0]
            assert box.left() >= 0 and box.top() >= 0
            assert box.right() < frame.shape[1] and box.bottom() < frame.shape[0]
            heights.append(box.bottom() - box.top())
            pts = np.array([(p.x, p.y) for p in predictor(frame, box).parts()], dtype=np.float32)
            assert pts[:, 0].min() > 0 and pts[:, 1].max() < frame.shape[0]  # jaw and chin inside
            spans.append(float(pts[:, 1].max() - pts[:, 1].min()))
            left, right = pts[36:42].mean(0), pts[42:48].mean(0)
            roll = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))
            assert abs(roll) < 8, f"frame {i}: face rolled {roll:.1f} degrees"
    assert all(220 <= h <= 400 for h in heights), heights
    assert spans[-1] > spans[0] * 1.1, f"the camera should zoom in: landmark heights {spans}"


def test_camera_moves_and_light_changes(example_clip):
    with open_clip(example_clip) as clip:
        first, last = clip.read(0).astype(np.float32), clip.read(-1).astype(np.float32)
    assert np.abs(first - last).mean() > 10  # motion
    assert last.mean() > first.mean() * 1.1  # exposure rises
    warm = first[..., 0].mean() / first[..., 2].mean()
    cool = last[..., 0].mean() / last[..., 2].mean()
    assert cool < warm * 0.95  # warm -> cool


def test_audio_track(example_clip):
    with av.open(str(example_clip)) as c:
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac" and a.sample_rate == 48000
        packets = [p for p in c.demux(a) if p.size]
        seconds = float((packets[-1].pts + packets[-1].duration - max(packets[0].pts, 0)) * a.time_base)
    assert seconds == pytest.approx(2.0, abs=0.03)
    with av.open(str(example_clip)) as c:
        samples = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    assert 0.05 < np.abs(samples).max() <= 1.0  # audible, not clipped
    assert np.std(samples[:48000]) > 0.01


def test_deterministic(astronaut):
    module = _load_example_module()
    a = module.render_frame(astronaut, 5, 24, (640, 360))
    b = module.render_frame(astronaut.copy(), 5, 24, (640, 360))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, module.render_frame(astronaut, 6, 24, (640, 360)))


def test_script_prints_where_it_wrote(tmp_path):
    out = tmp_path / "clip.mp4"
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "make_example_clip.py"), str(out), "--seconds", "0.5",
         "--size", "640x360"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    with open_clip(out) as clip:
        assert (clip.info.width, clip.info.height, clip.info.frame_count) == (640, 360, 12)
    missing = subprocess.run(
        [sys.executable, str(REPO / "examples" / "make_example_clip.py"), str(tmp_path / "no" / "x.mp4")],
        capture_output=True, text=True, timeout=120,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_missing_folder_raises(tmp_path):
    with pytest.raises(OutputError):
        _load_example_module().make_example_clip(tmp_path / "nope" / "x.mp4", seconds=0.2)
