"""Read Zeek logs: TSV driven by its own header, JSON lines, gzip, directories, stdin.

Every data line comes out as a row, in order.  A line that cannot be read
(wrong field count, a value that is not of its column's type, NUL bytes, bad
JSON) is kept as a row whose ``errors`` entry says what is wrong; nothing is
dropped.  The reader works in bounded chunks so memory stays flat on any input.

Why not zat's readers: ``LogToDataFrame`` calls ``read_csv(comment="#")``, so a
``#`` inside any field (an FTP banner, a URI) cuts the row there; its
``ZeekLogReader`` loops forever on JSON logs; neither opens ``.gz`` and both
print to stdout.  We use zat's Zeek-type-to-pandas mapping (its type map) and
parse the lines ourselves with pandas' C tokenizer, with no comment character.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np

from .ahead import ahead
from .columns import ArrowColumns, Columns, FrameColumns, arrow_binary, arrow_indices

try:  # ISA-L's gzip reader (the isal package): the same file API, inflating ~2.5x as fast as
    # zlib (measured: a 2M-row conn.log.gz, 99 MB, in 0.39 s against 1.01 s)
    from isal.igzip import IGzipFile as _GzipFile
    from isal.isal_zlib import error as _InflateError
except ImportError:  # pragma: no cover - a platform without isal's wheels
    from gzip import GzipFile as _GzipFile
    from zlib import error as _InflateError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: What reading a damaged gzip stream raises: BadGzipFile is an OSError, a cut stream raises
#: EOFError, a bad deflate block zlib's error (or ISA-L's).
GZIP_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, _InflateError)

#: Zeek type -> pandas dtype, as zat maps them (``LogToDataFrame().type_map``; a test keeps the
#: two equal).  Copied rather than imported: importing zat imports pandas, which the Zeek TSV
#: lane never needs, and start-up time counts on every run.
ZAT_TYPE_MAP: dict[str, str] = {"bool": "category", "count": "UInt64", "int": "Int32", "double": "float",
                                "time": "float", "interval": "float", "port": "UInt16"}
NUMERIC_TYPES = frozenset(t for t, d in ZAT_TYPE_MAP.items() if d != "category")

#: Kinds of log zeekslam reads, and how each is recognised from its columns.
CONN, SLAM, FTP = "conn", "slam", "ftp"

#: Columns the labeler needs; everything else is carried through untouched.
LABEL_COLUMNS = (
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
    "duration", "orig_bytes", "resp_bytes", "conn_state", "missed_bytes", "history",
)

#: Columns whose values are checked against their type: a bad one makes its row malformed
#: whatever the output format.  Other columns are carried as they are (a bad number there
#: reads as unset in JSON/CSV output, and stays as written in Zeek TSV output).
CHECKED_COLUMNS = frozenset(LABEL_COLUMNS)

#: Types of the columns of stock conn.log and of the project's slam.log, for
#: input that carries no #types line (JSON, headerless TSV).
KNOWN_TYPES: dict[str, str] = {
    "ts": "time", "uid": "string", "id.orig_h": "addr", "id.orig_p": "port",
    "id.resp_h": "addr", "id.resp_p": "port", "proto": "enum", "service": "string",
    "duration": "interval", "orig_bytes": "count", "resp_bytes": "count",
    "conn_state": "string", "local_orig": "bool", "local_resp": "bool",
    "missed_bytes": "count", "history": "string", "orig_pkts": "count",
    "orig_ip_bytes": "count", "resp_pkts": "count", "resp_ip_bytes": "count",
    "tunnel_parents": "set[string]", "ip_proto": "count", "vlan": "int", "inner_vlan": "int",
    "closer": "string", "close_kind": "string", "close_delay": "interval",
    "orig_data_delay": "interval", "resp_data_delay": "interval",
    "ftp_reply_code": "count", "ftp_reply_msg": "string", "ftp_last_reply_code": "count",
    "ftp_last_reply_msg": "string", "smtp_reply_code": "count", "smtp_reply_msg": "string",
    "resp_concurrent": "count", "orig_concurrent": "count",
    "resp_ttl_synack": "count", "resp_ttl_close": "count",
    "reply_code": "count", "reply_msg": "string", "command": "string",
}

_STOCK_CONN = [
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
    "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
    "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
    "tunnel_parents",
]
#: Stock conn.log layouts by column count, for data lines that come before any header.
STOCK_LAYOUTS: dict[int, list[str]] = {
    21: _STOCK_CONN,  # Bro 2.4 .. Zeek 7.0
    22: _STOCK_CONN + ["ip_proto"],  # Zeek 7.1+
    20: [f for f in _STOCK_CONN if f != "local_resp"],  # Bro 2.1 .. 2.3
}

# Only ASCII escapes become characters: Zeek spells a non-UTF-8 byte \xNN (NN >= 80), and
# turning it into the code point U+00NN would invent a character the server never sent.
_ESCAPE = re.compile(r"\\x([0-7][0-9a-fA-F])")
_ROTATED = re.compile(r"^(?P<kind>[a-z_]+)\.\d{2}[:_]\d{2}[:_]\d{2}-\d{2}[:_]\d{2}[:_]\d{2}\.log(\.gz)?$")
_LOG_NAME = re.compile(r"^(?P<kind>[a-z_]+?)(\.[^/]*)?\.log(\.gz)?$")
READ_BLOCK = 1 << 20
#: Bytes read at a time by :func:`read_log`: a few chunks' worth, so Arrow gets long runs of lines.
FAST_BLOCK = 3 << 20
#: Bytes of printable ASCII, tab and newline: a block of nothing else needs no escaping.
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n"
#: Rows per chunk: small enough to stay in cache and keep peak memory near 200 MB,
#: large enough that per-chunk overhead does not show (measured: 10k-30k is the sweet spot).
CHUNK_ROWS = 25_000
#: Rows per chunk when each chunk becomes a pandas frame of Python objects (ECS and CSV output),
#: or carries one (slam.log facts joined): ~40 MB per 25,000 rows in flight; 10,000 keep peak
#: RSS under 300 MB at 2M rows (measured: ECS 338 -> 196 MB; report with 90k slam.log facts
#: 313 -> 291 MB).
FRAME_CHUNK_ROWS = 10_000
#: Rows per chunk when JSON lines are built from Zeek TSV: two chunks are built at once (in two
#: threads), each ~40 MB of Arrow's intermediates per 12,500 rows (measured at 2M rows: 25,000-row
#: chunks 3.6 s at 330-347 MB, 12,500 3.9-4.3 s at 224-231 MB, against 5.3-6.1 s at 242-259 MB
#: when one thread built 25,000-row chunks).
JSON_CHUNK_ROWS = 12_500
#: Rows per chunk of lines taken one by one (JSON input, lines that are not clean ASCII): each
#: becomes Python objects, a JSON row its dict too (kept for the writers), ~2 KB in all
#: (measured on 200k rows of JSON in: 25,000-row chunks peaked at 533 MB, 5,000 at 243 MB,
#: at the same speed).
LINE_CHUNK_ROWS = 5_000


class ZeekslamError(Exception):
    """Base class of the errors zeekslam reports to a user."""


class InputError(ZeekslamError):
    """An input that cannot be read at all: missing, unreadable, not a Zeek log."""

    def __init__(self, path: str, reason: str, line: int | None = None):
        self.path, self.reason, self.line = path, reason, line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")


class NotAZeekLog(InputError):
    """A readable file that is not a log zeekslam can label."""


class MalformedLine(ZeekslamError):
    """Raised instead of keeping a malformed row when reading strictly."""

    def __init__(self, path: str, line: int, reason: str):
        self.path, self.line, self.reason = path, line, reason
        super().__init__(f"{path}:{line}: {reason}")


def unescape(text: str) -> str:
    """Undo Zeek's ``\\xNN`` escaping of a TSV field."""
    if "\\x" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


@dataclass
class Header:
    """A Zeek TSV header block (or one made up for headerless input)."""

    fields: list[str]
    types: list[str]
    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"
    path: str = ""
    open: str = ""
    note: str = ""  # why the header was made up, if it was

    def type_of(self, name: str) -> str:
        try:
            return self.types[self.fields.index(name)]
        except (ValueError, IndexError):
            return KNOWN_TYPES.get(name, "string")


class LogChunk:
    """Up to ``chunk_rows`` consecutive data lines of one input, read.

    A chunk of clean Zeek TSV lines keeps them as bytes (``data``) with the
    columns Arrow parsed (``table``); its ``raw`` lines and pandas ``frame`` are
    made from those only if a writer or the report asks.
    """

    def __init__(self, source: str, fmt: str, kind: str, header: Header | None, frame: pd.DataFrame | None,
                 line_numbers: Sequence[int], raw: list[str] | None = None, records: list[dict] | None = None,
                 errors: dict[int, str] | None = None, clean: bool = False, *, data: bytes | memoryview | None = None,
                 table: pa.Table | None = None, numeric: Sequence[str] = (), newlines: np.ndarray | None = None,
                 later: Sequence[str] = (), json_lines: list[str] | None = None,
                 json_columns: Sequence[str] | None = None, json_table: pa.Table | None = None):
        self.source, self.fmt, self.kind, self.header = source, fmt, kind, header
        self.line_numbers = line_numbers
        self._records = records  # JSON: the objects as read
        # plain JSON lines Arrow parsed (``table``): their objects and frame are made if asked
        self._json_lines, self._json_columns = json_lines, json_columns
        self.json_table = json_table  # plain JSON lines: every column as Arrow's JSON reader typed it
        # JSON: every object is printable ASCII with no escape and no NaN or Infinity, so writers may
        # take its texts and numbers as they are (nothing for safe_text or JSON to change)
        self.plain_json = json_lines is not None and not any(
            _JSON_NAN.search(line) for line in json_lines if "NaN" in line or "Infinity" in line)
        self.errors: dict[int, str] = {} if errors is None else errors  # row position -> what is wrong
        self.clean = clean  # the raw lines are printable ASCII and tabs only
        self.data = data  # clean TSV: the lines as read, joined by newlines (no final newline)
        self.table = table  # clean TSV: the wanted columns as Arrow parsed them
        self.newlines = newlines  # clean TSV: where in ``data`` each newline is
        self._later = list(later)  # clean TSV: wanted text columns not parsed yet (see read_log)
        self._numeric = list(numeric)
        self._frame = frame
        self._raw = raw
        self._cut_lines: tuple[np.ndarray, int, list[list[bytes]]] | None = None  # see _fields_of_lines

    def __len__(self) -> int:
        return len(self.line_numbers)

    @property
    def raw(self) -> list[str] | None:
        """TSV: the lines as read, for lossless pass-through."""
        if self._raw is None and self.data is not None:
            self._raw = bytes(self.data).decode("ascii").split("\n")
        return self._raw

    @property
    def json_lines(self) -> list[str] | None:
        """Plain JSON lines Arrow parsed: the lines as read (None for other chunks)."""
        return self._json_lines

    @property
    def records(self) -> list[dict] | None:
        """JSON: the objects as read (flattened to dotted names)."""
        if self._records is None and self._json_lines is not None:
            self._records = _json_records(self._json_lines)[0]
        return self._records

    @property
    def frame(self) -> pd.DataFrame:
        """One row per data line, malformed ones included (values NaN)."""
        if self._frame is None and self._json_lines is not None:
            self._frame, records, _ = parse_json(self._json_lines, self._json_columns)
            self._records = self._records or records
        if self._frame is None:
            assert self.table is not None
            self._parse_later()
            frame = _arrow_frame(self.table, self._numeric)
            self._frame = _loosen(frame, [c for c in frame.columns if c not in self._numeric
                                          and self.header is not None and self.header.type_of(c) in NUMERIC_TYPES])
        return self._frame

    def texts_as_parsed(self, name: str) -> np.ndarray:
        """One text column of every row as ``frame`` holds it (str, None where unset), without
        making the frame when Arrow parsed the column."""
        if self._frame is None and self.table is not None and name in self.table.column_names:
            values = np.empty(len(self), dtype=object)
            values[:] = self.table.column(name).to_pylist()  # Arrow's texts are clean ASCII here
            return values
        return self.frame[name].to_numpy(dtype=object)

    @property
    def columns(self) -> Columns:
        """The parsed columns, for the labeler (without making a pandas frame if there is none)."""
        if self._frame is None and self.table is not None:
            return ArrowColumns(self.table, self._later, self._texts_of_lines)
        return FrameColumns(self.frame)

    def _parse_later(self) -> None:
        """Parse the columns left for later, all rows (a frame is being made)."""
        if not self._later or self.table is None or self.data is None or self.header is None:
            return
        import pyarrow as pa

        more = _arrow_table(self.data, len(self), self.header, self._later, [], ascii_only=True)
        assert more is not None  # the same lines parsed before
        order = [f for f in self.header.fields if f in self.table.column_names or f in self._later]
        self.table = pa.table({name: (self.table if name in self.table.column_names else more).column(name)
                               for name in order})
        self._later = []

    def _texts_of_lines(self, name: str, rows: np.ndarray) -> np.ndarray:
        """One column's text in a few rows, cut from the lines as read ('' where unset)."""
        assert self.header is not None
        field = self.header.fields.index(name)
        fields = self._fields_of_lines(rows, field)
        texts = np.empty(len(rows), dtype=object)
        texts[:] = [parts[field].decode("ascii") for parts in fields]
        if len(texts):
            texts[texts == self.header.unset_field] = ""
        return texts

    def _fields_of_lines(self, rows: np.ndarray, field: int) -> list[list[bytes]]:
        """The first fields of the lines of ``rows``, up to ``field`` at least and to the last
        deferred column: a reason asks two of them (server and client) of the same rows, and
        each line is cut once (kept for the last ``rows`` asked)."""
        assert self.data is not None and self.newlines is not None and self.header is not None
        cut = self._cut_lines
        if cut is not None and cut[0] is rows and cut[1] >= field:
            return cut[2]
        last = max([field, *(self.header.fields.index(n) for n in self._later if n in self.header.fields)])
        sep = self.header.separator.encode()
        data = self.data
        starts = np.concatenate(([0], self.newlines + 1))[rows].tolist()
        ends = np.append(self.newlines, len(self.data))[rows].tolist()
        fields = [bytes(data[a:b]).split(sep, last + 1) for a, b in zip(starts, ends, strict=True)]
        self._cut_lines = (rows, last, fields)
        return fields


def kind_of(fields: Sequence[str], path: str = "", filename: str = "") -> str:
    """Which kind of log this is: by its columns first, then #path, then file name."""
    names = set(fields)
    if {"history", "conn_state"} <= names:
        return SLAM if {"closer", "close_kind"} <= names else CONN
    if {"command", "reply_code"} <= names:
        return FTP
    if path:
        return path
    base = os.path.basename(filename)
    m = _ROTATED.match(base) or _LOG_NAME.match(base)
    return m.group("kind") if m else "unknown"


def _decode_header_value(value: str) -> str:
    return unescape(value.strip()) if value.strip() else value


def open_binary(path: str):
    """Open a file or '-' for binary reading, transparently un-gzipping."""
    if path == "-":
        raw = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            raise InputError(path, "no such file") from None
        except IsADirectoryError:
            raise InputError(path, "is a directory (give it to a command that takes a log directory)") from None
        except PermissionError:
            raise InputError(path, "permission denied") from None
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return _GzipFile(fileobj=buffered, mode="rb")
    return buffered


def _byte_blocks(path: str, size: int = READ_BLOCK) -> Iterator[bytearray]:
    """Blocks of whole lines, as read: each ends just before a newline (the newline is dropped).

    Each block is a new buffer filled in place (no copy of the data), so a chunk
    may keep a view of it for as long as it needs.
    """
    stream = open_binary(path)
    carry = b""
    try:
        while True:
            block = bytearray(size + len(carry))
            block[:len(carry)] = carry
            try:
                got = stream.readinto(memoryview(block)[len(carry):])
            except GZIP_ERRORS as e:
                raise InputError(path, f"cannot be read as gzip: {e}") from None
            if not got:
                break
            end = len(carry) + got
            cut = block.rfind(b"\n", 0, end)
            if cut < 0:  # a line longer than the block: read on
                carry = bytes(block[:end])
                continue
            carry = bytes(block[cut + 1:end])
            del block[cut:]
            yield block
        if carry:
            yield bytearray(carry)
    finally:
        if path != "-":
            stream.close()


def _is_clean(block: bytearray, newline_count: int) -> bool:
    """Printable ASCII, tabs and newlines only (all Zeek writes), in a few fast passes over the bytes."""
    if not block.isascii() or b"\x7f" in block:
        return False
    values = np.frombuffer(block, dtype=np.uint8)
    return int(np.count_nonzero(values < 0x20)) == newline_count + int(np.count_nonzero(values == 9))


def _decode(block: bytes | bytearray | memoryview) -> str:
    # Bytes that are not UTF-8 become the text \xNN, as Zeek itself writes them: no lone
    # surrogates ever enter the pipeline (pandas 3 and Arrow refuse them).
    return bytes(block).decode("utf-8", "backslashreplace")


def _blocks(path: str, size: int = READ_BLOCK) -> Iterator[tuple[int, list[str], bool, bool]]:
    """Blocks of whole lines (without newlines), decoded.

    Yields (number of the first line, lines, plain, clean): ``plain`` means no
    line of the block is empty or starts with '#', so it is all data; ``clean``
    that it is printable ASCII and tabs only (checked on the bytes, in C), so
    writers need not look for control characters in it.
    """
    number = 1
    for block in _byte_blocks(path, size):
        clean = not block.translate(None, _PRINTABLE)
        text = _decode(block)
        plain = not text.startswith(("#", "\n")) and "\n#" not in text and "\n\n" not in text and text != ""
        parts = text.split("\n")
        yield number, parts, plain, clean
        number += len(parts)


def _lines(path: str, size: int = READ_BLOCK) -> Iterator[str]:
    """Lines of a file without their newline (read ``size`` bytes at a time)."""
    for _, parts, _, _ in _blocks(path, size):
        yield from parts


class TsvState:
    """The header in force while reading one TSV input."""

    def __init__(self) -> None:
        self.header: Header | None = None
        self.pending: dict[str, str] = {}
        self.separator = "\t"

    def header_line(self, line: str) -> bool:
        """Take one '#' line; True if it starts or changes the header."""
        if line.startswith("#separator"):
            value = line[len("#separator"):]
            value = value[1:] if value[:1] in (" ", "\t") else value
            self.separator = _decode_header_value(value) or "\t"
            self.pending = {"separator": self.separator}
            return True
        key, _, value = line[1:].partition(self.separator)
        if key in ("set_separator", "empty_field", "unset_field", "path", "open"):
            self.pending[key] = value
            return key == "path"
        if key in ("fields", "types"):
            self.pending[key] = value
            if key == "types" or "types" in self.pending:
                self._finish()
            return True
        return False  # '#close' and unknown comment lines change nothing

    def _finish(self) -> None:
        p = self.pending
        fields = p.get("fields", "").split(self.separator) if "fields" in p else []
        types = p.get("types", "").split(self.separator) if "types" in p else []
        if not fields:
            return
        if len(types) != len(fields):
            types = [KNOWN_TYPES.get(f, "string") for f in fields]
        self.header = Header(
            fields=fields,
            types=types,
            separator=self.separator,
            set_separator=_decode_header_value(p.get("set_separator", ",")) or ",",
            empty_field=p.get("empty_field", "(empty)"),
            unset_field=p.get("unset_field", "-"),
            path=p.get("path", ""),
            open=p.get("open", ""),
        )

    def ensure(self, first_data_line: str) -> bool:
        """Make a header for data that came without one; True if the line was a header."""
        if self.header is None and "fields" in self.pending:
            self._finish()
        if self.header is not None:
            return False
        names = first_data_line.split("\t")
        if "uid" in names or ("ts" in names and "id.orig_h" in names):
            # LogAscii::tsv=T: one line of field names, no '#', no types.
            self.header = Header(names, [KNOWN_TYPES.get(n, "string") for n in names],
                                 note="plain TSV (LogAscii::tsv=T): types assumed from field names")
            return True
        count = first_data_line.count("\t") + 1
        layout = STOCK_LAYOUTS.get(count)
        if layout is None:
            return False  # no header and no conn.log shape: not a Zeek log (the caller says so)
        self.header = Header(list(layout), [KNOWN_TYPES[n] for n in layout],
                             note="data before any header: read with the stock conn.log layout of "
                                  f"{len(layout)} columns")
        return False


def _convert(frame: pd.DataFrame, header: Header, errors: dict[int, str], positions: np.ndarray) -> pd.DataFrame:
    """Turn numeric Zeek columns into floats; a bad value marks its row malformed."""
    import pandas as pd

    for name in frame.columns:
        ztype = header.type_of(name)
        raw = frame[name]
        if ztype in NUMERIC_TYPES:
            values = pd.to_numeric(raw, errors="coerce")
            bad = values.isna().to_numpy() & (raw != header.unset_field).to_numpy() & (raw != "").to_numpy()
            if bad.any() and name in CHECKED_COLUMNS:
                for i in np.flatnonzero(bad):
                    pos = int(positions[i])
                    errors.setdefault(pos, f"field {name!r}: {str(raw.iloc[i])[:40]!r} is not a {ztype}")
            frame[name] = values.astype("float64")
        else:
            frame[name] = raw.where(raw != header.unset_field)
    return frame


def _plan(header: Header, columns: Sequence[str] | None) -> tuple[list[str], list[str], list[str]]:
    """Which columns to parse; which of them are checked numbers; which lenient numbers."""
    # each name once: a header that repeats one (Zeek never does) gives its first column
    wanted = [c for c in dict.fromkeys(columns or header.fields) if c in header.fields]
    numeric = [c for c in wanted if header.type_of(c) in NUMERIC_TYPES]
    loose = [c for c in numeric if c not in CHECKED_COLUMNS]  # parsed leniently, never malformed
    return wanted, [c for c in numeric if c in CHECKED_COLUMNS], loose


def parse_tsv(lines: list[str], header: Header, columns: Sequence[str] | None) -> tuple[pd.DataFrame, dict[int, str]]:
    """Parse data lines of one header into a frame; rows keep the lines' order."""
    sep = header.separator
    wanted, numeric, loose = _plan(header, columns)
    if lines and len(sep) == 1:
        # The common case, checked as a whole: the right number of separators in all, no NUL byte,
        # and Arrow's parser (which refuses a line with a wrong field count) takes every value.
        text = "\n".join(lines)
        if text.count(sep) == (len(header.fields) - 1) * len(lines) and "\x00" not in text:
            table = _arrow_table(text.encode("utf-8", "surrogateescape"), len(lines), header, wanted, numeric)
            if table is not None:
                return _loosen(_arrow_frame(table, numeric), loose), {}
    frame, errors = _parse_tsv_by_line(lines, header, wanted, numeric)
    return _loosen(frame, loose), errors


def _loosen(frame: pd.DataFrame, loose: list[str]) -> pd.DataFrame:
    import pandas as pd

    for name in loose:
        if frame[name].dtype == object:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame


def _parse_tsv_by_line(lines: list[str], header: Header, wanted: list[str],
                     numeric: list[str]) -> tuple[pd.DataFrame, dict[int, str]]:
    """Line by line: each bad line is named, the good ones are parsed."""
    import pandas as pd

    sep = header.separator
    nfields = len(header.fields)
    errors: dict[int, str] = {}
    counts = [line.count(sep) for line in lines]
    good = [i for i, c in enumerate(counts) if c == nfields - 1]
    if len(good) != len(lines):
        for i, c in enumerate(counts):
            if c != nfields - 1:
                errors[i] = f"expected {nfields} fields, found {c + 1}"
    good_lines = lines if len(good) == len(lines) else [lines[i] for i in good]
    if any("\x00" in line for line in good_lines):
        for i in good:
            if "\x00" in lines[i]:
                errors[i] = "contains NUL bytes"
        good = [i for i in good if i not in errors]
        good_lines = [lines[i] for i in good]
    positions = np.asarray(good, dtype=np.int64)
    frame = _read_fast(good_lines, header, wanted, numeric) if good_lines and len(sep) == 1 else None
    if frame is None:
        frame = _read_text(good_lines, header, wanted)
        frame = _convert(frame, header, errors, positions)
    frame.index = positions
    if len(good) != len(lines):
        frame = frame.reindex(range(len(lines)))
    else:
        frame.index = pd.RangeIndex(len(lines))
    return frame, errors


def _arrow_table(data: bytes | bytearray | memoryview, nlines: int, header: Header, wanted: list[str],
                 numeric: list[str], ascii_only: bool = False) -> pa.Table | None:
    """Arrow's multi-threaded CSV parser over whole lines: numbers as float64, text as strings.

    None if any line or value is off (a wrong field count, a bad number, invalid
    UTF-8); the caller then goes line by line, which names each bad line.  With
    ``ascii_only`` (the data was checked to be printable ASCII) no text is checked for UTF-8.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            # One thread, one block: the chunk is parsed in a pipeline thread while others label and
            # write (measured: Arrow's own threads on top only add overhead on two cores), and one
            # block gives single-chunk columns.
            read_options=pacsv.ReadOptions(column_names=header.fields, use_threads=False,
                                           block_size=min(max(len(data) + 1, 1 << 16), 2**31 - 1)),
            parse_options=pacsv.ParseOptions(delimiter=header.separator, quote_char=False, escape_char=False,
                                              newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted, null_values=[header.unset_field], strings_can_be_null=True,
                column_types={c: pa.float64() if c in numeric else pa.string() for c in wanted},
                check_utf8=not ascii_only),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return None
    return table if table.num_rows == nlines else None


def _arrow_frame(table: pa.Table, numeric: Sequence[str]) -> pd.DataFrame:
    """A pandas frame of an Arrow table: numbers as float64, text as Python strings (None unset)."""
    import pandas as pd

    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name in numeric:
            columns[name] = column.to_numpy()
            continue
        # One Python string per distinct value, shared by its rows: histories, states, addresses repeat.
        encoded = column.combine_chunks().dictionary_encode()
        values = np.append(encoded.dictionary.to_numpy(zero_copy_only=False).astype(object), None)
        columns[name] = values[encoded.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)]
    return pd.DataFrame({k: pd.Series(v, dtype="float64" if k in numeric else object) for k, v in columns.items()})


_READ_OPTIONS = dict(header=None, quoting=csv.QUOTE_NONE, lineterminator="\n", engine="c", skip_blank_lines=False)


def _read_fast(lines: list[str], header: Header, wanted: list[str], numeric: list[str]) -> pd.DataFrame | None:
    """Numbers parsed by the C tokenizer, text kept as Python strings; None if any value is off."""
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines)), sep=header.separator, names=header.fields, usecols=wanted,
            dtype={c: "float64" if c in numeric else object for c in wanted},
            na_values={c: [header.unset_field] for c in wanted}, keep_default_na=False, **_READ_OPTIONS)
    except (pd.errors.ParserError, ValueError, TypeError):
        return None
    if len(frame) != len(lines):
        return None
    return frame[wanted]  # the unset field is NaN in every column (na_values)


def _read_text(lines: list[str], header: Header, wanted: list[str]) -> pd.DataFrame:
    """Every wanted column as text, for :func:`_convert` to check value by value."""
    import pandas as pd

    if len(header.separator) == 1 and lines:
        try:
            frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=header.separator, names=header.fields,
                                usecols=wanted, dtype=object, na_filter=False, **_READ_OPTIONS)
            if len(frame) == len(lines):
                return frame[wanted]
        except (pd.errors.ParserError, ValueError):
            pass
    # Multi-character separators and lines the C tokenizer disagrees with.
    index = [header.fields.index(c) for c in wanted]
    split = [line.split(header.separator) for line in lines]
    # object, not str: pandas 3's Arrow strings cannot hold the invalid UTF-8 a hostile log may carry
    return pd.DataFrame({c: pd.Series([row[j] for row in split], dtype=object) for c, j in zip(wanted, index)})


def _flatten(obj: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _json_records(lines: list[str]) -> tuple[list[dict], dict[int, str]]:
    """Each line's object (nested ones flattened to dotted names; {} for a bad line), and what is
    wrong with the bad lines."""
    records: list[dict] = []
    errors: dict[int, str] = {}
    for i, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as e:
            errors[i] = f"not JSON: {str(e)[:60]}"
            obj = {}
        if not isinstance(obj, dict):
            errors.setdefault(i, "not a JSON object")
            obj = {}
        elif line.find("{", 1) >= 0 and any(isinstance(v, dict) for v in obj.values()):  # (else none nested)
            obj = _flatten(obj)
        records.append(obj)
    return records, errors


def _arrow_json(lines: list[str], columns: Sequence[str] | None) -> tuple[pa.Table, pa.Table] | None:
    """The wanted columns of plain JSON lines as Arrow's JSON reader parses them: what
    :func:`parse_json` makes of them, numbers as float64 (a time as Zeek writes it in ISO 8601
    too) and text as strings; and every column as the reader typed it (for the writers that
    build lines in Arrow).  None where the two could differ, and then the lines go
    :func:`parse_json`'s way: an escape (a backslash) or a brace after the first (a nested
    object, or one in a text), a line that is no object or has a key twice, a number where
    text goes or the other way round (a Zeek number field holding text, a bool or a list)."""
    import pyarrow as pa
    import pyarrow.json as pajson

    from .columns import _bools

    if any("\\" in line or line.find("{", 1) >= 0 for line in lines):
        return None
    data = "\n".join(lines).encode("ascii")
    try:
        table = pajson.read_json(pa.py_buffer(data), read_options=pajson.ReadOptions(
            use_threads=False, block_size=min(max(len(data) + 1, 1 << 16), 2**31 - 1)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return None
    if table.num_rows != len(lines):
        return None
    names = table.column_names if columns is None else [c for c in dict.fromkeys(columns) if c in table.column_names]
    wanted = {}
    for name in names:
        column = table.column(name)
        kind = column.type
        if KNOWN_TYPES.get(name) == "time" and pa.types.is_string(kind):  # JSON::TS_ISO8601
            texts = column.combine_chunks()
            found = _iso_seconds(texts)
            valid = texts.is_valid()
            if found is None or not found[1][_bools(valid)].all():
                return None
            validity = None if not column.null_count else valid.buffers()[1]
            wanted[name] = pa.Array.from_buffers(pa.float64(), len(found[0]), [validity, pa.py_buffer(found[0])])
        elif KNOWN_TYPES.get(name) in NUMERIC_TYPES:
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
                return None
            wanted[name] = column.cast(pa.float64(), safe=False)  # (past 2**53: rounded, as float() does)
        elif pa.types.is_string(kind) or pa.types.is_null(kind):
            wanted[name] = column.cast(pa.string())
        else:
            return None
    return (pa.table(wanted), table) if wanted else None


def parse_json(lines: list[str], columns: Sequence[str] | None) -> tuple[pd.DataFrame, list[dict], dict[int, str]]:
    import pandas as pd

    records, errors = _json_records(lines)
    # Object columns, not pandas 3's inferred Arrow strings (they refuse what a hostile log may carry).
    # The keys in the order they first come: the records of a log share a few key sets, so one
    # pass over those sets instead of over every record's keys.
    keys = list(dict.fromkeys(k for shape in dict.fromkeys(map(tuple, records)) for k in shape))
    if columns:
        present = set(keys)
        keys = [c for c in dict.fromkeys(columns) if c in present]
    frame = pd.DataFrame({k: pd.Series(list(map(dict.get, records, repeat(k))), dtype=object) for k in keys})
    frame.index = pd.RangeIndex(len(records))
    for name in frame.columns:
        ztype = KNOWN_TYPES.get(name)
        if ztype in NUMERIC_TYPES:
            col = frame[name]
            try:
                values = pd.to_numeric(col, errors="coerce").astype("float64")
            except OverflowError:  # an integer past float's range (a hostile 400-digit one): +-inf,
                # as json.loads reads 1e400 (the same line read by Arrow gives the same)
                values = pd.to_numeric(col.map(_within_float, na_action="ignore"), errors="coerce").astype("float64")
            todo = values.isna() & col.notna()
            if ztype == "time" and todo.any():
                # ISO 8601 times (JSON::TS_ISO8601, json-streaming-logs): Zeek's own spelling as the
                # Arrow lane reads it, any other through pandas
                texts = col[todo].astype(str)
                found = _iso_seconds(arrow_binary(texts.tolist()))
                if found is not None and found[1].all():
                    values[todo] = found[0]
                else:
                    iso = pd.to_datetime(texts, errors="coerce", utc=True, format="ISO8601")
                    values[todo] = _epoch_seconds(iso.dt.tz_convert(None).to_numpy())
                    if found is not None:
                        values[texts.index[found[1]]] = found[0][found[1]]
            bad = values.isna() & col.notna() if name in CHECKED_COLUMNS else np.zeros(len(col), dtype=bool)
            for pos in np.flatnonzero(np.asarray(bad)):
                errors.setdefault(int(pos), f"field {name!r}: {str(col.iloc[pos])[:40]!r} is not a {ztype}")
            frame[name] = values.astype("float64")
        elif frame[name].dtype == object:
            values = frame[name].tolist()
            if not all(type(v) is str or v is None for v in values):  # (texts are themselves)
                frame[name] = frame[name].map(_json_text, na_action="ignore")
    return frame, records, errors


#: NaN or Infinity where a JSON value goes (Python's json reads them; a uid may hold the letters).
_JSON_NAN = re.compile(r"[:,\[]\s*-?(?:NaN|Infinity)")


def _epoch_seconds(moments: np.ndarray) -> np.ndarray:
    """Seconds since 1970 of datetime64 values in their own unit (NaN for NaT): what pandas'
    total_seconds gives, without the nanoseconds a subtraction would cast them to (a year
    999 is out of their range: it raised)."""
    unit = np.datetime_data(moments.dtype)[0]
    seconds = moments.view(np.int64) / {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]
    seconds[np.isnat(moments)] = np.nan
    return seconds


#: A time as Zeek writes it with JSON::TS_ISO8601 (2026-01-01T00:00:01.250000Z), in UTC.
_ISO_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"


def _iso_seconds(texts: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(Epoch seconds, NaN elsewhere; which texts are such times) of the texts that are ISO 8601
    times as Zeek writes them: the microseconds over 1e6, as float() reads the same moment's
    epoch text.  None if Arrow takes one for such a time but cannot read it (month 13)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .columns import _bools

    strict = _bools(pc.match_substring_regex(texts, _ISO_TIME))  # (binary too: a hostile text may not be UTF-8)
    seconds = np.full(len(texts), np.nan)
    if strict.any():
        rows = np.flatnonzero(strict)
        try:
            moments = texts.take(arrow_indices(rows)).cast(pa.string()).cast(pa.timestamp("us", tz="UTC"))
            moments = moments.cast(pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        micro = np.frombuffer(moments.buffers()[1], dtype=np.int64, count=len(rows) + moments.offset)[moments.offset:]
        exact = np.abs(micro) < 2**53  # float64 holds them exactly: one rounding, in the division
        seconds[rows[exact]] = micro[exact] / 1e6
        strict[rows[~exact]] = False
    return seconds, strict


def _within_float(value: object) -> object:
    """An integer past float's range as +-inf; anything else as it is."""
    if type(value) is int and abs(value) > sys.float_info.max:
        return math.inf if value > 0 else -math.inf
    return value


def _json_text(value: object) -> object:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "T" if value else "F"
    return value if isinstance(value, str) else str(value)


#: One block of a log as scanned: its bytes, where its newlines are, whether every byte is one
#: Zeek writes raw, and its runs of lines (first, past-last line; first, past-last byte;
#: whether the run is lines to take one by one; whether it is clean).
ScannedBlock = tuple[bytearray, np.ndarray, bool, list[tuple[int, int, int, int, bool, bool]]]


def _scanned(path: str) -> Iterator[ScannedBlock]:
    """Blocks with their newlines found, their bytes checked and their lines split into runs: a
    pipeline stage of its own (a thread ahead of the parse, which is the busier)."""
    for block in _byte_blocks(path, FAST_BLOCK):
        values = np.frombuffer(block, dtype=np.uint8)
        newlines = np.flatnonzero(values == 10)
        clean = _is_clean(block, len(newlines))
        nlines = len(newlines) + 1
        # Runs of clean data lines, and runs of lines to take one by one: '#' lines, empty
        # lines, and lines holding bytes Zeek never writes raw.
        starts = np.concatenate(([0], newlines + 1))
        ends = np.append(newlines, len(block))
        head = values[np.minimum(starts, max(len(block) - 1, 0))] if len(block) else np.zeros(1, dtype=np.uint8)
        dirty = np.zeros(nlines, dtype=bool)
        if not clean:
            bad = ((values < 0x20) & (values != 9) & (values != 10)) | (values >= 0x7F)
            dirty[np.searchsorted(newlines, np.flatnonzero(bad))] = True
        special = (starts == ends) | (head == ord("#")) | dirty
        edges = np.flatnonzero(np.diff(special.view(np.int8))) + 1
        runs = [(a, b, int(starts[a]), int(ends[b - 1]), bool(special[a]), not dirty[a:b].any())
                for a, b in zip([0, *edges.tolist()], [*edges.tolist(), nlines])]
        yield block, newlines, clean, runs


def read_log(path: str, *, columns: Sequence[str] | None = None, chunk_rows: int = CHUNK_ROWS,
             strict: bool = False, later: Sequence[str] = (), threads: bool = True) -> Iterator[LogChunk]:
    """Read one Zeek log (TSV or JSON, plain or gzip, or '-' for stdin) in chunks.

    ``columns`` limits which columns are parsed into each chunk's frame (the raw
    lines are kept whole); those the log does not have are left out.  With ``strict`` the
    first malformed line raises :class:`MalformedLine` instead of being kept.

    Runs of clean data lines under a known header (the bulk of any real log) stay
    bytes: Arrow parses them and the Zeek TSV writer copies them out as they are.
    Everything else (headers, JSON, dirty or malformed lines) goes line by line.
    Text columns named in ``later`` are parsed in the bytes lane only when asked
    for: a few rows' text for a reason sentence, or all of them for a frame.
    Reading and scanning the bytes run a block ahead in a thread of their own unless
    ``threads`` is false.
    """
    state = TsvState()
    fmt = ""
    line_chunk = min(chunk_rows, LINE_CHUNK_ROWS)  # rows of a chunk made line by line
    pending: list[str] = []
    numbers: list[int] = []
    source = "<stdin>" if path == "-" else path

    dirty_upto = 0  # pending[:dirty_upto] may hold lines that are not printable ASCII

    def emit(chunk: LogChunk) -> LogChunk:
        if strict and chunk.errors:
            pos = min(chunk.errors)
            raise MalformedLine(source, chunk.line_numbers[pos], chunk.errors[pos])
        return chunk

    def flush(limit: int = 1) -> Iterator[LogChunk]:
        """Emit chunks of ``line_chunk`` rows while at least ``limit`` rows wait."""
        nonlocal dirty_upto
        while pending and len(pending) >= limit:
            lines, line_numbers = pending[:line_chunk], numbers[:line_chunk]
            del pending[:line_chunk], numbers[:line_chunk]
            clean = dirty_upto == 0
            dirty_upto = max(0, dirty_upto - len(lines))
            tables = _arrow_json(lines, columns) if fmt == "json" and clean else None
            if tables is not None:  # plain JSON lines: no Python object per row unless a writer asks
                table, whole = tables
                first = json.loads(lines[0]) if '"_path"' in lines[0] else {}
                kind = kind_of(table.column_names, str(first.get("_path", "")), path)
                chunk = LogChunk(source, "json", kind, None, None, line_numbers, clean=clean, table=table,
                                 json_lines=lines, json_columns=columns, json_table=whole)
            elif fmt == "json":
                frame, records, errors = parse_json(lines, columns)
                kind = kind_of(frame.columns, str(records[0].get("_path", "")) if records else "", path)
                chunk = LogChunk(source, "json", kind, None, frame, line_numbers, records=records, errors=errors,
                                 clean=clean)
            else:
                header = state.header
                assert header is not None
                frame, errors = parse_tsv(lines, header, columns)
                chunk = LogChunk(source, "tsv", kind_of(header.fields, header.path, path), header, frame,
                                 line_numbers, raw=lines, errors=errors, clean=clean)
            yield emit(chunk)

    def slow(lines: list[str], first: int, clean: bool) -> Iterator[LogChunk]:
        """Lines one by one: headers, format sniffing, data lines to ``pending``."""
        nonlocal fmt, dirty_upto
        for number, line in enumerate(lines, first):
            if not line:
                continue  # empty lines carry nothing
            if not fmt:
                stripped = line.lstrip()
                if not stripped:
                    continue
                fmt = "json" if stripped.startswith("{") else "tsv"
            if fmt == "tsv" and line.startswith("#"):
                if state.header_line(line):
                    yield from flush()
                continue
            if fmt == "tsv" and state.header is None:
                if state.ensure(line):
                    continue
                if state.header is None:
                    raise NotAZeekLog(source, f"line {number} comes before any #fields header and has "
                                      f"{line.count(chr(9)) + 1} tab-separated fields, unlike any conn.log")
            pending.append(line)
            numbers.append(number)
            if not clean:
                dirty_upto = len(pending)
        yield from flush(line_chunk)

    def fast(block: memoryview, first: int, newlines: np.ndarray) -> Iterator[LogChunk]:
        """Clean data lines under the current header, ``chunk_rows`` at a time, parsed by Arrow."""
        header = state.header
        assert header is not None
        wanted, numeric, _ = _plan(header, columns)
        deferred = [c for c in wanted if c in later and header.type_of(c) not in NUMERIC_TYPES]
        now = [c for c in wanted if c not in deferred]
        kind = kind_of(header.fields, header.path, path)
        nlines = len(newlines) + 1
        yield from flush()  # lines waiting from before come first
        # chunks of equal size, none over chunk_rows (a block of 23,000 lines in 10,000-row chunks
        # is three of ~7,700, not 10,000 + 10,000 + 3,000): two writer threads get even shares
        parts = -(-nlines // chunk_rows)
        cuts = [nlines * k // parts for k in range(parts + 1)]
        for a, b in itertools.pairwise(cuts):
            start = 0 if a == 0 else int(newlines[a - 1]) + 1
            end = len(block) if b == nlines else int(newlines[b - 1])
            data = block[start:end]
            table = _arrow_table(data, b - a, header, now, numeric, ascii_only=True)  # a clean run
            if table is None:  # a line Arrow refuses: go line by line, which names it
                yield from slow(_decode(data).split("\n"), first + a, True)
                yield from flush()
                continue
            yield emit(LogChunk(source, "tsv", kind, header, None, range(first + a, first + b),
                                clean=True, data=data, table=table, numeric=numeric,
                                newlines=newlines[a:b - 1] - start, later=deferred))

    number = 1
    for block, newlines, clean, runs in ahead(_scanned(path), thread=threads):
        view = memoryview(block)
        if fmt in ("tsv", ""):
            for a, b, lo, hi, special, run_clean in runs:
                if special or fmt != "tsv" or state.header is None or len(state.header.separator) != 1:
                    yield from slow(_decode(view[lo:hi]).split("\n"), number + a, run_clean)
                else:
                    yield from fast(view[lo:hi], number + a, newlines[a:b - 1] - lo)
        else:
            yield from slow(_decode(block).split("\n"), number, clean)
        number += len(newlines) + 1
    yield from flush()


@dataclass
class Inputs:
    """The logs found for a run, by kind."""

    conn: list[str] = field(default_factory=list)
    slam: list[str] = field(default_factory=list)
    ftp: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files in a directory that are not ours


def sniff_kind(path: str) -> str:
    """The kind of a log from its header or first JSON object (reads a few lines)."""
    state = TsvState()
    # a small first read: a directory of hourly archives is sniffed file by file (a whole 1 MB
    # block inflated and split for a few header lines cost ~5 ms a file)
    for i, line in enumerate(_lines(path, 1 << 16)):
        if i > 200:
            break
        if line.startswith("#"):
            state.header_line(line)
            if state.header is not None:
                return kind_of(state.header.fields, state.header.path, path)
            continue
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                return kind_of(list(_flatten(obj)), str(obj.get("_path", "")), path)
            continue
        state.ensure(line)
        return kind_of(state.header.fields if state.header else [], "", path)
    return kind_of([], "", path)


_DIR_NAMES = re.compile(r"^(conn|slam|ftp|open_conn)([._-].*)?\.log(\.gz)?$")


def find_inputs(paths: Sequence[str]) -> Inputs:
    """Sort files and directories into conn, slam and ftp logs.

    A directory is searched recursively for Zeek log names (``conn.log``,
    rotated ``conn.12:00:00-13:00:00.log.gz``, ``slam.log``, ``ftp.log``).
    A file named on the command line that is none of these is an error.
    """
    found = Inputs()
    for path in paths:
        if path != "-" and os.path.isdir(path):
            names = []
            for root, _dirs, files in os.walk(path):
                names += [os.path.join(root, f) for f in files if _DIR_NAMES.match(f)]
            if not names:
                raise InputError(path, "no conn, slam or ftp log in this directory")
            for name in sorted(names):
                _classify(found, name, explicit=False)
        else:
            if path != "-" and not os.path.exists(path):
                raise InputError(path, "no such file")
            _classify(found, path, explicit=True)
    return found


def _classify(found: Inputs, path: str, explicit: bool) -> None:
    kind = CONN if path == "-" else sniff_kind(path)
    if kind in (CONN, "open_conn"):
        found.conn.append(path)
    elif kind == SLAM:
        found.slam.append(path)
    elif kind == FTP:
        found.ftp.append(path)
    elif explicit:
        raise NotAZeekLog(path, f"a Zeek {kind!r} log, not a conn log or zeekslam's slam log")
    else:
        found.skipped.append(path)


