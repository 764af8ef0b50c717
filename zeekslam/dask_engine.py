"""Label Zeek conn logs with Dask: the same labels as the pandas engine, on many cores or machines.

When to use ``--engine dask``
-----------------------------
The default pandas engine streams a log in chunks on one core, with flat
memory; it is the right choice for a day of one sensor, for stdin and for
``follow``.  Use the Dask engine for archives: many rotated logs or files of
tens of GB, when you have more cores than one (``scheduler="processes"`` or a
local cluster) or a Dask cluster whose workers see the same files
(``scheduler="tcp://host:8786"``).  Each plain file is cut into blocks of
``blocksize`` bytes at line boundaries and each block is read and labeled as
one partition by the very same code as the pandas engine
(:func:`zeekslam.read` parsing, :func:`zeekslam.label.label_frame`), so the
labels are identical row for row; a gzip file cannot be cut and is one
partition.  The engine reads each plain file twice (once to count lines, so a
malformed line is reported with its true line number) and pays Dask's
scheduling overhead, so on a single small machine it is not faster than the
default engine.  It reads local (or shared) paths only, not stdin, and one
header per file: a file whose columns change part-way (concatenated logs of
different layouts) must go through the pandas engine.

API
---
- :func:`label_logs_dask` yields labeled pandas frames in input order, a
  bounded number of partitions in flight: the drop-in twin of
  :func:`zeekslam.label.label_logs`.
- :func:`label_chunks_dask` yields :class:`zeekslam.label.LabeledChunk` objects
  (frames plus the lines as read) in input order, the twin of
  :func:`zeekslam.label.label_chunks`: hand them to :func:`zeekslam.write.write`
  for output: Zeek TSV, JSON and CSV are byte for byte what the pandas engine writes (tested).
- :func:`label_dask` returns the lazy ``dask.dataframe.DataFrame`` itself, for
  aggregations over an archive (``ddf["slam.label"].value_counts().compute()``).

Each partition's index runs from 0; frames hold the parsed label columns plus
the ``slam.*`` columns, exactly like the pandas engine's frames.
"""

from __future__ import annotations

import codecs
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dask
import pandas as pd
from dask.utils import parse_bytes

from .label import (
    SLAM_FACT_COLUMNS,
    LabeledChunk,
    LabelOptions,
    join_slam_facts,
    label_with_patterns,
    primary_and_facts,
)
from .read import (
    GZIP_ERRORS,
    LABEL_COLUMNS,
    Header,
    InputError,
    LogChunk,
    MalformedLine,
    TsvState,
    find_inputs,
    kind_of,
    open_binary,
    parse_json,
    parse_tsv,
)

#: Default partition size of plain files: about 125k conn.log rows.
DEFAULT_BLOCKSIZE = "16MiB"

#: Names of Dask's local schedulers (anything else is a distributed scheduler address).
LOCAL_SCHEDULERS = frozenset({"threads", "threading", "processes", "multiprocessing", "sync", "synchronous",
                              "single-threaded"})

_HEADER_SCAN_LINES = 10_000


@dataclass(frozen=True)
class Block:
    """One partition: bytes [start, end) of a file, whose first line has number ``first_line``."""

    path: str
    start: int
    end: int  # -1: to the end of the (decompressed) file
    first_line: int
    fmt: str  # "tsv" or "json"
    header: Header | None  # TSV: the file's header
    data_from: int  # number of the file's first data line: lines before it are header lines


@dataclass(frozen=True)
class _FilePlan:
    path: str
    fmt: str
    header: Header | None
    data_from: int
    compressed: bool
    size: int


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _scan_header(path: str) -> tuple[str, Header | None, int]:
    """Format, header and first data line of a file, as :func:`zeekslam.read.read_log` finds them."""
    state = TsvState()
    fmt = ""
    stream = open_binary(path)
    try:
        for number, raw in enumerate(stream, 1):
            if number > _HEADER_SCAN_LINES:
                break
            line = raw.decode("utf-8", "backslashreplace")
            line = line[:-1] if line.endswith("\n") else line
            if not line:
                continue
            if not fmt:
                if not line.lstrip():
                    continue
                fmt = "json" if line.lstrip().startswith("{") else "tsv"
            if fmt == "json":
                return fmt, None, number
            if line.startswith("#"):
                state.header_line(line)
                continue
            if state.ensure(line):
                continue  # LogAscii::tsv=T: this line holds the field names
            return fmt, state.header, number
    except GZIP_ERRORS as e:
        raise InputError(path, f"cannot be read as gzip: {e}") from None
    finally:
        stream.close()
    # No data line in the first lines scanned: a header-only (or blank) file.
    return fmt or "tsv", state.header, _HEADER_SCAN_LINES + 1 if fmt else 1


def _boundaries(path: str, size: int, blocksize: int) -> list[tuple[int, int]]:
    """Byte ranges of about ``blocksize`` that start and end at line boundaries."""
    if size <= blocksize:
        return [(0, size)]
    cuts = [0]
    with open(path, "rb") as f:
        offset = blocksize
        while offset < size:
            f.seek(offset)
            pos = offset
            while True:
                piece = f.read(1 << 16)
                if not piece:
                    pos = size
                    break
                nl = piece.find(b"\n")
                if nl >= 0:
                    pos += nl + 1
                    break
                pos += len(piece)
            if pos >= size:
                break
            if pos > cuts[-1]:
                cuts.append(pos)
            offset = max(pos, cuts[-1]) + blocksize
    cuts.append(size)
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _read_range(path: str, start: int, end: int) -> bytes:
    if end < 0:
        stream = open_binary(path)
        try:
            return stream.read()
        except GZIP_ERRORS as e:
            raise InputError(path, f"cannot be read as gzip: {e}") from None
        finally:
            stream.close()
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(end - start)


def _count_lines(path: str, start: int, end: int) -> int:
    return _read_range(path, start, end).count(b"\n")


def _plan(path: str) -> _FilePlan:
    fmt, header, data_from = _scan_header(path)
    compressed = _is_gzip(path)
    return _FilePlan(path, fmt, header, data_from, compressed, os.path.getsize(path))


def _blocks(plans: Sequence[_FilePlan], blocksize: int, compute) -> list[Block]:
    """Cut every file into blocks and number their first lines (one parallel counting pass)."""
    ranges: list[tuple[_FilePlan, int, int]] = []
    for plan in plans:
        if plan.compressed:
            ranges.append((plan, 0, -1))
        else:
            ranges += [(plan, a, b) for a, b in _boundaries(plan.path, plan.size, blocksize)]
    # Lines before each block: count the newlines of every block but the last of each file.
    to_count = [i for i, (plan, _, end) in enumerate(ranges)
                if end >= 0 and i + 1 < len(ranges) and ranges[i + 1][0] is plan]
    counts = dict(zip(to_count, compute([dask.delayed(_count_lines, pure=True)(ranges[i][0].path, *ranges[i][1:])
                                         for i in to_count]), strict=True)) if to_count else {}
    blocks = []
    first = 1
    for i, (plan, start, end) in enumerate(ranges):
        if start == 0:
            first = 1
        blocks.append(Block(plan.path, start, end, first, plan.fmt, plan.header, plan.data_from))
        first += counts.get(i, 0)
    return blocks


def _header_changes(state: TsvState, header: Header) -> bool:
    new = state.header
    return new is not None and (new.fields != header.fields or new.types != header.types
                                or new.separator != header.separator or new.unset_field != header.unset_field
                                or new.empty_field != header.empty_field)


def label_block(block: Block, options: LabelOptions | None = None, facts: pd.DataFrame | None = None,
                columns: Sequence[str] | None = LABEL_COLUMNS, strict: bool = False,
                keep_chunk: bool = False) -> pd.DataFrame | LabeledChunk:
    """Read and label one block: the pandas engine's parsing and labeling, on a byte range.

    Returns the labeled frame, or with ``keep_chunk`` the :class:`LabeledChunk`
    (the lines as read too, which the writers need for lossless output).
    """
    return _label_bytes(block, _read_range(block.path, block.start, block.end), options, facts, columns, strict,
                        keep_chunk)


def _label_bytes(block: Block, raw: bytes, options: LabelOptions | None, facts: pd.DataFrame | None,
                 columns: Sequence[str] | None, strict: bool, keep_chunk: bool = False) -> pd.DataFrame | LabeledChunk:
    text = codecs.decode(raw, "utf-8", "backslashreplace")
    if text.endswith("\n"):
        text = text[:-1]
    lines = text.split("\n") if text else []
    first = block.first_line
    if (first >= block.data_from and not text.startswith("#") and "\n#" not in text
            and "\n\n" not in text and text):
        data, numbers = lines, list(range(first, first + len(lines)))
    else:
        data, numbers = [], []
        state = TsvState()
        for number, line in enumerate(lines, first):
            if number < block.data_from or not line:
                continue
            if block.fmt == "tsv" and line.startswith("#"):
                state.header_line(line)
                if block.header is not None and _header_changes(state, block.header):
                    raise InputError(block.path, "the columns change here; the Dask engine reads one header "
                                     "per file: label this file with the pandas engine", line=number)
                continue
            data.append(line)
            numbers.append(number)
    wanted = None if columns is None else list(dict.fromkeys([*columns, *SLAM_FACT_COLUMNS]))
    records = None
    if block.fmt == "json":
        frame, records, errors = parse_json(data, wanted)
    else:
        assert block.header is not None
        frame, errors = parse_tsv(data, block.header, wanted)
    if strict and errors:
        pos = min(errors)
        raise MalformedLine(block.path, numbers[pos], errors[pos])
    frame = join_slam_facts(frame, facts)
    where = [f"{block.path}:{n}" for n in numbers] if errors else None
    labeled, patterns = label_with_patterns(frame, options, errors, where)
    if not keep_chunk:
        return labeled
    if block.fmt == "json":
        kind = kind_of(frame.columns, str(records[0].get("_path", "")) if records else "", block.path)
        chunk = LogChunk(block.path, "json", kind, None, frame, numbers, records=records, errors=errors)
    else:
        assert block.header is not None
        chunk = LogChunk(block.path, "tsv", kind_of(block.header.fields, block.header.path, block.path),
                         block.header, frame, numbers, raw=data, errors=errors)
    return LabeledChunk(chunk, labeled, patterns)


def _inputs(paths: Sequence[str], strict: bool) -> tuple[list[str], pd.DataFrame | None]:
    """The primary logs and the slam facts, chosen as :func:`zeekslam.label.label_chunks` does."""
    if any(p == "-" for p in paths):
        raise InputError("-", "the Dask engine reads files, not stdin: use the pandas engine")
    return primary_and_facts(find_inputs(paths), strict)


def _local_compute(scheduler: str | None):
    def compute(tasks):
        return list(dask.compute(*tasks, scheduler=scheduler) if scheduler else dask.compute(*tasks))
    return compute


def _prepare(paths, blocksize, strict, compute) -> tuple[list[Block], pd.DataFrame | None]:
    primary, facts = _inputs(paths, strict)
    plans = [_plan(p) for p in primary]
    return _blocks(plans, parse_bytes(blocksize) if isinstance(blocksize, str) else int(blocksize), compute), facts


def label_dask(paths: Sequence[str], options: LabelOptions | None = None, *, blocksize: int | str = DEFAULT_BLOCKSIZE,
               columns: Sequence[str] | None = LABEL_COLUMNS, strict: bool = False):
    """The labeled logs as a lazy ``dask.dataframe.DataFrame``, one partition per block, in input order.

    Compute it on whatever scheduler is active (a ``distributed.Client`` in the
    session, or ``dask.config.set(scheduler=...)``).  Building it counts the
    lines of every multi-block file (one parallel pass over the data).
    """
    import dask.dataframe as dd

    blocks, facts = _prepare(paths, blocksize, strict, _local_compute(None))
    if not blocks:
        return dd.from_pandas(pd.DataFrame(), npartitions=1)
    facts_arg = dask.delayed(facts) if facts is not None else None
    parts = [dask.delayed(label_block, pure=True)(b, options, facts_arg, columns, strict) for b in blocks]
    return dd.from_delayed(parts, meta=_meta(blocks[0], options, facts, columns), verify_meta=False)


def _meta(block: Block, options: LabelOptions | None, facts: pd.DataFrame | None,
          columns: Sequence[str] | None) -> pd.DataFrame:
    """An empty frame with the columns and types of a labeled partition (Dask's ``meta``)."""
    stream = open_binary(block.path)
    try:
        head = stream.read(1 << 16)
    finally:
        stream.close()
    head = head[: head.rfind(b"\n") + 1]
    return _label_bytes(Block(block.path, 0, len(head), 1, block.fmt, block.header, block.data_from),
                        head, options, facts, columns, False).iloc[:0]


def label_logs_dask(paths: Sequence[str], options: LabelOptions | None = None, *, scheduler: str | None = None,
                    blocksize: int | str = DEFAULT_BLOCKSIZE, columns: Sequence[str] | None = LABEL_COLUMNS,
                    strict: bool = False, in_flight: int | None = None) -> Iterator[pd.DataFrame]:
    """Labeled frames of the given logs (files or directories), in input order, computed by Dask.

    ``scheduler``: ``None`` uses the active default (a ``distributed.Client``
    made in this session, else Dask's threads); ``"threads"``,
    ``"processes"`` or ``"synchronous"`` a local scheduler; anything else is
    the address of a distributed scheduler (``"tcp://10.0.0.1:8786"``),
    connected to for the duration of the iteration.  At most ``in_flight``
    partitions (default: one per local thread, two per distributed worker
    thread) are computed ahead of the one being yielded, so memory stays
    bounded on any archive.
    """
    yield from _iterate(paths, options, scheduler, blocksize, columns, strict, in_flight, keep_chunk=False)


def label_chunks_dask(paths: Sequence[str], options: LabelOptions | None = None, *, scheduler: str | None = None,
                      blocksize: int | str = DEFAULT_BLOCKSIZE, columns: Sequence[str] | None = LABEL_COLUMNS,
                      strict: bool = False, in_flight: int | None = None) -> Iterator[LabeledChunk]:
    """:func:`zeekslam.label.label_chunks`, computed by Dask: labeled chunks with their lines as
    read, in input order, for :func:`zeekslam.write.write` (what ``zeekslam label --engine dask``
    needs).  The arguments are those of :func:`label_logs_dask`; each chunk also carries its
    lines back from the worker, so this moves about twice the data of :func:`label_logs_dask`.
    """
    yield from _iterate(paths, options, scheduler, blocksize, columns, strict, in_flight, keep_chunk=True)


def _iterate(paths, options, scheduler, blocksize, columns, strict, in_flight, keep_chunk) -> Iterator:
    client = None
    own_client = False
    if scheduler and scheduler not in LOCAL_SCHEDULERS:
        from distributed import Client

        client = Client(scheduler, set_as_default=False)
        own_client = True
    elif scheduler is None:
        try:
            from distributed import default_client

            client = default_client()
        except (ImportError, ValueError):
            client = None
    try:
        if client is not None:
            def compute(tasks):
                return client.gather(client.compute(list(tasks)))
            threads = sum(client.nthreads().values()) or 1
        else:
            compute = _local_compute(scheduler)
            threads = os.cpu_count() or 1
        blocks, facts = _prepare(paths, blocksize, strict, compute)
        # Distributed: twice the threads, to hide the round trips; local: one batch of one per thread.
        window = in_flight or (2 * threads if client is not None else threads)
        if client is not None:
            facts_arg = client.scatter(facts, broadcast=True) if facts is not None else None
            pending: deque = deque()
            todo = iter(blocks)

            def submit() -> None:
                block = next(todo, None)
                if block is not None:
                    pending.append(client.submit(label_block, block, options, facts_arg, columns, strict,
                                                 keep_chunk, pure=False))

            for _ in range(window):
                submit()
            while pending:
                future = pending.popleft()
                result = future.result()
                future.release()
                submit()
                yield result
        else:
            for i in range(0, len(blocks), window):
                batch = [dask.delayed(label_block, pure=True)(b, options, facts, columns, strict, keep_chunk)
                         for b in blocks[i:i + window]]
                yield from compute(batch)
    finally:
        if own_client and client is not None:
            client.close()


__all__ = ["DEFAULT_BLOCKSIZE", "Block", "label_block", "label_chunks_dask", "label_dask", "label_logs_dask"]
