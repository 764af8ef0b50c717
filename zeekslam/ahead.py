"""Run a pipeline stage a few chunks ahead, in a background thread.

``label`` is five stages (read and scan, parse, label, format, write): each
runs in its own thread a chunk or two ahead of the next, so the parts that
release the GIL (Arrow, numpy, file I/O) overlap the parts that do not.  Building
JSON, ECS or CSV text, much the busiest stage, takes two threads (:func:`map_ahead`).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


def ahead(items: Iterator[T], depth: int = 2, *, thread: bool = True) -> Iterator[T]:
    """The same items, made by a background thread up to ``depth`` items ahead.

    Arrow and numpy release the GIL, so while the caller handles one chunk the
    thread reads, labels or formats the next: on two cores, stages overlap.
    Errors (a malformed line under ``--strict``, an unreadable gzip) arrive in
    their place in the sequence, as if raised here.  With ``thread`` false the items
    are made in the caller's thread, as they are asked for; ``ZEEKSLAM_READ_AHEAD=0``
    in the environment does that everywhere (cProfile sees the main thread only).
    """
    if not thread or os.environ.get("ZEEKSLAM_READ_AHEAD") == "0":  # one thread: for profilers that see only one
        yield from items
        return
    import queue
    import threading

    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put((end, e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="zeekslam-ahead", daemon=True)
    _WORKERS[worker] = stop
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        # It notices within a chunk; a reader blocked on a silent pipe is a daemon and dies with us.
        worker.join(timeout=10)
        _WORKERS.pop(worker, None)


def map_ahead(function: Callable[[T], U], items: Iterable[T], workers: int = 2) -> Iterator[U]:
    """``function`` of each item, in order, computed by ``workers`` threads at once.

    For a stage that is the pipeline's busiest and spends most of its time in Arrow (which
    releases the GIL): building JSON, ECS or CSV text takes 4-10 times as long as the rest of
    ``label``, so one thread for it leaves the other core mostly idle.  At most ``workers``
    items are in hand at a time, so memory grows by ``workers - 1`` items' worth.  Errors
    arrive in their place; with one worker, or ``ZEEKSLAM_READ_AHEAD=0``, it is a plain map.
    """
    if workers < 2 or os.environ.get("ZEEKSLAM_READ_AHEAD") == "0":
        for item in items:
            yield function(item)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pending: deque = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="zeekslam-map")
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)  # no thread outlives the stage (the process's quick end counts them)


#: Live read-ahead threads and their stop flags.
_WORKERS: dict = {}


@atexit.register
def stop_all() -> None:
    """Stop the threads before the interpreter goes away (a command that exits mid-stream,
    e.g. on a broken pipe): a daemon thread killed inside Arrow's C++ aborts the process."""
    for stop in list(_WORKERS.values()):
        stop.set()
    for worker in list(_WORKERS):
        worker.join(timeout=10)
