"""Render a clip on a Ray cluster: one task per frame range, the pieces joined into one output.

Design (what makes the output identical to a single-process render):

1. The driver runs (or loads from the cache) the clip's analysis once and ships it, with the
   selected track ids, to every task (one ``ray.put``). The temporal smoothing lives in the
   analysis, so every range sees the very faces a single-process render sees: boundaries are
   seamless by construction, without overlap (``overlap`` adds lead-in frames for stages that
   would carry state across frames; none does today).
2. Each task renders its range with the same ``FrameRenderer`` and streams the frames (and matte)
   to a lossless piece file in the work folder (``deage.scale.pieces``: bit-exact RGB).
3. The driver joins the pieces in order, as they arrive, into the one output through the same
   writers as ``render_clip`` (``deage.scale.outputs.RenderOutputs``): the encoder receives
   bit-identical frames with the same settings, audio trim and numbering.
4. A deep source (10/12/16-bit, EXR) into a deep output: tasks edit the very 8-bit view of each
   plate a single-process render edits and store the edited 8-bit frames; the join decodes the
   plates again and adds the edit to them (``deage.render.onto_plate``), as ``render_clip`` does.

"Identical" therefore means: the decoded frames equal a single-process render's bit for bit,
for every output format; and the file bytes are equal too when the final encode runs with the
same encoder thread count (x264 and FFmpeg's other encoders here are deterministic for a given
thread count, whatever the timing; x264's bitstream changes with its thread count, which
defaults to the machine's cores, so the join runs on the driver like a single-process render).
A remuxed concatenation of H.264 segments would avoid the final encode but cannot be
byte-identical to a single-process encode (its keyframes and rate control differ).

Failure and resume: a task whose worker dies is retried by Ray (``max_retries``); an error in
the render itself (a damaged frame, a bad Look) is not retried and stops the render with that
error. Every finished piece is recorded in the work folder's manifest (``deage.scale.manifest``),
so re-running the same render resumes from the finished ranges. The work folder is deleted after
a successful join unless ``keep_work``.

Cluster: with no ``address`` and no running Ray session a local one is started (``num_cpus`` =
``workers * cpus_per_task``) and shut down at the end. On a multi-machine cluster the source
clip, the output folder and the work folder must be on a filesystem every node sees under the
same path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import socket
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deage.errors import DeageError
from deage.face.learned_masks import LearnedMasks
from deage.look import Look, default_look
from deage.render import (
    FaceSelection,
    FrameRenderer,
    ProgressFn,
    RenderResult,
    _analyse_and_select,
    _needs_faces,
    check_frames,
    keeps_precision,
    onto_plate,
    output_settings,
    record_provenance,
    render_frames,
    resolve_device,
)
from deage.scale.manifest import PieceRecord, WorkFolder, render_key, selection_digest
from deage.scale.pieces import PieceWriter, file_sha256, read_piece
from deage.scale.ranges import FrameRange, split_frames

log = logging.getLogger("deage.scale")

DEFAULT_CHUNK = 240
"""Frames per range: 10 s at 24 fps; small enough to spread a shot over a cluster and to lose
little on a failure, big enough that per-task start-up (~1 s) stays negligible."""

TaskHook = Callable[[FrameRange], None]


def render_piece(
    source: str,
    look_data: dict[str, Any],
    selection: FaceSelection,
    piece: FrameRange,
    frames_path: str,
    matte_path: str | None,
    device: Any = None,
    threads: int = 1,
    hook: TaskHook | None = None,
    deep: bool = False,
) -> PieceRecord:
    """Render one range into its lossless piece file(s); what a Ray task runs (also callable directly).

    Args:
        source: the clip (a path every worker sees).
        look_data: ``Look.to_dict()``.
        selection: the analysis and selected track ids, shared by every piece.
        piece: the frames to render (with lead-in).
        frames_path, matte_path: where the piece's frames (and matte) go.
        device: ``FrameRenderer`` device.
        threads: OpenCV threads in this worker (its share of the machine's cores).
        hook: called with ``piece`` before any work (for fault drills and tests).
        deep: edit the 8-bit view of the full-precision plates (``float_to_uint8``), as a deep
            ``render_clip`` does; the piece still holds 8-bit frames (the join adds them to the plates).

    Returns:
        The ``PieceRecord`` (file names relative to the piece's folder).
    """
    import cv2

    from deage.video import open_clip
    from deage.video.pixels import float_to_uint8

    if hook is not None:
        hook(piece)
    cv2.setNumThreads(max(1, int(threads)))
    started = time.perf_counter()
    look = Look.from_dict(look_data)
    if not _visible(source):
        raise DeageError(f"the clip is not visible on worker {socket.gethostname()}; put it on a filesystem every "
                         "node of the cluster sees under the same path", source)
    renderer = FrameRenderer(look, analysis=selection.analysis, device=device)
    with open_clip(source) as clip:
        info = clip.info
        with PieceWriter(frames_path, info.width, info.height, matte_path) as writer:
            frames = (map(float_to_uint8, clip.frames_float(piece.first_decoded, piece.stop)) if deep
                      else clip.frames(piece.first_decoded, piece.stop))
            stats = render_frames(
                frames, renderer, selection,
                lambda _index, image, matte: writer.write(image, matte),
                start=piece.start, stop=piece.stop, lead_in=piece.lead_in, matte=matte_path is not None,
                burn_in=look.burn_in, workers=1,
            )
    return PieceRecord(
        start=piece.start, stop=piece.stop, file=Path(frames_path).name, sha256=file_sha256(frames_path),
        matte_file=Path(matte_path).name if matte_path else None,
        matte_sha256=file_sha256(matte_path) if matte_path else None,
        faces_edited=stats.faces_edited, frames_without_face=stats.frames_without_face,
        host=platform.node(), seconds=time.perf_counter() - started,
    )


def _visible(source: str) -> bool:
    """Whether this machine sees the clip: its file, or for an image sequence its first file."""
    from deage.video.sequence import parse_sequence_path

    if Path(source).exists():
        return True
    pattern = parse_sequence_path(source)
    return pattern is not None and bool(pattern.scan())


def render_clip_ray(
    source: str | Path,
    output: str | Path,
    look: Look | None = None,
    *,
    frames: tuple[int, int] | None = None,
    address: str | None = None,
    workers: int | None = None,
    chunk: int = DEFAULT_CHUNK,
    overlap: int = 0,
    work_dir: str | Path | None = None,
    resume: bool = True,
    progress: ProgressFn | None = None,
    codec: str | None = None,
    analysis: Any | None = None,
    analysis_settings: Any | None = None,
    cache_dir: str | Path | None = None,
    matte: str | Path | None = None,
    provenance: bool = True,
    operator: str | None = None,
    device: Any = None,
    cpus_per_task: float = 1.0,
    gpus_per_task: float = 0.0,
    max_retries: int = 3,
    keep_work: bool = False,
    _task_hook: TaskHook | None = None,
) -> RenderResult:
    """Render ``source`` with ``look`` into ``output`` on a Ray cluster; same pixels as ``render_clip``.

    Args:
        source, output, look, frames, codec, analysis, analysis_settings, cache_dir, matte,
            provenance, operator, device: as ``deage.render.render_clip``.
        address: a Ray cluster's address (``"auto"``, ``"ray://host:10001"``...); None uses the
            running session, or starts a local one and shuts it down afterwards.
        workers: ranges rendered at once (default: the cluster's CPUs / ``cpus_per_task``; for a
            local cluster, this machine's cores).
        chunk: frames per range (ranges are cut on multiples of ``chunk`` from frame 0).
        overlap: lead-in frames each range renders and discards before its first frame.
        work_dir: folder for the pieces and the manifest (default ``.deage-render`` beside the output).
        resume: reuse the pieces a previous run of the same render finished.
        progress: ``progress(frames joined into the output, total)``.
        cpus_per_task, gpus_per_task: Ray resources per task (give GPUs for ``device="cuda"``:
            Ray hides GPUs from tasks that ask for none).
        max_retries: times Ray re-runs a task whose worker died.
        keep_work: keep the work folder after a successful render.

    Raises:
        MediaError, OutputError, LookError, NoFaceError: bad input, as ``render_clip``.
        DeageError: a range failed (its error, or its worker died more than ``max_retries`` times);
            finished ranges stay in the work folder for the next run.
    """
    try:
        import ray
    except ImportError:
        raise DeageError("distributed rendering needs Ray: pip install 'deage[scale]' (or ray>=2.40)") from None

    from deage.safe_write import check_output_path
    from deage.scale.outputs import RenderOutputs
    from deage.video import open_clip

    look = look or default_look()
    source = Path(source).absolute()
    output = check_output_path(output, source)
    if matte is not None:
        matte = check_output_path(matte, source)
    if chunk < 1 or overlap < 0:
        raise DeageError(f"chunk must be >= 1 and overlap >= 0, got chunk={chunk}, overlap={overlap}")
    if workers is not None and workers < 1:
        raise DeageError(f"workers must be at least 1, got {workers}")
    needs_faces = _needs_faces(look)
    started = time.perf_counter()
    # The look's mask models: a missing file fails here, not in every task (kept for the provenance).
    masks = LearnedMasks.build(look.masks) if needs_faces else LearnedMasks()
    with open_clip(source) as clip:
        start, stop = check_frames(frames, len(clip), source)
        selection = FaceSelection(None, [])
        if needs_faces:
            found, selected = _analyse_and_select(clip, look, analysis, analysis_settings, cache_dir)
            selection = FaceSelection(found, selected)
        clip_hash = clip.content_hash()
        writer_settings = output_settings(clip, start, stop)
        deep = keeps_precision(clip.info, output, codec)
        has_alpha = clip.info.has_alpha
    torch_path = resolve_device(device) is not None
    key = render_key(clip_hash=clip_hash, look=look, selection=selection_digest(selection.analysis, selection.track_ids),
                     matte=matte is not None, device="torch" if torch_path else "cpu", deep=deep)
    root = Path(work_dir) if work_dir is not None else output.parent / ".deage-render"
    folder = WorkFolder(root.absolute(), source.name, key)  # absolute: workers may run elsewhere
    pieces = split_frames(start, stop, chunk, overlap)
    records = folder.load() if resume else {}
    done = {(p.start, p.stop): records[(p.start, p.stop)] for p in pieces
            if folder.verified(records.get((p.start, p.stop)))}
    resumed = len(done)
    if done:
        log.info("resuming: %d of %d ranges already rendered in %s", len(done), len(pieces), folder.path)
    folder.path.mkdir(parents=True, exist_ok=True)
    result = RenderResult(output=output, frame_range=(start, stop), matte=Path(matte) if matte else None)

    # The source's alpha is added at the join, from the source frames it decodes there.
    outputs = RenderOutputs(output, **writer_settings, codec=codec, matte=matte,  # checks the paths first
                            alpha=has_alpha)
    waiting = deque(p for p in pieces if (p.start, p.stop) not in done)
    running: dict[Any, FrameRange] = {}
    started_here = _connect(address, workers, cpus_per_task)
    try:
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // max(cpus_per_task, 1e-6)))
        task = ray.remote(render_piece).options(
            num_cpus=cpus_per_task, num_gpus=gpus_per_task, max_retries=max_retries, retry_exceptions=False,
        )
        shared = ray.put(selection)
        look_data = look.to_dict()
        threads = max(1, int(round(cpus_per_task)))

        def submit() -> None:
            while waiting and len(running) < 2 * workers:  # a queue ahead keeps workers busy during joins
                piece = waiting.popleft()
                frames_path, matte_path = folder.piece_paths(piece, matte is not None)
                ref = task.remote(str(source), look_data, shared, piece, str(frames_path),
                                  str(matte_path) if matte_path else None, device, threads, _task_hook, deep)
                running[ref] = piece

        joined = 0
        with outputs:
            outputs.begin(np.zeros((1, 1, 3), np.float32 if deep else np.uint8))
            for piece in pieces:
                while (piece.start, piece.stop) not in done:
                    submit()
                    ready, _ = ray.wait(list(running), num_returns=1)
                    for ref in ready:
                        record = _collect(ray, ref, running, records, folder, max_retries)
                        done[(record.start, record.stop)] = record
                submit()
                record = done[(piece.start, piece.stop)]
                joined = _join(folder, record, outputs, joined, stop - start, progress, source, deep)
                result.faces_edited += record.faces_edited
                result.frames_without_face.extend(record.frames_without_face)
    finally:
        if running:  # interrupted: stop the tasks still queued or running
            _cancel(ray, running)
        if started_here:
            ray.shutdown()
    if not keep_work:
        folder.remove()
        if work_dir is None:
            with contextlib.suppress(OSError):
                folder.path.parent.rmdir()  # the default root, when no other render uses it
    result.seconds = time.perf_counter() - started
    if provenance:  # the renderer is built here too, for its editor's own record (a swap's
        # sources and consent) and its mask models' files
        extra: dict[str, Any] = {"ray": {"ranges": len(pieces), "chunk": chunk, "overlap": overlap,
                                         "resumed_ranges": resumed}}
        if result.matte:
            extra["matte"] = str(result.matte)
        renderer = FrameRenderer(look, analysis=selection.analysis, masks=masks)
        result.provenance = record_provenance(result, source, look, selection, renderer, operator, extra)
    return result


def _connect(address: str | None, workers: int | None, cpus_per_task: float) -> bool:
    """Join or start a Ray session; True when this call started it (and must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 configure_logging=False)
    if address is not None:
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise DeageError(f"cannot connect to the Ray cluster at {address!r} ({exc})") from None
        return True
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cpus = max(1, int(round((workers or cores) * max(cpus_per_task, 1e-6))))
    ray.init(num_cpus=cpus, **quiet)
    return True


def _collect(ray: Any, ref: Any, running: dict[Any, FrameRange], records: dict[tuple[int, int], PieceRecord],
             folder: WorkFolder, max_retries: int) -> PieceRecord:
    """Record a finished task in the manifest and return its record.

    On failure, first records every other task that has already finished (so a re-run resumes
    from them), cancels the rest, and raises a one-line ``DeageError`` (the task's own
    ``DeageError`` as it was raised, when it raised one).
    """
    piece = running.pop(ref)
    try:
        record = ray.get(ref)
    except ray.exceptions.RayError as exc:
        if running:
            finished, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
            for other in finished:
                try:
                    kept = ray.get(other)
                except ray.exceptions.RayError:
                    continue
                records[(kept.start, kept.stop)] = kept
                running.pop(other, None)
            folder.save(records)
        _cancel(ray, running)
        raise _task_error(ray, exc, piece, max_retries) from None
    records[(record.start, record.stop)] = record
    folder.save(records)
    return record


def _task_error(ray: Any, exc: Exception, piece: FrameRange, max_retries: int) -> DeageError:
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = getattr(exc, "cause", None)
        if isinstance(cause, DeageError):
            return cause
        return DeageError(f"frames {piece.start}:{piece.stop} failed on a worker: {_first_line(cause or exc)}")
    return DeageError(f"frames {piece.start}:{piece.stop}: the worker died {max_retries + 1} times "
                      f"({type(exc).__name__}); finished ranges are kept, run again to resume")


def _cancel(ray: Any, running: dict[Any, FrameRange]) -> None:
    for ref in list(running):
        try:
            ray.cancel(ref, force=True)
        except Exception:  # already finished or gone
            pass
    running.clear()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _join(folder: WorkFolder, record: PieceRecord, outputs: Any, joined: int, total: int,
          progress: ProgressFn | None, source: Path, deep: bool) -> int:
    """Append a finished piece's frames (and matte) to the outputs; returns frames joined so far.

    Reading the piece (a thread) and preparing its frames for the encoder (another) overlap with
    encoding (this thread), like a render's stages. The source's frames are decoded alongside,
    so that, as in ``render_clip``, only what the edit changed is encoded over each decoded frame
    where the output allows (``deage.video.passthrough``); with ``deep`` (full-precision plates),
    the piece's 8-bit edits are added to the source's plates (``onto_plate``).
    """
    from deage.scale.pipeline import PipelineSettings, run_pipeline
    from deage.video import open_clip
    from deage.video.passthrough import find_change
    from deage.video.pixels import float_to_uint8

    images = read_piece(folder.path / record.file, record.frames)
    mattes = read_piece(folder.path / record.matte_file, record.frames, matte=True) if record.matte_file else None
    items = zip(range(record.start, record.stop), images, mattes if mattes is not None else iter(lambda: None, 0))
    count = joined

    def prepare(item: tuple[tuple[int, Any, Any], Any]) -> tuple[int, Any, Any]:
        (index, image, alpha), frame = item
        over = outputs.encodes_over(frame)
        if deep or over:
            before = frame()
            if deep:
                image = onto_plate(before, float_to_uint8(before), image)
            if over:
                return (index, *outputs.prepare(find_change(before, image), alpha, decoded=frame.decoded))
        return (index, *outputs.prepare(image, alpha, source_alpha=frame.alpha))

    def write(item: tuple[int, Any, Any]) -> None:
        nonlocal count
        outputs.write(*item)
        count += 1
        if progress is not None:
            progress(count, total)

    with open_clip(source) as clip:
        sources = clip.deferred_frames(record.start, record.stop, precision=deep)
        run_pipeline(zip(items, sources), prepare, write, PipelineSettings(workers=1, queue_size=4))
    for rest in (images, mattes):  # run the readers to their end: they check the frame count
        for _ in rest if rest is not None else ():
            pass
    return count


__all__ = ["DEFAULT_CHUNK", "render_clip_ray", "render_piece"]
