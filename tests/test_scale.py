"""deage.scale: the streaming pipeline, frame ranges, lossless pieces, the resume manifest, and the
Ray render (a local two-worker cluster) against the single-process render on the example clip."""

from __future__ import annotations

import hashlib
import os
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from deage.errors import MediaError, OutputError
from deage.look import Look
from deage.scale.manifest import PieceRecord, WorkFolder, render_key, selection_digest
from deage.scale.pieces import PieceWriter, file_sha256, read_piece
from deage.scale.pipeline import PipelineSettings, run_pipeline
from deage.scale.ranges import FrameRange, split_frames

MAKEUP = Look.from_dict({"editor": "makeup", "edit": {"years": 20}, "blend": {"mode": "multiband", "feather": 8},
                         "keyframes": {"edit.years": [[12, 10], [30, 25]]}})
RANGE = (12, 36)  # 24 frames of the 48-frame example clip
CHUNK = 8         # -> pieces 12:16, 16:24, 24:32, 32:36 (cut on the clip's grid of 8)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ ranges


def test_split_frames_tiles_the_range_on_the_clip_grid():
    pieces = split_frames(12, 36, 8)
    assert [(p.start, p.stop) for p in pieces] == [(12, 16), (16, 24), (24, 32), (32, 36)]
    assert sum(p.frames for p in pieces) == 24 and all(p.lead_in == 0 for p in pieces)
    # the same grid whatever the requested range: overlapping renders share whole pieces
    assert (16, 24) in [(p.start, p.stop) for p in split_frames(14, 30, 8)]
    with_lead = split_frames(0, 20, 8, overlap=3)
    assert [(p.first_decoded, p.start, p.lead_in) for p in with_lead] == [(0, 0, 0), (5, 8, 3), (13, 16, 3)]
    assert split_frames(5, 6, 100) == [FrameRange(5, 6)]
    assert [p.name for p in split_frames(0, 2, 1)] == ["f00000000-00000001", "f00000001-00000002"]


@pytest.mark.parametrize("args", [(5, 5, 8), (6, 5, 8), (0, 10, 0), (0, 10, 4, -1)])
def test_split_frames_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        split_frames(*args)


# ------------------------------------------------------------------------------ pipeline


def test_pipeline_keeps_order_with_several_workers_and_uneven_work():
    rng = random.Random(1)
    delays = [rng.random() * 0.004 for _ in range(120)]
    seen: list[int] = []

    def process(i: int) -> int:
        time.sleep(delays[i])
        return i * i

    n = run_pipeline(range(120), process, seen.append, PipelineSettings(workers=3, queue_size=2))
    assert n == 120 and seen == [i * i for i in range(120)]


def test_pipeline_memory_is_bounded_by_items_in_flight_not_source_length():
    """Items alive (pulled from the source, not yet consumed by the sink) never exceed the bound."""
    settings = PipelineSettings(workers=2, queue_size=3)
    alive = 0
    peak = 0
    lock = threading.Lock()

    def source():
        nonlocal alive, peak
        for i in range(2000):
            with lock:
                alive += 1
                peak = max(peak, alive)
            yield i

    def sink(_item):
        nonlocal alive
        time.sleep(0.0002)  # the slow stage (the encoder)
        with lock:
            alive -= 1

    assert run_pipeline(source(), lambda i: i, sink, settings) == 2000
    assert alive == 0 and 2 <= peak <= settings.max_in_flight


_FRAME_LIKE_WORK = """
import resource, threading, numpy as np
from deage.scale.allocator import keep_freed_memory
tuned = keep_freed_memory()
def work():  # a render's editing thread: arrays of a few MB made and dropped every frame
    for _ in range(60):
        a = np.ones((700, 700, 3), np.float32)
        b = a * 2
        c = np.ones((300, 300), np.float32) + b[:300, :300, 0]
        del a, b, c
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
thread = threading.Thread(target=work)
thread.start()
thread.join()
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the allocator setting is glibc's (Linux)")
def test_a_render_thread_reuses_freed_memory_instead_of_faulting_it_in_again():
    """``keep_freed_memory`` (called by every render) keeps a thread's freed arrays for its next
    ones: frame-sized arrays made and dropped 60 times fault in their pages about once (about 2
    thousand faults when written), against every time without it (about 49 thousand); on the
    720p example clip the render spent a fifth of its CPU in those faults."""
    import subprocess

    def faults(keep: str) -> tuple[str, int]:
        env = {**os.environ, "DEAGE_KEEP_FREED_MEMORY": keep}
        out = subprocess.run([sys.executable, "-c", _FRAME_LIKE_WORK], env=env, capture_output=True, text=True,
                             check=True).stdout.split()
        return out[0], int(out[1])

    (tuned, kept), (untuned, faulted) = faults("1"), faults("0")
    assert (tuned, untuned) == ("True", "False")
    assert kept * 5 < faulted, (kept, faulted)


def test_pipeline_delivers_good_items_before_a_source_error_and_stops_its_threads():
    before = threading.active_count()

    def source():
        yield from range(10)
        raise MediaError("frame 10 is damaged", "clip.mp4")

    seen: list[int] = []
    with pytest.raises(MediaError, match="frame 10 is damaged"):
        run_pipeline(source(), lambda i: i, seen.append, PipelineSettings(workers=2))
    assert seen == list(range(10))
    time.sleep(0.05)
    assert threading.active_count() == before


@pytest.mark.parametrize("where", ["process", "sink"])
def test_pipeline_stops_reading_when_a_stage_fails(where):
    pulled = 0

    def source():
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield i

    def process(i):
        if where == "process" and i == 5:
            raise ValueError("boom")
        return i

    def sink(i):
        if where == "sink" and i == 5:
            raise OutputError("disk full", "out.mp4")

    with pytest.raises((ValueError, OutputError)):
        run_pipeline(source(), process, sink, PipelineSettings(workers=2, queue_size=2))
    assert pulled < 50  # the reader stopped; it did not drain the source


# ------------------------------------------------------------------------------ pieces and manifest


def test_piece_files_give_back_exactly_what_was_written(tmp_path, astronaut):
    rng = np.random.default_rng(0)
    frames = [np.roll(astronaut, 7 * i, axis=1) for i in range(4)]
    mattes = [rng.integers(0, 65536, astronaut.shape[:2], dtype=np.uint16) for _ in range(4)]
    with PieceWriter(tmp_path / "p.nut", 512, 512, tmp_path / "p.matte.nut") as writer:
        for f, m in zip(frames, mattes):
            writer.write(f, m)
    back = list(read_piece(tmp_path / "p.nut", 4))
    back_m = list(read_piece(tmp_path / "p.matte.nut", 4, matte=True))
    assert all(np.array_equal(a, b) for a, b in zip(frames, back)) and len(back) == 4
    assert all(np.array_equal(a, b) and b.dtype == np.uint16 for a, b in zip(mattes, back_m))
    with pytest.raises(MediaError, match="holds 4 frames, expected 5"):
        list(read_piece(tmp_path / "p.nut", 5))
    with pytest.raises(MediaError, match="missing or damaged"):
        list(read_piece(tmp_path / "absent.nut"))


def test_an_interrupted_piece_leaves_no_file(tmp_path, astronaut):
    with pytest.raises(RuntimeError):
        with PieceWriter(tmp_path / "p.nut", 512, 512) as writer:
            writer.write(astronaut)
            raise RuntimeError("worker interrupted")
    assert list(tmp_path.iterdir()) == []


def test_render_key_follows_what_changes_pixels(example_analysis):
    sel = selection_digest(example_analysis, [1])
    base = dict(clip_hash="c" * 64, look=MAKEUP, selection=sel, matte=False, device="cpu")
    renamed = Look.from_dict({**MAKEUP.to_dict(), "name": "other name", "notes": "n"})
    stronger = Look.from_dict({**MAKEUP.to_dict(), "edit": {"years": 21}})
    assert render_key(**base) == render_key(**{**base, "look": renamed})
    assert render_key(**base) != render_key(**{**base, "look": stronger})
    assert render_key(**base) != render_key(**{**base, "matte": True})
    assert render_key(**base) != render_key(**{**base, "clip_hash": "d" * 64})
    assert render_key(**base) != render_key(**base, deep=True) and render_key(**base) == render_key(**base, deep=False)
    moved = example_analysis.track(1).faces[3]
    saved = moved.landmarks.copy()
    try:
        moved.landmarks[0, 0] += 0.5
        assert selection_digest(example_analysis, [1]) != sel
    finally:
        moved.landmarks[:] = saved


def test_work_folder_verifies_piece_files(tmp_path, astronaut):
    folder = WorkFolder(tmp_path, "shot v1.mp4", "ab" * 32)
    path, _ = folder.piece_paths(FrameRange(0, 2), matte=False)
    folder.path.mkdir(parents=True)
    with PieceWriter(path, 512, 512) as w:
        w.write(astronaut)
        w.write(astronaut)
    record = PieceRecord(0, 2, path.name, file_sha256(path))
    folder.save({(0, 2): record})
    assert folder.load() == {(0, 2): record} and folder.verified(record)
    assert folder.path.name.startswith("shot_v1-")
    path.write_bytes(path.read_bytes()[:-10])  # a damaged piece is not trusted
    assert not folder.verified(record)
    folder.manifest_path.write_text("{not json")
    assert folder.load() == {}


# ------------------------------------------------------------------------------ Ray


@pytest.fixture(scope="module")
def example_analysis(example_clip, tmp_path_factory):
    from deage.face.analysis import analyse_clip

    return analyse_clip(example_clip, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def reference(example_clip, example_analysis, tmp_path_factory):
    """The single-process render of RANGE with a matte: what every Ray render must reproduce."""
    from deage.render import render_clip

    folder = tmp_path_factory.mktemp("reference")
    result = render_clip(example_clip, folder / "single.mp4", MAKEUP, frames=RANGE, analysis=example_analysis,
                         matte=folder / "single_matte.mov", provenance=False)
    return result


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    import logging

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the hooks below travel to the workers
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             configure_logging=False)
    yield ray
    ray.shutdown()


def decoded(path: Path) -> list[np.ndarray]:
    from deage.video import open_clip

    with open_clip(path) as clip:
        return list(clip.frames())


class KillOnce:
    """Task hook: the worker rendering ``start`` kills its own process the first time (os._exit)."""

    def __init__(self, marker: Path, start: int) -> None:
        self.marker, self.start = marker, start

    def __call__(self, piece: FrameRange) -> None:
        if piece.start == self.start and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)


class FailAfterOthers:
    """Task hook: the piece at ``start`` fails (a MediaError, not retried) once the driver's manifest
    lists ``others`` finished pieces, so the failure comes after them."""

    def __init__(self, work_dir: Path, start: int, others: int) -> None:
        self.work_dir, self.start, self.others = work_dir, start, others

    def __call__(self, piece: FrameRange) -> None:
        if piece.start != self.start:
            return
        import json

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            manifests = list(self.work_dir.glob("*/manifest.json"))
            try:
                if manifests and len(json.loads(manifests[0].read_text())["pieces"]) >= self.others:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise MediaError(f"frame {piece.start} is damaged (planted)", "example.mp4")


class RecordRuns:
    """Task hook: leaves one file per piece it renders."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, piece: FrameRange) -> None:
        (self.folder / f"{piece.start}-{piece.stop}").write_text("ran")


def test_ray_render_is_identical_to_the_single_process_render(ray_cluster, example_clip, example_analysis,
                                                              reference, tmp_path):
    from deage.scale.ray_render import render_clip_ray

    done: list[tuple[int, int]] = []
    result = render_clip_ray(
        example_clip, tmp_path / "ray.mp4", MAKEUP, frames=RANGE, analysis=example_analysis, workers=2,
        chunk=CHUNK, matte=tmp_path / "ray_matte.mov", progress=lambda d, t: done.append((d, t)),
        work_dir=tmp_path / "work",
    )
    # decoded frames bit-identical, and (same machine, same encoder threads) the file bytes too
    assert all(np.array_equal(a, b) for a, b in zip(decoded(reference.output), decoded(result.output)))
    assert len(decoded(result.output)) == 24
    assert sha(result.output) == sha(reference.output)
    assert sha(result.matte) == sha(reference.matte)
    assert result.faces_edited == reference.faces_edited == 24
    assert done[-1] == (24, 24) and [d for d, _ in done] == list(range(1, 25))
    assert result.provenance is not None and result.provenance.is_file()
    assert not any((tmp_path / "work").iterdir())  # pieces removed after a successful join


@pytest.mark.parametrize("ext", ["png", "exr"])
def test_a_deep_plate_renders_on_ray_exactly_as_in_one_process(ray_cluster, astronaut, tmp_path, ext):
    """16-bit PNG and float EXR plates (sub-8-bit detail, EXR highlights at 3.0) rendered on Ray
    with 2 workers and 2 ranges: every decoded float frame equals the single-process render's, and
    the plate's precision survives outside the face."""
    from deage.render import render_clip
    from deage.scale.ray_render import render_clip_ray
    from deage.video import ClipWriter, open_clip

    rng = np.random.default_rng(5)
    src = tmp_path / f"plate.%04d.{ext}"
    with ClipWriter(src, fps=24, width=512, height=512) as writer:
        for i in range(4):
            plate = np.roll(astronaut, 2 * i, axis=1).astype(np.float32) / 255
            plate += rng.uniform(0, 1 / 255, plate.shape).astype(np.float32)
            if ext == "exr":
                plate[:32] = 3.0
            writer.write(plate)
    single, ray_out = tmp_path / f"single.%04d.{ext}", tmp_path / f"ray.%04d.{ext}"
    render_clip(src, single, MAKEUP, cache_dir=tmp_path / "cache", provenance=False)
    render_clip_ray(src, ray_out, MAKEUP, cache_dir=tmp_path / "cache", workers=2, chunk=2,
                    work_dir=tmp_path / "work", provenance=False)
    with open_clip(src) as a, open_clip(single) as b, open_clip(ray_out) as c:
        assert c.info.bit_depth > 8 and len(c) == 4
        for plate, one, many in zip(a.frames_float(), b.frames_float(), c.frames_float()):
            np.testing.assert_array_equal(many, one)
            np.testing.assert_array_equal(many[-40:], plate[-40:])  # far from the face: the plate's values
            assert np.abs(many[85:170, 180:270] - plate[85:170, 180:270]).mean() > 0.001  # the face: edited
            if ext == "exr":
                assert np.allclose(many[:32], 3.0, atol=1e-2)  # highlights are not clipped


def test_rgba_plates_keep_their_alpha_on_ray(ray_cluster, astronaut, tmp_path):
    """RGBA PNG plates rendered on Ray (2 workers, 2 ranges): the output's RGBA equals the
    single-process render's, and its alpha is each source frame's own, taken at the join from the
    source frames it decodes there (not read a second time)."""
    import cv2

    from deage.render import render_clip
    from deage.scale.ray_render import render_clip_ray

    alphas = []
    for i in range(4):
        alpha = np.zeros((512, 512), np.uint8)
        cv2.ellipse(alpha, (230 + 10 * i, 220), (170, 230), 0, 0, 360, 255, -1)
        alphas.append(cv2.GaussianBlur(alpha, (0, 0), 6))
        cv2.imwrite(str(tmp_path / f"plate.{1001 + i:04d}.png"), np.dstack([astronaut[..., ::-1], alphas[-1]]))
    src = tmp_path / "plate.1001.png"
    render_clip(src, tmp_path / "single.%04d.png", MAKEUP, cache_dir=tmp_path / "cache", provenance=False)
    render_clip_ray(src, tmp_path / "ray.%04d.png", MAKEUP, cache_dir=tmp_path / "cache", workers=2, chunk=2,
                    work_dir=tmp_path / "work", provenance=False)
    for i, alpha in enumerate(alphas):
        one = cv2.imread(str(tmp_path / f"single.{1001 + i:04d}.png"), cv2.IMREAD_UNCHANGED)
        many = cv2.imread(str(tmp_path / f"ray.{1001 + i:04d}.png"), cv2.IMREAD_UNCHANGED)
        assert many.shape == (512, 512, 4)
        np.testing.assert_array_equal(many, one)
        np.testing.assert_array_equal(many[..., 3], alpha.astype(many.dtype) * (257 if many.dtype == np.uint16 else 1))


def test_a_killed_worker_is_retried_and_the_output_is_still_identical(ray_cluster, example_clip,
                                                                      example_analysis, reference, tmp_path):
    from deage.scale.ray_render import render_clip_ray

    marker = tmp_path / "killed-once"
    result = render_clip_ray(
        example_clip, tmp_path / "ray.mp4", MAKEUP, frames=RANGE, analysis=example_analysis, workers=2,
        chunk=CHUNK, overlap=2, work_dir=tmp_path / "work", provenance=False, _task_hook=KillOnce(marker, 16),
    )
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker process really died
    assert sha(result.output) == sha(reference.output)


def test_a_failed_render_resumes_from_its_finished_ranges(ray_cluster, example_clip, example_analysis,
                                                          reference, tmp_path):
    from deage.scale.ray_render import render_clip_ray

    work = tmp_path / "work"
    out = tmp_path / "ray.mp4"
    kwargs = dict(frames=RANGE, analysis=example_analysis, workers=2, chunk=CHUNK, work_dir=work, provenance=False)
    with pytest.raises(MediaError, match="frame 32 is damaged"):
        render_clip_ray(example_clip, out, MAKEUP, **kwargs, _task_hook=FailAfterOthers(work, 32, others=3))
    assert not out.exists() and not list(tmp_path.glob(".ray*"))  # no partial output
    (manifest,) = work.glob("*/manifest.json")
    assert "f00000016-00000024" in manifest.read_text()

    runs = tmp_path / "runs"
    runs.mkdir()
    result = render_clip_ray(example_clip, out, MAKEUP, **kwargs, _task_hook=RecordRuns(runs))
    assert sorted(p.name for p in runs.iterdir()) == ["32-36"]  # only the missing range was rendered
    assert sha(result.output) == sha(reference.output)


def test_default_editing_threads_follow_the_cores():
    from deage.scale.pipeline import PipelineSettings

    assert [PipelineSettings.for_machine(n).workers for n in (1, 2, 4, 8, 16, 32)] == [1, 2, 2, 4, 4, 4]
