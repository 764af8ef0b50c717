"""Run a pipeline stage a few chunks ahead, in a background thread.

``label`` is five stages (read and scan, parse, label, format, write): each
runs in its own thread a chunk or two ahead of the next, so the parts that
release the GIL (Arrow, numpy, file I/O) overlap the parts that do not.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


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
