"""Editing frames on worker processes: frame-parallel rendering past the GIL.

Threads share one interpreter lock, and the embedded editor's many small numpy steps take it
often: on a 16-core GPU machine a threaded 1080p render stopped getting faster at 4 editing
threads (``benchmarks/scale.py --gpu``). ``ProcessEditing`` runs ``FrameRenderer.render`` in
worker processes instead, each with its own renderer (and, on a GPU, its own CUDA context). The
calling process keeps decoding, the RGB conversion (on the pipeline's threads) and encoding; it
sends each frame to a worker through a shared-memory slot and gets back what the edit changed
(``deage.video.passthrough.FrameChange``, encoded over the decoded frame) or, where the output
cannot take that, the edited frame already converted to the encoder's pixel format
(``deage.video.writer.EncoderConversion``) as plain planes, so the costliest conversions run in
the workers too. The pixels are those of a threaded render: the same functions run on the same
bytes in another process.

Workers are started with ``spawn`` (safe with CUDA and with threads in the parent) and pay
their start-up (imports, building the editor) once per render; a clip of a few seconds gains
little, a shot of hundreds of frames gains the most. A worker that dies is replaced (with the
whole pool) and the frames in flight are edited again, so the output is the same.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from deage.errors import DeageError
from deage.types import Face, Image
from deage.video.passthrough import FrameChange, find_change
from deage.video.planes import FramePlanes
from deage.video.writer import EncoderConversion

MAX_RESTARTS = 3
"""Pools replaced after a worker died, per render, before the render gives up."""

# The renderer of *this* worker process, set once by ``_start_worker`` (each process has its own).
_WORKER: dict[str, Any] = {}


def _start_worker(look_data: dict, analysis: Any, device: Any, threads: int) -> None:
    import cv2
    import torch

    from deage.look import Look
    from deage.render import FrameRenderer
    from deage.scale.allocator import keep_freed_memory

    keep_freed_memory()
    cv2.setNumThreads(threads)
    torch.set_num_threads(threads)
    _WORKER["renderer"] = FrameRenderer(Look.from_dict(look_data), analysis=analysis, device=device)


def _slot_view(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """This worker's view of a shared-memory frame slot (attached once per slot)."""
    from multiprocessing import shared_memory

    slots = _WORKER.setdefault("slots", {})
    if name not in slots:  # the parent owns the block and unlinks it; workers share its resource tracker
        slots[name] = shared_memory.SharedMemory(name=name)
    return np.ndarray(shape, np.uint8, buffer=slots[name].buf)


def _edit(index: int, slot: str, shape: tuple[int, ...], faces: dict[int, Face], matte: bool, burn_in: bool,
          conversion: EncoderConversion | None, change: bool) -> tuple[Any, np.ndarray | None]:
    from deage.render import edit_frame

    frame = _slot_view(slot, shape)
    out, alpha = edit_frame(_WORKER["renderer"], index, frame, faces, matte=matte, burn_in=burn_in)
    if change:  # the box and its new pixels; the parent has the old ones (``ProcessEditing.edit``)
        found = find_change(frame, out)
        return (None if found is None else (found.box, found.after)), alpha
    return (FramePlanes.of(conversion(out)) if conversion is not None else out), alpha


class ProcessEditing:
    """A pool of worker processes that edit frames with a Look; a context manager.

    Args:
        renderer: the calling process's ``FrameRenderer``: its Look, analysis and device are
            given to each worker (an ``editor`` instance passed to it is not: workers build the
            Look's own editor).
        processes: worker processes (>= 1).
        threads: OpenCV / torch threads per worker (default: the machine's cores / ``processes``).
    """

    def __init__(self, renderer: Any, processes: int, *, threads: int | None = None) -> None:
        if int(processes) < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self.processes = int(processes)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.threads = int(threads) if threads else max(1, cores // self.processes)
        self._args = (renderer.look.to_dict(), renderer.analysis,
                      renderer.device if renderer.device is not None else "cpu", self.threads)
        self._pool: ProcessPoolExecutor | None = None
        self._generation = 0  # pools started so far (a pool whose worker died is replaced)
        self.restarts = 0
        self._slots: list[Any] = []
        self._free: queue.Queue = queue.Queue()
        self._lock = threading.Lock()

    def __enter__(self) -> "ProcessEditing":
        self._pool = self._new_pool()
        return self

    def _new_pool(self) -> ProcessPoolExecutor:
        self._generation += 1
        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=self._args)

    def _replace_pool(self, generation: int) -> None:
        """Start a new pool after a worker died (once per broken pool, whichever thread sees it first)."""
        with self._lock:
            if generation != self._generation or self._pool is None:
                return  # another thread replaced it already
            if self.restarts >= MAX_RESTARTS:
                raise DeageError(f"render worker processes died {self.restarts + 1} times (out of memory, or "
                                 "killed); render again with fewer processes, or with threads") from None
            self.restarts += 1
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for block in self._slots:
            block.close()
            block.unlink()
        self._slots.clear()

    def _take_slot(self, nbytes: int) -> Any:
        """A shared-memory block of at least ``nbytes`` no other frame in flight uses."""
        from multiprocessing import shared_memory

        with self._lock:
            if self._free.empty() and len(self._slots) < self.processes + 2:
                _check_shared_memory(nbytes)
                block = shared_memory.SharedMemory(create=True, size=nbytes)
                self._slots.append(block)
                return block
        block = self._free.get()
        if block.size < nbytes:  # a larger frame than before (not within one clip)
            raise DeageError(f"frame of {nbytes} bytes does not fit the render's {block.size}-byte slots")
        return block

    def submit(self, index: int, frame: Image, faces: dict[int, Face], *, matte: bool = False,
               burn_in: bool = False, conversion: EncoderConversion | None = None, change: bool = False) -> Future:
        """Edit ``frame`` (RGB uint8 (H, W, 3)) at clip index ``index`` on a worker.

        The future's result is ``(image, matte)``: with ``change``, the box the edit changed and
        its new pixels (``FrameChange.box``, ``.after``; None: no change), a fraction of a frame
        to send back (``edit`` makes the ``FrameChange``); else the edited frame, as
        ``FramePlanes`` of ``conversion``'s output when one is given, else RGB uint8 (H, W, 3);
        and the uint16 (H, W) matte when ``matte``, else None.
        """
        if self._pool is None:
            raise RuntimeError("ProcessEditing is not open (use it in a with block)")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            raise ValueError(f"frames sent to render workers must be uint8, got {frame.dtype}")
        block = self._take_slot(frame.nbytes)
        # The frame goes through shared memory (a copy numpy makes without holding the GIL):
        # pickling it into the pool's pipe held the GIL for ~15 ms per 1080p frame.
        np.copyto(np.ndarray(frame.shape, np.uint8, buffer=block.buf), frame)
        try:
            future = self._pool.submit(_edit, index, block.name, frame.shape, faces, matte, burn_in, conversion, change)
        except BaseException:
            self._free.put(block)
            raise
        future.add_done_callback(lambda _: self._free.put(block))
        return future

    def edit(self, index: int, frame: Image, faces: dict[int, Face], **kwargs: Any) -> tuple[Any, np.ndarray | None]:
        """``submit(...).result()``, with ``change=True`` as the ``FrameChange`` (or None). A
        worker that dies (killed, out of memory) breaks the pool: a new pool is started and the
        frames in flight are edited again (the edit is a pure function of the frame, so the output
        does not change), up to ``MAX_RESTARTS`` times; then a ``DeageError``."""
        while True:
            generation = self._generation
            try:
                image, alpha = self.submit(index, frame, faces, **kwargs).result()
                break
            except BrokenProcessPool:
                self._replace_pool(generation)
        if kwargs.get("change") and image is not None:
            (x0, y0, x1, y1), after = image
            image = FrameChange((x0, y0, x1, y1), np.asarray(frame)[y0:y1, x0:x1].copy(), after)
        return image, alpha


def _check_shared_memory(nbytes: int) -> None:
    """Refuse clearly (instead of dying of SIGBUS later) when /dev/shm cannot hold another slot."""
    try:
        stat = os.statvfs("/dev/shm")
    except OSError:
        return
    free = stat.f_bavail * stat.f_frsize
    if free < 2 * nbytes:
        raise DeageError(f"/dev/shm has {free / 2**20:.0f} MiB free, too little for render worker processes "
                         f"({nbytes / 2**20:.0f} MiB per frame in flight); render with threads (processes=0) "
                         "or give the container more shared memory (docker --shm-size)")


__all__ = ["MAX_RESTARTS", "ProcessEditing"]
