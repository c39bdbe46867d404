"""A streaming three-stage pipeline: decode -> process -> encode, overlapped on threads.

``run_pipeline(source, process, sink)`` pulls items from ``source`` on a reader thread, runs
``process`` on ``workers`` threads, and hands the results to ``sink`` on the calling thread, in
source order. Memory is bounded by the items in flight (``queue_size`` decoded items waiting, and
at most ``workers + queue_size`` being processed or waiting for their turn at the sink), whatever
the length of the source.

Threads pay off here because the heavy parts release the GIL: FFmpeg decoding and encoding
(PyAV), swscale conversions, OpenCV and most of numpy. With ``workers=1`` the three stages still
overlap (decode frame i+2 while processing i+1 while encoding i).

Errors: the first exception raised by the source, by ``process`` or by ``sink`` stops the
pipeline (the reader stops, pending work is cancelled, every thread is joined) and is re-raised
in the caller's thread; results of items before a source error are still delivered to the sink,
so a damaged clip yields every good frame first, like ``deage.video.Clip.frames``.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_END = object()


@dataclass(frozen=True)
class PipelineSettings:
    """How many threads and how deep the queues are.

    Attributes:
        workers: threads running ``process`` (>= 1). More than the machine's cores buys nothing;
            on a 2-core machine 1 or 2 (the encoder and decoder have their own threads).
        queue_size: decoded items waiting for a worker (>= 1); also how far results may run ahead
            of the sink.
    """

    workers: int = 1
    queue_size: int = 4

    def __post_init__(self) -> None:
        if int(self.workers) < 1 or int(self.queue_size) < 1:
            raise ValueError(f"workers and queue_size must be >= 1, got {self.workers}, {self.queue_size}")

    @property
    def max_in_flight(self) -> int:
        """Upper bound on items alive at once (decoded, processing, or done but not yet sunk)."""
        return 2 * self.queue_size + self.workers + 1

    @classmethod
    def for_machine(cls, cores: int | None = None) -> "PipelineSettings":
        """Default settings for a machine with ``cores`` usable cores (default: this one's): half the
        cores edit (at least 2 from 2 cores on, at most 4). Two editing threads on 2 cores measured
        14.3 fps against 11.1 for one at 720p (``benchmarks/deage_render.py``). More than 4 buys
        nothing: on a 16-core H200 machine at 1080p, 4 / 8 threads gave 22.9 / 23.1 fps on the CPU
        path and 38.5 / 31.6 fps on CUDA (``benchmarks/scale.py --gpu``): the editor's small numpy
        steps hold the GIL (worker processes, ``render_clip(processes=N)``, get past it)."""
        n = cores or _usable_cores()
        return cls(workers=min(max(n // 2, 2), 4) if n >= 2 else 1, queue_size=4)


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class _Reader(threading.Thread, Generic[T]):
    """Iterates the source into a bounded queue; an exception is passed on as the last item."""

    def __init__(self, source: Iterable[T], size: int, stop: threading.Event) -> None:
        super().__init__(name="deage-decode", daemon=True)
        self.source = source
        self.items: queue.Queue = queue.Queue(maxsize=size)
        self.stop = stop

    def _put(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        iterator = iter(self.source)
        try:
            for item in iterator:
                if not self._put(item):
                    break
            else:
                self._put(_END)
        except BaseException as exc:  # handed to the caller's thread
            self._put(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    pass

    def get(self) -> object:
        return self.items.get()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def run_pipeline(
    source: Iterable[T],
    process: Callable[[T], R],
    sink: Callable[[R], None],
    settings: PipelineSettings | None = None,
) -> int:
    """Stream every item of ``source`` through ``process`` into ``sink``, in order.

    Args:
        source: an iterable (typically ``clip.frames(start, stop)`` zipped with indices); iterated
            on its own thread, closed when the pipeline stops early.
        process: item -> result; called on worker threads, must not depend on call order
            (a pure function of the item, like ``FrameRenderer.render``).
        sink: called with each result in source order, on the calling thread (the encoder).
        settings: thread counts and queue depth (default ``PipelineSettings()``: 1 worker).

    Returns:
        The number of items delivered to ``sink``.

    Raises:
        Whatever the source, ``process`` or ``sink`` raised first (after delivering the results of
        every item before a source error).
    """
    settings = settings or PipelineSettings()
    stop = threading.Event()
    reader: _Reader[T] = _Reader(source, settings.queue_size, stop)
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="deage-process")
    pending: deque[Future] = deque()
    window = settings.workers + settings.queue_size
    delivered = 0
    failure: BaseException | None = None
    reader.start()
    try:
        while True:
            item = reader.get()
            if item is _END or isinstance(item, _Failure):
                failure = item.exc if isinstance(item, _Failure) else None
                break
            pending.append(pool.submit(process, item))
            while len(pending) >= window or (pending and pending[0].done()):
                sink(pending.popleft().result())
                delivered += 1
        while pending:
            sink(pending.popleft().result())
            delivered += 1
        if failure is not None:
            raise failure
    finally:
        stop.set()
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        _drain(reader)
        reader.join()
    return delivered


def _drain(reader: _Reader) -> None:
    """Empty the reader's queue so a reader blocked on ``put`` sees the stop flag and exits."""
    while reader.is_alive():
        try:
            reader.items.get(timeout=0.05)
        except queue.Empty:
            pass


__all__ = ["PipelineSettings", "run_pipeline"]
