"""The analysis pass: the example clip, landmark jitter on a still head, the disk cache, the Analysis API."""

from __future__ import annotations

import json
import logging
import shutil
from fractions import Fraction

import cv2
import numpy as np
import pytest

from deage.errors import DeageError
from deage.face.analysis import (
    Analysis,
    AnalysisSettings,
    analyse_clip,
    analyse_frames,
    cache_path,
    default_cache_dir,
    smoothed,
)


def draw_faces(frame: np.ndarray, faces: dict) -> np.ndarray:
    """A copy of an RGB frame with each face's box, 68 landmarks and track id drawn."""
    out = frame.copy()
    for tid, face in faces.items():
        x0, y0, x1, y1 = face.box.round().astype(int)
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 255, 0), 2)
        for x, y in face.landmarks:
            cv2.circle(out, (int(round(x)), int(round(y))), max(2, frame.shape[0] // 240), (255, 40, 40), -1)
        cv2.putText(out, str(tid), (x0, max(y0 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 0), 2)
    return out


def _jitter(points: np.ndarray) -> float:
    """RMS distance (px) of (T, N, 2) points from their per-point mean over time."""
    return float(np.sqrt(np.mean(np.sum((points - points.mean(0)) ** 2, axis=-1))))


def test_still_head_jitter_at_720p(astronaut):
    """One frame of the astronaut at 720p repeated with fresh sensor noise (sigma 3) on every frame."""
    face = cv2.resize(astronaut, (720, 720), interpolation=cv2.INTER_CUBIC)
    still = np.zeros((720, 1280, 3), np.uint8)
    still[:, 280:1000] = face
    rng = np.random.default_rng(0)
    frames = [np.clip(still + rng.normal(0, 3.0, still.shape), 0, 255).astype(np.uint8) for _ in range(48)]
    raw = analyse_frames(frames, 24, AnalysisSettings(smooth=False))
    assert raw.track_ids == [1] and len(raw.track(1).faces) == 48
    smooth = smoothed(raw, AnalysisSettings())
    lm_raw = np.stack([raw.track(1).faces[i].landmarks for i in range(48)])
    lm_smooth = np.stack([smooth.track(1).faces[i].landmarks for i in range(48)])
    raw_jitter, smooth_jitter = _jitter(lm_raw), _jitter(lm_smooth)
    print(f"still head 720p: raw jitter {raw_jitter:.3f} px, smoothed {smooth_jitter:.3f} px")
    assert raw_jitter > 0.1  # the noise really moves the raw landmarks
    assert smooth_jitter <= raw_jitter / 3
    assert smooth_jitter < 0.5
    # smoothing must not move the face: the mean positions agree
    assert np.abs(lm_smooth.mean(0) - lm_raw.mean(0)).max() < 0.3


@pytest.fixture(scope="module")
def example_analysis(example_clip, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    calls = []
    result = analyse_clip(example_clip, cache_dir=cache, progress=lambda done, total: calls.append((done, total)))
    return result, cache, calls


def test_example_clip_is_one_track_covering_every_frame(example_analysis, example_clip, artifacts_dir):
    from deage.video import open_clip

    analysis, _, calls = example_analysis
    with open_clip(example_clip) as clip:
        n, info = len(clip), clip.info
        picks = np.linspace(0, n - 1, 4).astype(int)
        tiles = [cv2.resize(draw_faces(clip.read(int(i)), analysis.faces_at(int(i))), (640, 360)) for i in picks]
    cv2.imwrite(str(artifacts_dir / "analysis_example_clip.png"), cv2.cvtColor(np.concatenate(tiles, 1), cv2.COLOR_RGB2BGR))
    assert not analysis.from_cache
    assert analysis.frame_count == n and analysis.fps == Fraction(24)
    assert (analysis.width, analysis.height) == (info.width, info.height)
    assert analysis.track_ids == [1]
    assert sorted(analysis.track(1).faces) == list(range(n))
    assert analysis.frames_without_face == []
    assert analysis.cuts == []  # camera motion and the lighting change are not cuts
    assert calls[-1] == (n, n) and len(calls) == n
    # the face in the example clip is 280-330 px tall, centred in the middle third of the frame
    for i in (0, n - 1):
        face = analysis.faces_at(i)[1]
        assert 230 < face.height < 380
        assert info.width * 0.3 < face.center[0] < info.width * 0.7


def test_second_call_comes_from_the_cache_and_equals_the_first(example_analysis, example_clip):
    first, cache, _ = example_analysis
    calls = []
    again = analyse_clip(example_clip, cache_dir=cache, progress=lambda *a: calls.append(a))
    assert again.from_cache and calls == []
    assert again == first
    assert [p.name for p in cache.glob("*.analysis.npz")] == [cache_path(cache, first.source, first.clip_hash, first.settings).name]
    assert not list(cache.glob(".*partial*"))  # written atomically, nothing left behind


def test_changing_a_setting_recomputes_but_smoothing_reuses_the_cache(example_analysis, example_clip):
    first, cache, _ = example_analysis
    calls = []
    other = analyse_clip(example_clip, AnalysisSettings(detect_every=5), cache_dir=cache,
                         progress=lambda *a: calls.append(a))
    assert not other.from_cache and len(calls) == first.frame_count
    assert len(other.keyframes) > len(first.keyframes)
    assert len(list(cache.glob("*.analysis.npz"))) == 2

    calls.clear()
    raw = analyse_clip(example_clip, AnalysisSettings(smooth=False), cache_dir=cache, progress=lambda *a: calls.append(a))
    assert raw.from_cache and calls == []
    assert raw.settings.smooth is False and raw != first
    moved = [np.abs(raw.track(1).faces[i].landmarks - first.track(1).faces[i].landmarks).max() for i in range(10)]
    assert max(moved) > 0.05  # the cached raw landmarks, smoothed differently
    assert smoothed(raw, first.settings) == first


def test_corrupt_cache_is_ignored_and_rewritten(example_analysis, example_clip, tmp_path, caplog):
    first, cache, _ = example_analysis
    own = tmp_path / "cache"
    own.mkdir()
    path = cache_path(cache, first.source, first.clip_hash, AnalysisSettings())
    assert path.is_file()
    target = own / path.name
    target.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    with caplog.at_level(logging.WARNING, logger="deage.analysis"):
        redone = analyse_clip(example_clip, cache_dir=own)
    assert not redone.from_cache and redone == first
    assert "unreadable analysis file" in caplog.text
    assert Analysis.load(target) == Analysis.load(path)  # rewritten whole
    assert analyse_clip(example_clip, cache_dir=own).from_cache


def test_default_cache_is_beside_the_clip(example_clip, tmp_path):
    clip = tmp_path / "shot.mp4"
    shutil.copy(example_clip, clip)
    first = analyse_clip(clip, AnalysisSettings(descriptors=False, detect_every=20))
    files = list((tmp_path / ".deage-cache").glob("shot-*.analysis.npz"))
    assert len(files) == 1 and not first.from_cache
    assert analyse_clip(clip, AnalysisSettings(descriptors=False, detect_every=20)).from_cache
    assert not analyse_clip(clip, AnalysisSettings(descriptors=False, detect_every=20), use_cache=False).from_cache
    # a folder that cannot be made falls back to ~/.cache/deage
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert default_cache_dir(blocker / "clip.mp4") == default_cache_dir(None)
    assert default_cache_dir(None).parts[-2:] == (".cache", "deage")


def test_an_analysis_without_the_cache_leaves_the_clips_folder_as_it_was(example_clip, tmp_path):
    """``use_cache=False`` reads and writes no cache, and makes no folder: it had made an empty
    ``.deage-cache`` beside the clip (in a footage folder, in the shared media) all the same."""
    clip = tmp_path / "shot.mp4"
    shutil.copy(example_clip, clip)
    analysis = analyse_clip(clip, AnalysisSettings(descriptors=False, detect_every=20), use_cache=False)
    assert analysis.track_ids and not analysis.from_cache
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.mp4"]


def test_analysis_api(example_analysis, tmp_path):
    analysis, _, _ = example_analysis
    rows = analysis.summary()
    assert rows == [{
        "id": 1, "first_frame": 0, "last_frame": analysis.frame_count - 1, "frames": analysis.frame_count,
        "frames_without_face": [], "mean_score": rows[0]["mean_score"],
    }]
    assert 0.6 < rows[0]["mean_score"] <= 1.0
    table = analysis.format_summary()
    assert "frames without a face: none" in table and "1280x720" in table
    data = json.loads(json.dumps(analysis.to_json()))
    assert data["tracks"] == rows and data["fps"] == "24" and data["frames_without_face"] == []
    full = json.loads(json.dumps(analysis.to_json(faces=True)))
    assert len(full["tracks"][0]["faces"]["0"]["landmarks"]) == 68
    assert set(analysis.faces_at(3)) == {1}
    with pytest.raises(DeageError, match="out of range"):
        analysis.faces_at(analysis.frame_count)
    with pytest.raises(DeageError, match="no face track 9; the tracks are: 1"):
        analysis.track(9)
    saved = analysis.save(tmp_path / "a.analysis.npz")
    assert Analysis.load(saved) == analysis
    with np.load(saved, allow_pickle=False) as npz:  # plain arrays only
        assert all(npz[k].dtype != object for k in npz.files)
    bad = tmp_path / "bad.analysis.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DeageError, match="bad.analysis.npz"):
        Analysis.load(bad)


def test_settings_keys_and_validation():
    base = AnalysisSettings()
    assert base.tracking_key() != AnalysisSettings(detect_every=5).tracking_key()
    assert base.tracking_key() != AnalysisSettings(upsample=1).tracking_key()
    assert base.tracking_key() == AnalysisSettings(min_cutoff=1.0, beta=1.0, smooth=False).tracking_key()
    assert AnalysisSettings.from_dict(base.to_dict()) == base
    assert hash(base) == hash(AnalysisSettings())
    with pytest.raises(DeageError, match="unknown analysis settings: colour"):
        AnalysisSettings.from_dict({"colour": 1})
    with pytest.raises(DeageError, match="detect_every"):
        AnalysisSettings(detect_every=0)
    with pytest.raises(DeageError, match="min_cutoff"):
        AnalysisSettings(min_cutoff=-1)
    p = cache_path("/c", "my shot (v2).mov", "ab" * 32, base)
    assert p.name.startswith("my_shot__v2_-abababab") and p.name.endswith(".analysis.npz")


def test_frames_api_with_tqdm_and_bad_fps(astronaut):
    frames = [astronaut] * 3
    result = analyse_frames(frames, 25, progress="tqdm")
    assert result.clip_hash == "" and result.track_ids == [1] and result.fps == 25
    gen = analyse_frames((f for f in frames), Fraction(30000, 1001))
    assert gen.frame_count == 3 and gen.fps == Fraction(30000, 1001)
    with pytest.raises(DeageError, match="frame rate"):
        analyse_frames(frames, 0)
    with pytest.raises(DeageError, match="progress"):
        analyse_frames(frames, 25, progress="bar")


def test_a_photo_gets_the_cnn_detector_and_every_face_of_the_diverse_group(shared_media, tmp_path):
    """On a single photo the analysis also runs dlib's CNN detector: HOG at a clip's detection scale
    scores one of the five faces below the track threshold (so HOG alone drops it); with the CNN
    merged in, all five stay. The photo default (finer HOG scale and the CNN) finds all five."""
    photo = shared_media / "fo_selfie_diverse_group.jpg"
    hog_only = analyse_clip(photo, AnalysisSettings(cnn="off", min_face_size=80), use_cache=False)
    with_cnn = analyse_clip(photo, AnalysisSettings(min_face_size=80), use_cache=False)
    both = analyse_clip(photo, AnalysisSettings(), cache_dir=tmp_path)
    assert len(hog_only.track_ids) == 4
    assert len(with_cnn.track_ids) == 5
    assert len(both.track_ids) == 5
    boxes = np.stack([both.track(t).faces[0].box for t in both.track_ids])
    from deage.face.detect import box_iou

    iou = box_iou(boxes, boxes)
    np.fill_diagonal(iou, 0)
    assert iou.max() < 0.2, "one face counted twice"
    # a clip (more than one frame) keeps the fast HOG-only default
    assert AnalysisSettings().cnn == "stills"
    with pytest.raises(DeageError, match="cnn"):
        AnalysisSettings(cnn="always")


def test_motion_is_the_landmarks_move_a_frame_within_one_shot(example_analysis):
    """``Analysis.motion``: half of next minus previous of the landmarks' mean; one side at a
    track's end and beside a cut (a neighbour across it is another shot); None for a track of
    one frame, a frame the track is not in, or an unknown track."""
    from deage.face.track import Track
    from deage.types import Face

    base = example_analysis[0]
    face = base.faces_at(0)[base.track_ids[0]]

    def moved(dx: float) -> Face:
        return Face(box=face.box + (dx, 0, dx, 0), score=face.score, keypoints5=face.keypoints5 + (dx, 0),
                    landmarks=(face.landmarks + (dx, 0)).astype(np.float32))

    track = Track(1, {i: moved(3.0 * i + (10.0 if i >= 5 else 0.0)) for i in range(8)})
    shot = Analysis(**{**base.__dict__, "tracks": [track, Track(2, {3: moved(0.0)})], "cuts": [5], "frame_count": 8})
    assert np.allclose(shot.motion(1, 2), (3.0, 0.0))
    assert np.allclose(shot.motion(1, 0), (3.0, 0.0)) and np.allclose(shot.motion(1, 7), (3.0, 0.0))
    assert np.allclose(shot.motion(1, 4), (3.0, 0.0)) and np.allclose(shot.motion(1, 5), (3.0, 0.0))  # not the cut's jump
    assert shot.motion(2, 3) is None and shot.motion(2, 4) is None and shot.motion(9, 2) is None


def test_no_face_in_a_big_photo_says_how_to_look_for_smaller_ones():
    """A photo's analysis looks for faces down to 1/40 of its short side (100 px in a 24 MP
    photo): the error for one with no face found says so and how to look for smaller ones; a
    small photo (searched down to 40 px anyway) and a clip get the plain message."""
    from deage.errors import NoFaceError
    from deage.face.analysis import Analysis, AnalysisSettings
    from deage.face.select import select_tracks

    def empty(frames: int, width: int, height: int, **settings) -> Analysis:
        return Analysis("", AnalysisSettings(**settings), frames, Fraction(25), width, height, [], list(range(frames)))

    with pytest.raises(NoFaceError, match=r"6000x4000 photo faces under 100 px .* `--min-face 50`"):
        select_tracks(empty(1, 6000, 4000), "all")
    for analysis in (empty(1, 1200, 800), empty(1, 6000, 4000, min_face_size=60.0), empty(48, 6000, 4000)):
        with pytest.raises(NoFaceError) as err:
            select_tracks(analysis, "all")
        assert "--min-face" not in str(err.value)
