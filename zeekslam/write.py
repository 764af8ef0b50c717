"""Write labeled rows as Zeek TSV, JSON lines or CSV — safely.

Log content is attacker controlled (an FTP banner is whatever the server
says), so every writer escapes what could break its framing: TSV escapes the
separator and control characters the way Zeek does (``\\xNN``), JSON is
ASCII-only with invalid UTF-8 bytes spelled ``\\xNN``, and CSV neutralises
spreadsheet formulas.  Writers yield text a chunk at a time, so memory stays flat.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import json
import math
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _encode_ascii
from typing import TYPE_CHECKING, Any

import numpy as np

from .ahead import map_ahead
from .columns import _bools, _float64s, arrow_binary, arrow_call, arrow_indices, arrow_ints, string_buffers, take
from .label import LABEL_FIELDS, VERDICT_FIELDS, LabeledChunk, Labels
from .read import KNOWN_TYPES, NUMERIC_TYPES, Header, _iso_seconds, unescape

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("zeek", "json", "ecs", "csv")

# Control characters, DEL, C1 controls, and bytes that were not valid UTF-8
# (kept as lone surrogates by the reader).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\udc80-\udcff\\]")
_UNSAFE_NO_BACKSLASH = re.compile(r"[\x00-\x1f\x7f-\x9f\udc80-\udcff]")
# In a TSV line as read: everything _UNSAFE_NO_BACKSLASH matches but the tab separator.
_RAW_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\udc80-\udcff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "|", "%")


def _hex(match: re.Match) -> str:
    ch = match.group(0)
    code = ord(ch) - 0xDC00 if "\udc80" <= ch <= "\udcff" else ord(ch)
    return f"\\x{code:02x}"


def safe_text(text: str) -> str:
    """Spell control characters and invalid bytes as ``\\xNN``; keep backslashes."""
    return _UNSAFE_NO_BACKSLASH.sub(_hex, text)


def zeek_escape(value: str, separator: str = "\t", unset: str = "-", empty: str = "(empty)") -> str:
    """Escape one TSV field the way Zeek's ASCII writer does."""
    if value == "":
        return empty
    if value.isprintable() and "\\" not in value and separator not in value and value != unset and value != empty:
        return value  # nothing to escape (one C-speed scan instead of a regex substitution)
    out = _UNSAFE.sub(lambda m: "\\x5c" if m.group(0) == "\\" else _hex(m), value)
    if separator in out:
        out = out.replace(separator, "".join(f"\\x{ord(c):02x}" for c in separator))
    if out in (unset, empty):
        out = "".join(f"\\x{ord(c):02x}" for c in out)
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())


# ---------------------------------------------------------------------------
# Zeek TSV


def _tsv_header(header: Header) -> list[str]:
    sep = header.separator
    sep_spelled = "".join(f"\\x{ord(c):02x}" for c in sep)
    return [
        f"#separator {sep_spelled}",
        f"#set_separator{sep}{header.set_separator}",
        f"#empty_field{sep}{header.empty_field}",
        f"#unset_field{sep}{header.unset_field}",
        f"#path{sep}{header.path or 'conn'}",
        f"#open{sep}{header.open or _now()}",
        f"#fields{sep}{sep.join(header.fields)}",
        f"#types{sep}{sep.join(header.types)}",
    ]


def _tsv_out_header(labeled: LabeledChunk) -> Header:
    chunk = labeled.chunk
    if chunk.header is not None:
        h = chunk.header
        return Header(h.fields + LABEL_FIELDS, h.types + ["string"] * len(LABEL_FIELDS), h.separator,
                      h.set_separator, h.empty_field, h.unset_field, h.path, h.open)
    if chunk.json_table is not None:  # Arrow's columns come in the order the keys first do
        fields = [f for f in chunk.json_table.column_names if f not in LABEL_FIELDS]
        first = json.loads(chunk.json_lines[0]) if chunk.json_lines and '"_path"' in chunk.json_lines[0] else {}
        path = str(first.get("_path", chunk.kind))
    elif chunk.records is not None:
        seen: dict[str, None] = {}
        for record in chunk.records:
            seen.update(dict.fromkeys(record))
        fields = [f for f in seen if f not in LABEL_FIELDS]
        path = str(chunk.records[0].get("_path", chunk.kind)) if chunk.records else chunk.kind
    else:
        fields = [c for c in labeled.frame.columns if c not in LABEL_FIELDS]
        path = chunk.kind
    types = [KNOWN_TYPES.get(f, "string") for f in fields]
    return Header(fields + LABEL_FIELDS, types + ["string"] * len(LABEL_FIELDS), path=path)


def _label_values(labeled: LabeledChunk) -> list[list[str]]:
    """The slam.* values, one list per input row ('' where unset)."""
    values = np.column_stack([labeled.column(name) for name in LABEL_FIELDS])
    unset = np.frompyfunc(lambda v: v is None or v != v, 1, 1)(values).astype(bool)
    values[unset] = ""
    return values.tolist()


def _escaped_label_columns(labeled: LabeledChunk, header: Header) -> list[list[str]]:
    """Each slam.* column, TSV-escaped once per distinct value (labels repeat a lot)."""
    import pandas as pd

    columns = []
    for name in LABEL_FIELDS:
        codes, uniques = pd.factorize(labeled.frame[name], use_na_sentinel=True)
        # An empty (or missing: code -1, the last entry) label value is "not set" ('-'), as Zeek
        # writes an absent field.
        escaped = np.array([zeek_escape(str(v), header.separator, header.unset_field, header.empty_field)
                            if v != "" else header.unset_field for v in uniques] + [header.unset_field],
                           dtype=object)
        columns.append(escaped[codes].tolist())
    return columns


def _escape_label(value: object, header: Header) -> str:
    # An empty label value is "not set" ('-'), as Zeek writes an absent field.
    if value is None or value != value or value == "":
        return header.unset_field
    return zeek_escape(str(value), header.separator, header.unset_field, header.empty_field)


@functools.lru_cache(maxsize=1 << 16)
def _joined_fields(values: tuple, marks: tuple[str, str, str]) -> str:
    """Label fields escaped and joined; remembered, as the same patterns recur in every chunk."""
    header = Header([], [], separator=marks[0], unset_field=marks[1], empty_field=marks[2])
    return marks[0].join(_escape_label(v, header) for v in values)


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def _printable(text: str) -> bool:
    """``text.isprintable()``; for ASCII text (the usual) by a byte table, ~5x faster on the
    ~90,000 characters of a chunk's reasons."""
    if text.isascii():
        return not text.encode("ascii").translate(None, _PRINTABLE_ASCII)
    return text.isprintable()


def _escape_many(values: np.ndarray, header: Header) -> list[str]:
    """:func:`_escape_label` of many values; one C-level check when none needs escaping (the usual case)."""
    try:
        joined = " ".join(values.tolist())
    except TypeError:  # not all text
        return [_escape_label(v, header) for v in values]
    if not _printable(joined) or "\\" in joined or header.separator in joined:
        return [_escape_label(v, header) for v in values]
    # only '' (unset: most replies) and the marks themselves change
    marks = {v: _escape_label(v, header) for v in ("", header.unset_field, header.empty_field)}
    return [marks.get(v, v) for v in values.tolist()]


def _label_suffixes(labeled: LabeledChunk, header: Header) -> tuple[list[str], np.ndarray]:
    """Each row's slam.* fields, escaped and joined, as (distinct suffixes, which one each row has).

    A suffix is made once per pattern where the values are the pattern's, and once
    per row only where they are the row's own (door-event reasons, replies, malformed).
    """
    sep = header.separator
    chunk = labeled.chunk
    if labeled.labels is None:  # a frame labeled elsewhere (the Dask engine): escape value by value
        columns = _escaped_label_columns(labeled, header)
        for i in chunk.errors:
            columns[-1][i] = zeek_escape(esc_raw_reason(labeled, i), sep)
        rows = list(map(sep.join, zip(*columns)))
        return rows, np.arange(len(rows))
    table, index = _label_suffixes_of_patterns(labeled.labels, header, (sep, header.unset_field, header.empty_field))
    # a malformed row is a row of its own: its raw line goes with its reason, so nothing is lost
    malformed = sep.join([_escape_label(v, header) for v in ("malformed", "unknown", "", "", "", "")])
    for i in chunk.errors:
        table[index[i]] = f"{malformed}{sep}{zeek_escape(esc_raw_reason(labeled, i), sep)}"
    return table, index


def _label_suffixes_of_patterns(labels: Labels, header: Header, marks: tuple[str, str, str]) -> tuple[list[str],
                                                                                                    np.ndarray]:
    """:func:`_label_suffixes` from the pattern index: a row whose reply or reason is its own
    (malformed rows too, whose entries the caller replaces) shares its pattern's first five
    fields, joined once."""
    sep = header.separator
    ids, first, own = labels.patterns.ids, labels.patterns.first, labels.patterns.row_specific
    heads = [_joined_fields(tuple(getattr(v, name) for name in VERDICT_FIELDS), marks) for v in labels.verdicts]
    table = [head + sep + _joined_fields((reply, reason), marks) for head, reply, reason in
             zip(heads, labels.reply[first].tolist(), labels.reason[first].tolist(), strict=True)]
    rows = np.flatnonzero(own)
    if not len(rows):
        return table, ids
    replies = _escape_many(labels.reply[rows], header)
    reasons = _escape_many(labels.reason[rows], header)
    index = ids.copy()
    index[rows] = np.arange(len(table), len(table) + len(rows))
    table.extend([f"{heads[p]}{sep}{reply}{sep}{reason}"  # (the separator is log text: never a format string)
                  for p, reply, reason in zip(ids[rows].tolist(), replies, reasons, strict=True)])
    return table, index


def _splice(labeled: LabeledChunk, table: list[str], index: np.ndarray) -> memoryview:
    """The chunk's lines as read, each with its suffix appended: in Arrow, no Python string per line.

    The lines are cut at the newline *before* each (row i = "\n" + line i, row 0
    has none), so appending each row's suffix puts it at the end of its line.
    """
    import pyarrow as pa

    chunk = labeled.chunk
    data, newlines = chunk.data, chunk.newlines
    assert data is not None and newlines is not None
    n = len(chunk)
    offsets = np.empty(n + 1, dtype=np.int32)
    offsets[0], offsets[1:n], offsets[n] = 0, newlines, len(data)
    lines = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    separator = arrow_binary([chunk.header.separator])  # a scalar from an array: pa.scalar imports pandas
    suffixes = take(arrow_binary(table), index)
    joined = arrow_call("binary_join_element_wise", [lines, suffixes, separator[0]])
    return _values_bytes(joined, n)


def write_zeek(chunks: Iterable[LabeledChunk], binary: bool = False) -> Iterator[str | memoryview]:
    """Zeek TSV text, a block of lines per chunk: the input's lines as they were, ``slam.*`` appended.

    A new header block is written whenever the input's columns change (as
    Zeek does in a concatenated log), so ``zeek-cut`` and zat still read it.
    With ``binary``, clean chunks come out as bytes (ASCII) without being decoded.
    """
    current: list[str] | None = None
    header: Header | None = None
    for labeled in chunks:
        out_header = _tsv_out_header(labeled)
        lines = _tsv_header(out_header)
        key = lines[:5] + lines[6:]
        if key != current:
            if current is not None and header is not None:
                yield f"#close{header.separator}{_now()}"
            yield "\n".join(lines)
            current, header = key, out_header
        assert header is not None
        sep = header.separator
        chunk = labeled.chunk
        table, index = _label_suffixes(labeled, header)
        if chunk.data is not None and chunk.newlines is not None and not chunk.errors and len(sep) == 1:
            spliced = _splice(labeled, table, index)
            yield spliced if binary else bytes(spliced).decode("ascii")
            continue
        from_json = _zeek_json_lines(labeled, header, table, index)
        if from_json is not None:
            yield from_json if binary else bytes(from_json).decode("ascii")
            continue
        suffixes = np.array(table, dtype=object)[index].tolist()
        n_in = len(header.fields) - len(LABEL_FIELDS)
        unset_row = sep.join([header.unset_field] * n_in)
        if chunk.raw is not None:
            base = chunk.raw
            if chunk.errors:
                base = [unset_row if i in chunk.errors else line for i, line in enumerate(base)]
            if not chunk.clean and _RAW_UNSAFE.search("".join(base)):
                # Zeek never writes a raw control character or invalid UTF-8: a line that has one
                # was not written by Zeek.  Spell them \xNN as Zeek does, so no terminal runs them.
                base = [_RAW_UNSAFE.sub(_hex, line) for line in base]
        else:
            names, types = header.fields[:n_in], header.types[:n_in]
            base = [unset_row if i in chunk.errors else
                    sep.join(_zeek_value(record.get(f), t, header) for f, t in zip(names, types))
                    for i, record in enumerate(chunk.records or [])]
        yield "\n".join(map((sep).join, zip(base, suffixes)))
    if header is not None:
        yield f"#close{header.separator}{_now()}"


def _plain_json_text(labeled: LabeledChunk) -> str | None:
    """The lines of a chunk the Arrow writers may build from Arrow's read of it (plain JSON
    lines, labeled here, none malformed), joined; None for any other chunk, and for one whose
    lines say "slam." (keys of the input's own, or only a text: it goes row by row)."""
    chunk = labeled.chunk
    if chunk.json_table is None or not chunk.plain_json or chunk.errors or labeled.labels is None:
        return None
    text = "\n".join(chunk.json_lines)
    return None if '"slam.' in text else text


def _zeek_json_lines(labeled: LabeledChunk, header: Header, suffixes: list[str],
                     index: np.ndarray) -> memoryview | None:
    """The Zeek TSV lines of a chunk of plain JSON lines from Arrow's read of it, a column at a
    time: the same text as :func:`_zeek_value` of each value.  None for chunks Arrow cannot take."""
    import pyarrow.compute as pc

    chunk = labeled.chunk
    n_in = len(header.fields) - len(LABEL_FIELDS)
    text = _plain_json_text(labeled)
    if text is None or not n_in or len(header.separator) != 1:
        return None
    table = chunk.json_table
    cells = []
    for name, ztype in zip(header.fields[:n_in], header.types[:n_in], strict=True):
        found = _zeek_json_values(table.column(name), name, ztype, header, text)
        if found is None:
            return None
        cells.append(found)
    cells.append(arrow_binary(suffixes).take(arrow_indices(index)))
    lines = pc.binary_join_element_wise(*cells, _arrow_literal(header.separator), null_handling="replace",
                                        null_replacement=header.unset_field)
    lines = pc.binary_join_element_wise(lines, _arrow_literal("\n"), _arrow_literal(""))
    n = len(chunk)
    return _values_bytes(lines, n)[:-1]  # no last newline: a writer's pieces are joined by one


def _zeek_json_values(column: pa.ChunkedArray, name: str, ztype: str, header: Header,
                      text: str) -> pa.Array | pa.Scalar | None:
    """One column's TSV fields (null where unset), as :func:`_zeek_value` writes what Python's
    json reads; None where Arrow's type hides it (see :func:`_json_cells`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    marks = ("", header.unset_field, header.empty_field)

    def plain(uniques: pa.Array) -> pa.Array:  # printable, no backslash: as it is, but a mark or a tab
        return pc.invert(pc.or_(pc.is_in(uniques, value_set=arrow_binary(marks).cast(uniques.type)),
                                pc.match_substring(uniques, header.separator)))

    def spelled(values: list) -> list[str]:
        return [_zeek_value(v, ztype, header) for v in values]

    # a count column writes 2 and 2.0 alike (below 2**53, where the float keeps every digit)
    return _json_cells(column, name, text, spelled, ztype in ("count", "int", "port"), header.unset_field,
                       plain, lambda uniques: uniques.cast(pa.binary()))


def _json_cells(column: pa.ChunkedArray, name: str, text: str, spelled: Callable[[list], list[str]],
                whole_alike: bool, unset: str, plain: Callable[[pa.Array], pa.Array],
                texts: Callable[[pa.Array], pa.Array]) -> pa.Array | pa.Scalar | None:
    """The output text of each value of one column of plain JSON lines ``text`` (null where a
    line has none), a writer's way: whole numbers and bools in Arrow, texts once per distinct
    value (``plain`` picks those ``texts`` makes in Arrow, ``spelled`` makes the rest, as it
    makes floats and lists).  None where Arrow's type hides what Python's json reads: a whole
    number in a column of floats (json keeps ``2`` an int; ``whole_alike``: the writer spells
    both alike below 2**53), a list of floats or of anything but texts and whole numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    values = column.combine_chunks()
    if pa.types.is_integer(kind):
        return values.cast(pa.string()).cast(pa.binary())
    if pa.types.is_floating(kind):
        numbers = values.to_pylist()
        if _ints_read_as_floats([v for v in numbers if not (whole_alike and v is not None and abs(v) < 2**53)],
                                name, text):
            return None
        return _with_nulls(numbers, spelled)
    if pa.types.is_boolean(kind):
        return pc.if_else(values, _arrow_literal("T"), _arrow_literal("F"))
    if pa.types.is_null(kind):
        return _arrow_literal(unset)
    if pa.types.is_string(kind):
        return _distinct_texts(column, plain, texts, spelled)
    if pa.types.is_list(kind) and (pa.types.is_string(kind.value_type) or pa.types.is_integer(kind.value_type)):
        return _with_nulls(values.to_pylist(), spelled)
    return None


def _with_nulls(values: list, spelled: Callable[[list], list[str]]) -> pa.Array:
    """``spelled`` of the values that are set, null where one is None."""
    known = [v for v in values if v is not None]
    made = iter(spelled(known))
    return arrow_binary([None if v is None else next(made) for v in values])


def esc_raw_reason(labeled: LabeledChunk, i: int) -> str:
    """A malformed row's reason with the raw line appended, so nothing is lost."""
    labels = labeled.labels
    reason = labels.errors[i] if labels is not None and i in labels.errors else str(labeled.frame["slam.reason"].iat[i])
    return f"{reason}; raw line: {raw_line(labeled, i)}"


def raw_line(labeled: LabeledChunk, i: int) -> str:
    chunk = labeled.chunk
    if chunk.raw is not None:
        return chunk.raw[i]
    return "" if chunk.records is None else json.dumps(chunk.records[i])


def _zeek_value(value: object, ztype: str, header: Header) -> str:
    if value is None:
        return header.unset_field
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, list):
        if not value:
            return header.empty_field
        return header.set_separator.join(zeek_escape(str(v), header.separator) for v in value)
    if isinstance(value, float) and ztype in ("count", "int", "port") and value.is_integer():
        return str(int(value))
    if isinstance(value, float) and ztype in ("time", "interval", "double"):
        return f"{value:.6f}"
    return zeek_escape(str(value), header.separator, header.unset_field, header.empty_field)


# ---------------------------------------------------------------------------
# JSON lines and CSV


def _typed(raw: str, ztype: str, header: Header) -> object:
    """A TSV field as a JSON value, per its Zeek type; None when unset."""
    if raw == header.unset_field:
        return None
    if ztype.startswith(("set[", "vector[", "table[")):
        if raw == header.empty_field:
            return []
        return [safe_text(unescape(v)) for v in raw.split(header.set_separator)]
    if ztype in NUMERIC_TYPES:
        try:
            number = float(raw)
        except ValueError:
            return safe_text(unescape(raw))
        if not math.isfinite(number):  # "nan", "inf", 1e999: JSON has no such numbers
            return safe_text(unescape(raw))
        if ztype in ("count", "int", "port") and number.is_integer() and "." not in raw:
            return int(raw) if raw.lstrip("-").isdigit() else number
        return number
    if ztype == "bool":
        return {"T": True, "F": False}.get(raw, safe_text(raw))
    if raw == header.empty_field:
        return ""
    return safe_text(unescape(raw))


def rows_as_dicts(labeled: LabeledChunk) -> Iterator[dict]:
    """Every row of a labeled chunk as a flat dict (Zeek JSON style), label fields last."""
    chunk = labeled.chunk
    header = chunk.header
    n = len(chunk)
    extras = _label_dicts(labeled)
    columns = None
    if chunk.raw is not None and header is not None:
        good = [i for i in range(n) if i not in chunk.errors]
        columns = _typed_columns([chunk.raw[i] for i in good], header)
    if columns is not None:  # Zeek TSV, every good line with its header's fields: a column at a time
        names = header.fields
        rows = iter(zip(*columns))
        for i in range(n):
            if i in chunk.errors:
                row = _malformed_row(labeled, i)
            else:
                row = {name: value for name, value in zip(names, next(rows)) if value is not None}
            row.update(extras[i])
            yield row
        return
    for i in range(n):  # JSON records, or lines whose field count differs from their header's
        if i in chunk.errors:
            row = _malformed_row(labeled, i)
        elif chunk.raw is not None and header is not None:
            values = chunk.raw[i].split(header.separator)
            row = {}
            for name, ztype, raw in zip(header.fields, header.types, values):
                value = _typed(raw, ztype, header)
                if value is not None:
                    row[name] = value
        elif chunk.plain_json:  # _json_safe would change nothing
            row = dict(chunk.records[i])
        else:
            row = {k: _json_safe(v) for k, v in (chunk.records or [{}])[i].items()}
        row.update(extras[i])
        yield row


def _malformed_row(labeled: LabeledChunk, i: int) -> dict:
    chunk = labeled.chunk
    return {"_source": chunk.source, "_line": chunk.line_numbers[i], "_raw": safe_text(raw_line(labeled, i))}


def _label_dicts(labeled: LabeledChunk) -> Sequence[dict]:
    """Each row's slam.* members ('' values left out, but never slam.label), made safe once per
    distinct set of values (rows of one pattern share theirs: they are only read)."""
    dicts, index = _label_dict_table(labeled)
    return [dicts[i] for i in index]


def _label_dict_table(labeled: LabeledChunk) -> tuple[list[dict], list[int]]:
    """(The distinct slam.* member dicts of a chunk, which one each row has)."""

    def members(values: Sequence[object]) -> dict:
        texts = ("" if v is None or v != v else str(v) for v in values)
        return {name: safe_text(t) for name, t in zip(LABEL_FIELDS, texts) if t != "" or name == "slam.label"}

    if labeled.labels is None:  # a frame labeled elsewhere (the Dask engine)
        rows = [members(row) for row in _label_values(labeled)]
        return rows, list(range(len(rows)))
    distinct, index = labeled.labels.distinct()
    return [members(values) for values in distinct], index.tolist()


def _typed_columns(lines: list[str], header: Header) -> list[list[object]] | None:
    """The typed values (:func:`_typed`) of each column of the lines, None where unset; None
    if some line does not have its header's number of fields."""
    columns = _split_columns(lines, header)
    if columns is None:
        return None
    return [_typed_column(column, ztype, header) for column, ztype in zip(columns, header.types)]


def _split_columns(lines: list[str], header: Header) -> list[tuple[str, ...]] | None:
    """The raw values of each of the header's columns; None if some line has another number
    of fields (it goes the row-by-row way)."""
    split = [line.split(header.separator) for line in lines]
    if any(len(values) != len(header.fields) for values in split):
        return None
    return list(zip(*split)) if split else [() for _ in header.fields]


def _columnwise(labeled: LabeledChunk) -> tuple[dict[str, tuple[str, ...]], Header] | None:
    """A chunk's raw values by column name, and its header, for the writers that work a column
    at a time; None for chunks that go row by row: JSON input, malformed rows, a header that
    repeats a name or has slam.* columns of its own (a row dict keeps one value per name)."""
    chunk = labeled.chunk
    header = chunk.header
    if (chunk.errors or chunk.raw is None or header is None or set(header.fields) & set(LABEL_FIELDS)
            or len(set(header.fields)) != len(header.fields)):
        return None
    columns = _split_columns(chunk.raw, header)
    return None if columns is None else (dict(zip(header.fields, columns)), header)


def _per_distinct(raw: Sequence[str], make: Callable[[str], Any]) -> list:
    """``make`` of each value, made once per distinct value (a column repeats a few)."""
    made = {v: make(v) for v in dict.fromkeys(raw)}
    return [made[v] for v in raw]


def _plain_text(value: str, header: Header) -> bool:
    """Printable ASCII with nothing to unescape and no unset/empty mark: its typed value
    (:func:`_typed`) is itself, and safe_text leaves it as it is."""
    return (value.isascii() and value.isprintable() and "\\" not in value and value != header.unset_field
            and value != header.empty_field)


def _typed_column(raw: Sequence[str], ztype: str, header: Header) -> list[object]:
    """:func:`_typed` of each value of one column: numbers parsed in one go where every value is
    a plain one, anything else once per distinct value (a column repeats a few values)."""
    unset = header.unset_field
    if ztype in ("count", "int", "port") and _plain_whole_numbers(raw, unset):
        return [None if v == unset else int(v) for v in raw]
    if ztype in ("time", "interval", "double"):
        try:
            numbers = [None if v == unset else float(v) for v in raw]
        except ValueError:
            numbers = None
        if numbers is not None and all(v is None or math.isfinite(v) for v in numbers):
            return numbers
    if ztype.startswith(("set[", "vector[", "table[")):
        return [_typed(v, ztype, header) for v in raw]  # a list each: not shared between rows
    return _per_distinct(raw, lambda v: _typed(v, ztype, header))


def _json_safe(value: object) -> object:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {safe_text(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
#: A column of JSON numbers, one per line (checked in one C-level pass per column).
_JSON_NUMBERS = re.compile(rf"{_NUMBER}(?:\n{_NUMBER})*")


def _json_fragments(values: Sequence[str], name: str, ztype: str, header: Header) -> list[str | None]:
    """``"name": value`` for each raw TSV value of one column (None where unset), a column at a time.

    Numbers keep the digits Zeek wrote (lossless, even past 2**53); anything else is
    :func:`_json_column`'s text, made once per distinct value.
    """
    key = json.dumps(safe_text(name)) + ": "
    unset = header.unset_field
    if ztype in NUMERIC_TYPES:
        whole = ztype in ("count", "int", "port")
        present = [v for v in values if v != unset]
        # (one empty value must not pass: "ts": , is no JSON)
        if _plain_whole_numbers(values, unset) if whole else \
                not present or _JSON_NUMBERS.fullmatch("\n".join(present)):
            return [None if v == unset else key + v for v in values]
    return [None if text is None else key + text for text in _json_column(values, ztype, header)]


def _json_lines_tsv(labeled: LabeledChunk) -> list[str]:
    """The JSON lines of a chunk read from Zeek TSV, built column by column."""
    chunk = labeled.chunk
    header = chunk.header
    assert header is not None and chunk.raw is not None
    good = [i for i in range(len(chunk)) if i not in chunk.errors]
    lines = chunk.raw if len(good) == len(chunk) else [chunk.raw[i] for i in good]
    columns = list(zip(*(line.split(header.separator) for line in lines))) if lines else []
    fragments = [_json_fragments(col, name, ztype, header)
                 for col, name, ztype in zip(columns, header.fields, header.types)]
    labels = np.column_stack([labeled.column(name) for name in LABEL_FIELDS])[good]
    for k, name in enumerate(LABEL_FIELDS):
        key = json.dumps(name) + ": "
        values = labels[:, k].tolist()
        cache: dict[object, str | None] = {}
        for v in dict.fromkeys(values):
            text = "" if v is None or v != v else str(v)
            cache[v] = key + json.dumps(safe_text(text)) if text or k == 0 else None
        fragments.append([cache[v] for v in values])
    out = ["{" + ", ".join(filter(None, row)) + "}" for row in zip(*fragments)] if fragments else []
    if len(good) != len(chunk):  # malformed rows, in place, the slow way
        rows = dict(zip(good, out))
        dicts = list(rows_as_dicts(labeled))
        out = [rows[i] if i in rows else json.dumps(dicts[i], ensure_ascii=True, allow_nan=False)
               for i in range(len(chunk))]
    return out


def _json_label_tails(labeled: LabeledChunk) -> tuple[list[str], np.ndarray]:
    """Each row's slam.* JSON members, joined, as (distinct texts, which one each row has)."""
    assert labeled.labels is not None
    keys = [json.dumps(name) + ": " for name in LABEL_FIELDS]
    values, index = labeled.labels.distinct()
    return [", ".join(key + json.dumps(safe_text(str(v))) for k, (key, v) in enumerate(zip(keys, row))
                      if k == 0 or (v is not None and v == v and v != "")) for row in values], index


#: The numbers (RE2, for Arrow) _json_fragments writes as they are (whole ones: digits only).
_ARROW_NUMBER = f"^{_NUMBER}$"


def _json_arrow(labeled: LabeledChunk) -> memoryview | None:
    """The JSON lines of a clean TSV chunk, built by Arrow column by column: the same text as
    :func:`_json_lines_tsv`, without a Python object per field.  None if Arrow cannot."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .read import _arrow_table

    chunk = labeled.chunk
    header = chunk.header
    assert header is not None and chunk.data is not None
    n = len(chunk)
    if len(set(header.fields)) != len(header.fields) or labeled.labels is None:
        return None
    # every column as text, unset is null (a chunk with bytes is printable ASCII)
    table = _arrow_table(chunk.data, n, header, header.fields, [], ascii_only=True)
    if table is None:
        return None

    def scalar(text: str) -> pa.Scalar:
        return arrow_binary([text])[0]  # not pa.scalar: it imports pandas

    fragments = []
    for name, ztype in zip(header.fields, header.types):
        key = json.dumps(safe_text(name)) + ": "
        column = table.column(name).combine_chunks().cast(pa.binary())
        if ztype in NUMERIC_TYPES:
            if ztype in ("count", "int", "port"):
                plain = _whole_numbers(table.column(name))
            else:
                plain = pc.match_substring_regex(column, _ARROW_NUMBER)
            if pc.all(plain, skip_nulls=True).as_py() is not False:
                fragments.append(pc.binary_join_element_wise(scalar(key), column, scalar("")))
                continue
        # Text once per distinct value: plain values (no quote, backslash or empty mark) in Arrow,
        # the rest through _typed like the line-by-line writer.
        encoded = column.dictionary_encode()
        uniques = encoded.dictionary
        if ztype in NUMERIC_TYPES or ztype == "bool" or ztype.startswith(("set[", "vector[", "table[")):
            others = np.arange(len(uniques))  # typed values: every one through _typed
        else:
            special = pc.or_(pc.or_(pc.match_substring(uniques, "\\"), pc.match_substring(uniques, '"')),
                             pc.equal(uniques, scalar(header.empty_field)))
            others = np.flatnonzero(np.asarray(special.to_pylist(), dtype=bool))
        quoted = pc.binary_join_element_wise(scalar(key + '"'), uniques, scalar('"'), scalar(""))
        if len(others):
            texts = quoted.to_pylist()
            for i, raw in zip(others.tolist(), uniques.take(arrow_indices(others)).to_pylist()):
                typed = _typed(raw.decode("ascii"), ztype, header)
                texts[i] = None if typed is None else key + json.dumps(typed, ensure_ascii=True, allow_nan=False)
            quoted = arrow_binary(texts) if texts else quoted
        fragments.append(quoted.take(encoded.indices))
    tails, index = _json_label_tails(labeled)
    if fragments and fragments[0].null_count == 0:
        # The braces ride on the first member (set in every row) and the slam.* tail (always
        # there): one join makes the lines, instead of a second pass over all their bytes.
        fragments[0] = pc.binary_join_element_wise(scalar("{"), fragments[0], scalar(""))
        fragments.append(arrow_binary([tail + "}\n" for tail in tails]).take(arrow_indices(index)))
        lines = pc.binary_join_element_wise(*fragments, scalar(", "), null_handling="skip")
    else:
        fragments.append(arrow_binary(tails).take(arrow_indices(index)))
        members = pc.binary_join_element_wise(*fragments, scalar(", "), null_handling="skip")
        lines = pc.binary_join_element_wise(scalar("{"), members, scalar("}\n"), scalar(""))
    return _values_bytes(lines, n)[:-1]  # no last newline: a writer's pieces are joined by one


def _json_piece(labeled: LabeledChunk) -> str | memoryview:
    """A chunk's JSON lines (without the last newline): built by Arrow where it can (a clean
    Zeek TSV chunk, as bytes), else a column or a row at a time."""
    chunk = labeled.chunk
    if chunk.data is not None and not chunk.errors and chunk.header is not None:
        fast = _json_arrow(labeled)
        if fast is not None:
            return fast
    if chunk.raw is not None and chunk.header is not None:
        return "\n".join(_json_lines_tsv(labeled))
    if chunk.plain_json:
        return "\n".join(_json_lines_plain(labeled))
    return "\n".join(json.dumps(row, ensure_ascii=True, allow_nan=False) for row in rows_as_dicts(labeled))


def write_json(chunks: Iterable[LabeledChunk], binary: bool = False) -> Iterator[str | memoryview]:
    """One JSON object per line, ASCII only (safe on any terminal, valid for jq)."""
    for labeled in chunks:
        if len(labeled.chunk):
            piece = labeled.made.pop("json") if "json" in labeled.made else _json_piece(labeled)
            yield piece if binary or isinstance(piece, str) else bytes(piece).decode("ascii")


def _json_lines_plain(labeled: LabeledChunk) -> list[str]:
    """The JSON lines of plain JSON objects (``LogChunk.plain_json``): each object's own text as
    the sensor wrote it, its slam.* members written once per distinct set and put before its
    closing brace, in the object's own separator style.  Plain lines are one object each, in
    printable ASCII with no escape and no NaN or Infinity: nothing in them that JSON or a
    terminal would need changed.  An object that has slam.* keys of its own, or none at all,
    goes the way of rows_as_dicts."""
    dicts, index = _label_dict_table(labeled)
    spaced = [", ".join(f"{_encode_ascii(k)}: {_encode_ascii(v)}" for k, v in d.items()) for d in dicts]
    compact = [",".join(f"{_encode_ascii(k)}:{_encode_ascii(v)}" for k, v in d.items()) for d in dicts]
    rows = None
    out = []
    for i, line in enumerate(labeled.chunk.json_lines):
        body = line.strip()
        # a key needs a quote; a quote in a plain line's text would need a backslash, so '": '
        # is only ever a key's colon followed by a space
        if '"' in body and '"slam.' not in body:
            if '": ' in body:
                out.append(f"{body[:-1]}, {spaced[index[i]]}}}")
            else:
                out.append(f"{body[:-1]},{compact[index[i]]}}}")
            continue
        if rows is None:
            rows = list(rows_as_dicts(labeled))
        out.append(json.dumps(rows[i], ensure_ascii=True, allow_nan=False))
    return out


def csv_cell(value: object) -> str:
    """A CSV cell that no spreadsheet will run as a formula."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    elif isinstance(value, bool):
        value = "T" if value else "F"
    elif isinstance(value, float | int):
        return repr(value) if isinstance(value, float) else str(value)
    text = safe_text(str(value))
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text


def _csv_columns(labeled: LabeledChunk) -> list[str]:
    chunk = labeled.chunk
    if chunk.header is not None:
        names = list(chunk.header.fields)
    elif chunk.json_table is not None:  # Arrow's columns come in the order the keys first do
        names = chunk.json_table.column_names
    else:
        seen: dict[str, None] = {}
        for record in chunk.records or []:
            seen.update(dict.fromkeys(record))
        names = list(seen)
    return [n for n in names if n not in LABEL_FIELDS] + LABEL_FIELDS


def _csv_rows(labeled: LabeledChunk, columns: list[str]) -> Iterator[tuple[str, ...]] | None:
    """The CSV cells of a Zeek TSV chunk a column at a time: the same cells as
    ``csv_cell(row.get(c))`` of :func:`rows_as_dicts`.  None for chunks that take the
    row-by-row way (malformed rows, input with slam.* columns of its own)."""
    found = _columnwise(labeled)
    if found is None:
        return None
    raw, header = found
    n = len(labeled.chunk)
    dicts, index = _label_dict_table(labeled)
    cells: list[Sequence[str]] = []
    for name in columns:
        if name in raw:
            cells.append(_csv_column(raw[name], header.type_of(name), header))
        elif name in LABEL_FIELDS:
            table = [csv_cell(d.get(name)) for d in dicts]
            cells.append([table[i] for i in index])
        else:
            cells.append(("",) * n)
    return zip(*cells)


def _csv_column(raw: Sequence[str], ztype: str, header: Header) -> list[str]:
    """``csv_cell(_typed(v))`` for each raw TSV value of one column: whole numbers and plain
    text as they are, other values once per distinct value."""
    unset = header.unset_field
    if ztype in ("count", "int", "port") and _plain_whole_numbers(raw, unset):
        return ["" if v == unset else v for v in raw]  # str(int(v)) is v itself
    if ztype.startswith(("set[", "vector[", "table[")):
        return [csv_cell(_typed(v, ztype, header)) for v in raw]
    plain_text = ztype in ("string", "addr", "enum", "subnet")

    def cell(v: str) -> str:
        if plain_text and _plain_text(v, header) and not v.startswith(_FORMULA_START):
            return v  # what the formula guard leaves as it is too
        return csv_cell(_typed(v, ztype, header))

    return _per_distinct(raw, cell)


def _text_table(labeled: LabeledChunk) -> pa.Table | None:
    """Every column of a clean Zeek TSV chunk as Arrow parses it as text (unset: null), for the
    writers that build their lines in Arrow; None for chunks that go another way (malformed
    rows, JSON input, a header that repeats a name or has slam.* columns of its own)."""
    from .read import _arrow_table

    chunk = labeled.chunk
    header = chunk.header
    if (chunk.data is None or chunk.errors or header is None or labeled.labels is None
            or set(header.fields) & set(LABEL_FIELDS) or len(set(header.fields)) != len(header.fields)):
        return None
    return _arrow_table(chunk.data, len(chunk), header, header.fields, [], ascii_only=True)  # clean bytes: ASCII


def _label_table(labeled: LabeledChunk) -> tuple[list[dict], pa.Array]:
    """(The distinct slam.* member dicts of a chunk, Arrow indices of the one each row has)."""
    dicts, index = _label_dict_table(labeled)
    return dicts, arrow_indices(np.asarray(index, dtype=np.int64))


def _csv_quoted(cells: Sequence[str]) -> list[str]:
    """Each cell as Python's csv writer writes it in a row (quoted where it must be)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows((cell, "") for cell in cells)
    return [line[:-1] for line in buffer.getvalue().split("\n")[:-1]]  # each line: the cell, then ","


def _csv_values(column: pa.ChunkedArray, ztype: str, header: Header) -> pa.Array:
    """The CSV cells :func:`_csv_column` gives a text column, quoted as the csv writer quotes them,
    in Arrow: plain values as they are (or in quotes, with a comma); floats as Python spells them;
    the rest once per distinct value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if ztype in ("time", "interval", "double"):
        values = column.combine_chunks()
        if not pc.any(pc.invert(pc.match_substring_regex(values, _ARROW_NUMBER))).as_py():
            numbers = values.cast(pa.float64()).to_pylist()
            if all(v is None or math.isfinite(v) for v in numbers):  # (1e400 is kept as written)
                return arrow_binary([None if v is None else float.__repr__(v) for v in numbers])  # none quoted

    def plain(uniques: pa.Array) -> pa.Array | None:
        if ztype in ("count", "int", "port"):
            return _whole_numbers(uniques)
        if ztype in ("string", "addr", "enum", "subnet"):  # and no formula start (a guard would go first)
            formula = pc.match_substring_regex(uniques, "^[=+\\-@\t\r|%]")
            return pc.and_(_plain_texts(uniques, header), pc.invert(formula))
        return None

    def texts(uniques: pa.Array) -> pa.Array:
        texts = uniques.cast(pa.binary())
        comma = pc.match_substring(texts, ",")
        if pc.any(comma).as_py():  # plain texts with a comma: in quotes (they hold no quote)
            quote = _arrow_literal('"')
            texts = pc.if_else(comma, pc.binary_join_element_wise(quote, texts, quote, _arrow_literal("")), texts)
        return texts

    return _distinct_texts(column, plain, texts, lambda raws: _csv_quoted(
        [csv_cell(_typed(raw, ztype, header)) for raw in raws]))


def _csv_arrow(labeled: LabeledChunk, columns: list[str]) -> memoryview | None:
    """The CSV rows of a clean Zeek TSV chunk, built by Arrow a column at a time: the same text as
    the csv writer makes of :func:`_csv_rows`.  None for chunks Arrow cannot take."""

    table = _text_table(labeled)
    if table is None:
        return _csv_arrow_json(labeled, columns)
    header, n = labeled.chunk.header, len(labeled.chunk)
    dicts, which = _label_table(labeled)
    cells = []
    for name in columns:
        if name in header.fields:
            cells.append(_csv_values(table.column(name), header.type_of(name), header))
        elif name in LABEL_FIELDS:
            cells.append(arrow_binary(_csv_quoted([csv_cell(d.get(name)) for d in dicts])).take(which))
        else:  # a column of an earlier log: empty here
            cells.append(_arrow_literal(""))
    return _csv_lines_of(cells, n)


def _csv_arrow_json(labeled: LabeledChunk, columns: list[str]) -> memoryview | None:
    """The CSV rows of a chunk of plain JSON lines from Arrow's read of it: the same text as the
    csv writer makes of ``csv_cell(row.get(c))`` for each row of :func:`rows_as_dicts`.  None
    for chunks Arrow cannot take."""
    chunk = labeled.chunk
    text = _plain_json_text(labeled)
    if text is None:
        return None
    table = chunk.json_table
    dicts, which = _label_table(labeled)
    cells = []
    for name in columns:
        if name in LABEL_FIELDS:
            cells.append(arrow_binary(_csv_quoted([csv_cell(d.get(name)) for d in dicts])).take(which))
        elif name in table.column_names:
            found = _csv_json_values(table.column(name), name, text)
            if found is None:
                return None
            cells.append(found)
        else:  # a key of an earlier chunk: empty here
            cells.append(_arrow_literal(""))
    return _csv_lines_of(cells, len(chunk))


def _ints_read_as_floats(numbers: Sequence[float | None], name: str, text: str) -> bool:
    """Whether some of a float column's whole ``numbers`` may be written as ints in the lines
    ``text``: json reads ``2`` as an int and ``2.0`` as a float, Arrow both as 2.0."""
    return any(v is not None and v.is_integer() for v in numbers) and re.search(
        '"' + re.escape(name) + r'"\s*:\s*-?[0-9]+\s*[,}]', text) is not None


def _csv_json_values(column: pa.ChunkedArray, name: str, text: str) -> pa.Array | pa.Scalar | None:
    """The CSV cells of one column of plain JSON lines (null where a line has no value); None
    where Arrow's type hides what Python's json reads (see :func:`_json_cells`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def plain(uniques: pa.Array) -> pa.Array:  # no formula start (a plain line's text has no quote)
        return pc.invert(pc.match_substring_regex(uniques, "^[=+\\-@\t\r|%]"))

    def texts(uniques: pa.Array) -> pa.Array:
        texts = uniques.cast(pa.binary())
        comma = pc.match_substring(texts, ",")
        if pc.any(comma).as_py():  # texts with a comma: in quotes (they hold no quote)
            quote = _arrow_literal('"')
            texts = pc.if_else(comma, pc.binary_join_element_wise(quote, texts, quote, _arrow_literal("")), texts)
        return texts

    return _json_cells(column, name, text, lambda values: _csv_quoted([csv_cell(v) for v in values]), False, "",
                       plain, texts)


def _csv_lines_of(cells: list[pa.Array | pa.Scalar], n: int) -> memoryview:
    """CSV lines of ``n`` rows from each column's cells (null: an empty cell)."""
    import pyarrow.compute as pc

    lines = pc.binary_join_element_wise(*cells, _arrow_literal(","), null_handling="replace",
                                        null_replacement="")
    lines = pc.binary_join_element_wise(lines, _arrow_literal("\n"), _arrow_literal(""))
    return _values_bytes(lines, n)[:-1]  # no last newline: a writer's pieces are joined by one


def write_csv(chunks: Iterable[LabeledChunk], binary: bool = False) -> Iterator[str | memoryview]:
    """CSV with one header row of the input's columns plus ``slam.*``.

    A malformed row has empty fields and its raw line in ``slam.reason``.  JSON
    input whose later objects bring new keys gets those columns appended and
    the header row repeated (JSON logs have no fixed column set).
    """
    columns: list[str] | None = None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for labeled in chunks:
        wanted = _csv_columns(labeled)
        if columns is None or any(c not in columns for c in wanted):
            columns = wanted if columns is None else columns + [c for c in wanted if c not in columns]
            writer.writerow(columns)
        made = labeled.made.pop("csv", None)
        if made is not None and made[0] == columns:  # built ahead for the columns in force
            arrow = made[1]
        else:
            arrow = _csv_arrow(labeled, columns) if len(labeled.chunk) else None
        if arrow is not None:
            if buffer.tell():  # the header row first
                yield buffer.getvalue().rstrip("\n")
                buffer.seek(0)
                buffer.truncate()
            yield arrow if binary else bytes(arrow).decode("utf-8", "surrogateescape")
            continue
        fast = _csv_rows(labeled, columns)
        if fast is not None:
            writer.writerows(fast)
        else:
            for i, row in enumerate(rows_as_dicts(labeled)):
                if i in labeled.chunk.errors:
                    row = {**row, "slam.reason": esc_raw_reason(labeled, i)}
                writer.writerow([csv_cell(row.get(c)) for c in columns])
        yield buffer.getvalue().rstrip("\n")
        buffer.seek(0)
        buffer.truncate()


# ---------------------------------------------------------------------------
# Elastic Common Schema, for SIEM pipelines

ECS_VERSION = "8.11.0"
_ECS_DENIED = {"slammed", "refused_with_reply", "reset_after_accept", "rejected", "reset_by_middlebox"}
_ECS_FAILED = _ECS_DENIED | {"no_answer", "server_silent", "attempt_aborted", "reset_by_responder",
                             "reset_by_originator", "idle_closed", "client_closed_silent"}
_ECS_MAP = {  # flat Zeek conn.log name -> ECS field
    "id.orig_h": "source.ip", "id.orig_p": "source.port", "id.resp_h": "destination.ip",
    "id.resp_p": "destination.port", "orig_bytes": "source.bytes", "resp_bytes": "destination.bytes",
    "orig_pkts": "source.packets", "resp_pkts": "destination.packets", "proto": "network.transport",
    "community_id": "network.community_id", "uid": "zeek.session_id",
}


def _nest(flat: dict) -> dict:
    doc: dict = {}
    for key, value in flat.items():
        node = doc
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return doc


def ecs_document(row: dict) -> dict:
    """One labeled row as a nested ECS document (zeek.* and zeekslam.* hold the rest)."""
    return _nest(_ecs_flat(row))


def _ecs_flat(row: dict, seconds: dict[int, str] | None = None) -> dict:
    """The ECS document of a row as flat dotted names, in the order :func:`_nest` nests them.
    ``seconds`` remembers the text of each whole second of ``@timestamp`` between calls."""
    flat: dict = {"ecs.version": ECS_VERSION, "event.module": "zeek", "event.dataset": "zeek.connection"}
    label = row.get("slam.label", "")
    if "_raw" in row:
        flat.update({"event.kind": "pipeline_error", "event.original": row["_raw"],
                     "error.message": row.get("slam.reason", ""), "log.file.path": row.get("_source"),
                     "zeekslam.label": "malformed"})
        return flat
    ts = row.get("ts")
    stamp = (_timestamp(ts, {} if seconds is None else seconds) if isinstance(ts, int | float)
             else _iso_timestamp(ts) if isinstance(ts, str) else None)
    if stamp is not None:
        flat["@timestamp"] = stamp
    flat["event.kind"] = "event"
    flat["event.category"] = ["network"]
    flat["event.type"] = ["connection", "denied"] if label in _ECS_DENIED else ["connection"]
    flat["event.outcome"] = ("failure" if label in _ECS_FAILED else "success" if label == "completed"
                             else "unknown")
    nanoseconds = _nanoseconds(row.get("duration"))
    if nanoseconds is not None:
        flat["event.duration"] = nanoseconds
    for name, field in _ECS_MAP.items():
        if name in row:
            flat[field] = row[name]
    if row.get("service"):
        flat["network.protocol"] = str(row["service"]).split(",")[0]
    for name, field in _ECS_ZEEK:
        if name in row:
            flat[field] = row[name]
    if label:
        flat["event.action"] = label
        flat["event.reason"] = row.get("slam.reason", "")
    for name, field in _ECS_LABELS:
        if row.get(name):
            flat[field] = row[name]
    return flat


_ECS_ZEEK = [(name, f"zeek.connection.{name}") for name in ("history", "conn_state", "missed_bytes", "service")]
_ECS_LABELS = [(name, "zeekslam." + name.split(".", 1)[1]) for name in LABEL_FIELDS]


def _timestamp(ts: float, seconds: dict[int, str]) -> str | None:
    """``@timestamp`` of epoch seconds (None beyond what gmtime takes); ``seconds`` remembers the
    text of each whole second."""
    second = math.floor(ts)  # what gmtime keeps of it
    text = seconds.get(second)
    if text is None:
        if len(seconds) > 4096:
            seconds.clear()
        try:
            text = seconds[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
        except (OverflowError, OSError, ValueError):  # a log's ts of 1e19 is a number, not a time
            return None
    return text + f".{int(ts % 1 * 1e6):06d}Z"


def _iso_timestamp(text: str) -> str | None:
    """``@timestamp`` of an ISO 8601 time (a JSON log's ``ts`` when Zeek writes
    ``JSON::TS_ISO8601``), to the microsecond as written; a time without a zone is UTC, as
    the reader takes it.  None if it is no such time, or before the year 1000."""
    try:
        moment = datetime.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        moment = moment.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        return None
    if moment.year < 1000:  # strftime's %Y has fewer digits there
        return None
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}Z"


def _nanoseconds(duration: object) -> int | None:
    """``event.duration``: a number of seconds in nanoseconds (None if none, or beyond a float)."""
    if not isinstance(duration, int | float):
        return None
    try:
        nanoseconds = duration * 1e9
    except OverflowError:  # an integer past float's range (a hostile JSON log's 400 digits)
        return None
    return int(nanoseconds) if math.isfinite(nanoseconds) else None


def _float_json(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("Out of range float values are not JSON compliant")  # as json.dumps says
    return float.__repr__(value)


def _list_json(value: list) -> str:
    if all(type(v) is str for v in value):
        return "[" + ", ".join(map(_encode_ascii, value)) + "]"
    return json.dumps(value, ensure_ascii=True, allow_nan=False)


def _other_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=True, allow_nan=False)


#: json.dumps(v, ensure_ascii=True, allow_nan=False) by exact type, C functions for the common ones.
_JSON_BY_TYPE: dict[type, Callable[[Any], str]] = {
    str: _encode_ascii, int: int.__repr__, float: _float_json, list: _list_json,
    bool: lambda v: "true" if v else "false", type(None): lambda v: "null",
}


def _ecs_template(shape: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The JSON text of a document with the flat names ``shape``, nested as :func:`_nest`
    does, with ``%s`` where each value goes; and the names in the order they fill in."""
    names: list[str] = []

    def text(node: dict) -> str:
        items = []
        for key, value in node.items():
            member = _encode_ascii(key).replace("%", "%%") + ": "
            if isinstance(value, dict):
                items.append(member + text(value))
            else:
                items.append(member + "%s")
                names.append(value)
        return "{" + ", ".join(items) + "}"

    return text(_nest({name: name for name in shape})), tuple(names)


def ecs_lines(rows: Iterable[dict]) -> Iterator[str]:
    """``json.dumps(ecs_document(row), ensure_ascii=True)`` for each row: the same text,
    written through one template per set of fields present instead of nested dicts."""
    templates: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {}
    seconds: dict[int, str] = {}
    for row in rows:
        flat = _ecs_flat(row, seconds)
        shape = tuple(flat)
        found = templates.get(shape)
        if found is None:
            found = templates[shape] = _ecs_template(shape)
        template, names = found
        by_type = _JSON_BY_TYPE.get
        yield template % tuple([by_type(type(v), _other_json)(v) for v in map(flat.__getitem__, names)])


def _ecs_piece(labeled: LabeledChunk) -> str | memoryview:
    """A chunk's ECS documents (without the last newline): built by Arrow where it can (as
    bytes), else a column or a row at a time."""
    fast = _ecs_arrow(labeled)
    if fast is not None:
        return fast
    lines = _ecs_chunk(labeled)
    return "\n".join(lines if lines is not None else ecs_lines(rows_as_dicts(labeled)))


def write_ecs(chunks: Iterable[LabeledChunk], binary: bool = False) -> Iterator[str | memoryview]:
    """One ECS JSON document per line (nested objects), ASCII only."""
    for labeled in chunks:
        if len(labeled.chunk):
            piece = labeled.made.pop("ecs") if "ecs" in labeled.made else _ecs_piece(labeled)
            yield piece if binary or isinstance(piece, str) else bytes(piece).decode("ascii")


def _ecs_pattern_texts(dicts: Sequence[dict]) -> tuple[dict[str, list], dict[str, list]]:
    """The JSON texts of the ECS fields that come from the labels, for each distinct slam.*
    dict (None: not in the document): those placed before the connection's own fields, and
    those after, in document order."""
    labels = [d.get("slam.label", "") for d in dicts]
    early = {
        "event.type": [_list_json(["connection", "denied"] if label in _ECS_DENIED else ["connection"])
                       for label in labels],
        "event.outcome": [_encode_ascii("failure" if label in _ECS_FAILED else "success"
                                        if label == "completed" else "unknown") for label in labels],
    }
    late = {
        "event.action": [_encode_ascii(label) if label else None for label in labels],
        "event.reason": [_encode_ascii(d.get("slam.reason", "")) if label else None
                         for d, label in zip(dicts, labels)],
    }
    for name, field in _ECS_LABELS:
        late[field] = [_encode_ascii(d[name]) if d.get(name) else None for d in dicts]
    return early, late


def _json_column(raw: Sequence[str], ztype: str, header: Header) -> list[str | None]:
    """Each raw TSV value of one column as the JSON text :func:`ecs_lines` writes for its typed
    value (:func:`_typed`), None where unset: whole numbers and plain text as they are, other
    values once per distinct value."""
    unset = header.unset_field
    if ztype in ("count", "int", "port") and _plain_whole_numbers(raw, unset):
        return [None if v == unset else v for v in raw]
    if ztype.startswith(("set[", "vector[", "table[")):
        return [_json_of(_typed(v, ztype, header)) for v in raw]
    plain_text = ztype in ("string", "addr", "enum", "subnet")

    def text(v: str) -> str | None:
        if plain_text and _plain_text(v, header) and '"' not in v:
            return '"' + v + '"'  # nothing for JSON to escape either
        return _json_of(_typed(v, ztype, header))

    return _per_distinct(raw, text)


@functools.lru_cache(maxsize=8)
def _whole_or_unset(unset: str) -> re.Pattern:
    one = f"(?:[1-9][0-9]*|0|{re.escape(unset)})"
    return re.compile(f"{one}(?:\n{one})*")


def _plain_whole_numbers(raw: Sequence[str], unset: str) -> bool:
    """Every value ASCII digits without a leading zero (its own JSON and CSV text), or unset:
    one C-level match over the column.  (``str.isdigit`` would pass "٣" or "²", and JSON has
    no "007".)"""
    return _whole_or_unset(unset).fullmatch("\n".join(raw)) is not None


def _json_of(value: object) -> str | None:
    return None if value is None else _JSON_BY_TYPE.get(type(value), _other_json)(value)


def _ecs_chunk(labeled: LabeledChunk) -> list[str] | None:
    """The ECS lines of a Zeek TSV chunk built a column at a time: the same text as
    :func:`ecs_lines` of :func:`rows_as_dicts`, one template per set of fields present, filled
    from columns of JSON texts.  None for chunks that take the row-by-row way."""
    found = _columnwise(labeled)
    if found is None:
        return None
    raw, header = found
    n = len(labeled.chunk)
    # typed values (None: not in the row) of the columns whose values are looked at
    row = {name: _typed_column(raw[name], header.type_of(name), header) for name in ("ts", "duration", "service")
           if name in raw}
    dicts, index = _label_dict_table(labeled)
    which = np.asarray(index, dtype=np.intp)
    leaves: dict[str, np.ndarray] = {}  # flat ECS name -> JSON text per row (None: not there)
    present: dict[str, np.ndarray] = {}  # for the names some rows lack: which rows have them

    def per_row(name: str, texts: list[str | None]) -> None:
        column = np.empty(n, dtype=object)
        column[:] = texts
        leaves[name] = column
        if None in texts:
            present[name] = np.array([t is not None for t in texts], dtype=bool)

    def per_pattern(name: str, texts: list[str | None]) -> None:
        table = np.empty(len(texts), dtype=object)
        table[:] = texts
        leaves[name] = table[which]
        if None in texts:
            present[name] = np.array([t is not None for t in texts], dtype=bool)[which]

    def constant(name: str, value: object) -> None:
        per_row(name, [_JSON_BY_TYPE.get(type(value), _other_json)(value)] * n)

    constant("ecs.version", ECS_VERSION)
    constant("event.module", "zeek")
    constant("event.dataset", "zeek.connection")
    if "ts" in row:
        seconds: dict[int, str] = {}
        stamps = [_timestamp(ts, seconds) if isinstance(ts, int | float) else None for ts in row["ts"]]
        per_row("@timestamp", [None if stamp is None else _encode_ascii(stamp) for stamp in stamps])
    constant("event.kind", "event")
    constant("event.category", ["network"])
    early, late = _ecs_pattern_texts(dicts)
    for name, texts in early.items():
        per_pattern(name, texts)
    if "duration" in row:
        nanoseconds = [_nanoseconds(v) for v in row["duration"]]
        per_row("event.duration", [None if v is None else int.__repr__(v) for v in nanoseconds])
    for name, field in _ECS_MAP.items():
        if name in raw:
            per_row(field, _json_column(raw[name], header.type_of(name), header))
    if "service" in row:
        per_row("network.protocol", [_encode_ascii(str(v).split(",")[0]) if v else None for v in row["service"]])
    for name, field in _ECS_ZEEK:
        if name in raw:
            per_row(field, _json_column(raw[name], header.type_of(name), header))
    for name, texts in late.items():
        per_pattern(name, texts)

    # which fields each row has: one bit per field, one template per distinct set
    optional = list(present)
    bits = np.zeros(n, dtype=np.int64)
    for bit, name in enumerate(optional):
        bits |= present[name].astype(np.int64) << bit
    shapes, shape_of = np.unique(bits, return_inverse=True)
    out = np.empty(n, dtype=object)
    for k, shape in enumerate(shapes.tolist()):
        missing = {name for bit, name in enumerate(optional) if not shape >> bit & 1}
        template, order = _ecs_template(tuple(name for name in leaves if name not in missing))
        rows = np.flatnonzero(shape_of == k)
        out[rows] = [template % values for values in zip(*(leaves[name][rows] for name in order))]
    return out.tolist()


def _ecs_values(column: pa.ChunkedArray, ztype: str, header: Header) -> pa.Array:
    """The JSON text :func:`_json_column` gives each value of a text column (null where unset), in
    Arrow: plain values as they are (whole numbers) or quoted (texts without a quote, backslash
    or empty mark); the rest, once per distinct value, through :func:`_typed`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = ztype in ("string", "addr", "enum", "subnet")

    def plain(uniques: pa.Array) -> pa.Array | None:
        if ztype in ("count", "int", "port"):
            return _whole_numbers(uniques)
        return _plain_texts(uniques, header) if text else None

    def texts(uniques: pa.Array) -> pa.Array:
        if not text:
            return uniques.cast(pa.binary())
        quote = _arrow_literal('"')
        return pc.binary_join_element_wise(quote, uniques.cast(pa.binary()), quote, _arrow_literal(""))

    return _distinct_texts(column, plain, texts, lambda raws: [_json_of(_typed(raw, ztype, header)) for raw in raws])


def _whole_numbers(values: pa.Array) -> pa.Array:
    """Which texts are ASCII digits without a leading zero: a whole number's own JSON and CSV text."""
    import pyarrow.compute as pc

    return pc.and_(pc.ascii_is_decimal(values), pc.invert(pc.match_substring_regex(values, "^0.")))


def _plain_texts(values: pa.Array, header: Header) -> pa.Array:
    """Which texts hold no escape (a backslash) and no quote, and are not the empty mark: in a
    clean chunk, :func:`_typed` and ``safe_text`` leave them as they are."""
    import pyarrow.compute as pc

    return pc.invert(pc.or_(pc.or_(pc.match_substring(values, "\\"), pc.match_substring(values, '"')),
                            pc.equal(values, arrow_binary([header.empty_field]).cast(values.type)[0])))


def _distinct_texts(column: pa.ChunkedArray, plain: Callable[[pa.Array], pa.Array | None],
                    texts: Callable[[pa.Array], pa.Array], other: Callable[[list], list]) -> pa.Array:
    """Each row's output text, made once per distinct value of a text column: by Arrow
    (``texts``) for the values ``plain`` picks (None: none), by Python (``other``, given the raw
    values, None where a value has no text) for the rest."""
    encoded = column.combine_chunks().dictionary_encode()
    uniques = encoded.dictionary
    picked = plain(uniques)
    made = texts(uniques)
    others = (np.arange(len(uniques)) if picked is None
              else np.flatnonzero(~_bools(picked)))
    if len(others):
        values = made.to_pylist()
        for i, value in zip(others.tolist(), other(uniques.take(arrow_indices(others)).to_pylist()), strict=True):
            values[i] = value
        made = arrow_binary(values)
    return made.take(encoded.indices)


@dataclass
class _EcsColumns:
    """What the Arrow ECS lane reads of a chunk's columns, whatever the input format."""

    names: Collection[str]  # the columns the chunk has
    numbers: Callable[[str], np.ndarray | None]  # float64, NaN where unset; None: not all numbers
    values: Callable[[str], pa.Array | None]  # each value's JSON text (null where unset); None: decline
    distinct: Callable[[str], tuple[pa.Array, list] | None]  # (indices, the distinct typed values)
    stamps: Callable[[str], pa.Array | None]  # @timestamp's JSON text of each time (null where unset)


def _ecs_arrow(labeled: LabeledChunk) -> memoryview | None:
    """The ECS lines of a clean Zeek TSV chunk or a chunk of plain JSON lines, built by Arrow a
    column at a time: the same text as :func:`_ecs_chunk` (and :func:`ecs_lines`), without a
    Python object per field.  None for chunks Arrow cannot take (then :func:`_ecs_chunk` or the
    row-by-row way)."""
    import pyarrow as pa

    columns = _ecs_columns_tsv(labeled) or _ecs_columns_json(labeled)
    if columns is None:
        return None
    n = len(labeled.chunk)
    leaves: dict[str, pa.Array | str] = {}  # flat ECS name -> JSON text per row (null: not there), or one text

    def constant(name: str, value: object) -> None:
        leaves[name] = _JSON_BY_TYPE.get(type(value), _other_json)(value)

    dicts, which = _label_table(labeled)

    def per_pattern(name: str, texts: list[str | None]) -> None:
        leaves[name] = arrow_binary(texts).take(which)

    constant("ecs.version", ECS_VERSION)
    constant("event.module", "zeek")
    constant("event.dataset", "zeek.connection")
    if "ts" in columns.names:
        stamps = columns.stamps("ts")
        if stamps is None:
            return None
        leaves["@timestamp"] = stamps
    constant("event.kind", "event")
    constant("event.category", ["network"])
    early, late = _ecs_pattern_texts(dicts)
    for name, texts in early.items():
        per_pattern(name, texts)
    if "duration" in columns.names:
        duration = columns.numbers("duration")
        if duration is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 s: past int64, declined below
            nanoseconds = duration * 1e9
        if not (np.isnan(duration) | (np.abs(nanoseconds) < 2.0**63)).all():
            return None  # beyond int64: Python's ints say it
        known = ~np.isnan(duration)
        whole = np.zeros(n, dtype=np.int64)
        whole[known] = np.trunc(nanoseconds[known]).astype(np.int64)
        ints = arrow_ints(whole, known).cast(pa.string()).cast(pa.binary())
        leaves["event.duration"] = ints
    named = [(name, field) for name, field in _ECS_MAP.items() if name in columns.names]
    if "service" in columns.names:
        named.append(("service", "network.protocol"))
    named += [(name, field) for name, field in _ECS_ZEEK if name in columns.names]
    for name, field in named:
        if field == "network.protocol":
            found = columns.distinct(name)
            if found is None:
                return None
            indices, uniques = found
            protocols = [_encode_ascii(str(v).split(",")[0]) if v else None for v in uniques]
            leaves[field] = arrow_binary(protocols).take(indices)
            continue
        values = columns.values(name)
        if values is None:
            return None
        leaves[field] = values
    for name, texts in late.items():
        per_pattern(name, texts)
    return _ecs_lines_of(leaves, n)


def _ecs_columns_tsv(labeled: LabeledChunk) -> _EcsColumns | None:
    """A clean Zeek TSV chunk's columns as text, typed by its header (None: not such a chunk)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _text_table(labeled)
    if table is None:
        return None
    header = labeled.chunk.header

    def numbers(name: str) -> np.ndarray | None:
        """A column of plain decimal numbers (JSON's grammar, which Arrow and Python read alike) as
        float64, NaN where unset; None if some value is another text."""
        column = table.column(name)
        if pc.any(pc.invert(pc.match_substring_regex(column, _ARROW_NUMBER))).as_py():
            return None
        return _float64s(column.cast(pa.float64()))

    def distinct(name: str) -> tuple[pa.Array, list]:
        column = table.column(name).combine_chunks().dictionary_encode()
        ztype = header.type_of(name)
        return column.indices, [_typed(raw, ztype, header) for raw in column.dictionary.to_pylist()]

    def stamps(name: str) -> pa.Array | None:
        seconds = numbers(name)
        return None if seconds is None else _timestamps(seconds)

    return _EcsColumns(header.fields, numbers, lambda name: _ecs_values(table.column(name), header.type_of(name),
                                                                       header), distinct, stamps)


def _ecs_columns_json(labeled: LabeledChunk) -> _EcsColumns | None:
    """A chunk of plain JSON lines' columns as Arrow's JSON reader typed them when it read the
    chunk (None: not such a chunk, or one with a null, which Arrow reads as a key left out)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _plain_json_text(labeled)
    if text is None or "null" in text:  # (in a text too: that chunk goes row by row)
        return None
    table = labeled.chunk.json_table

    def column(name: str) -> pa.Array:
        return table.column(name).combine_chunks()

    def numbers(name: str) -> np.ndarray | None:
        kind = table.column(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return None
        return _float64s(table.column(name).cast(pa.float64(), safe=False))

    def values(name: str) -> pa.Array | None:
        """JSON's own text of whole numbers and of texts (printable ASCII with no quote or
        backslash in a plain line); anything else (a float's spelling, a bool, a list) declines."""
        kind = table.column(name).type
        if pa.types.is_integer(kind):
            return column(name).cast(pa.string()).cast(pa.binary())
        if pa.types.is_string(kind):
            quote = _arrow_literal('"')
            return pc.binary_join_element_wise(quote, column(name).cast(pa.binary()), quote, _arrow_literal(""))
        return None

    def distinct(name: str) -> tuple[pa.Array, list] | None:
        if not pa.types.is_string(table.column(name).type):
            return None
        encoded = column(name).dictionary_encode()
        return encoded.indices, encoded.dictionary.to_pylist()

    def stamps(name: str) -> pa.Array | None:
        if not pa.types.is_string(table.column(name).type):
            seconds = numbers(name)
            return None if seconds is None else _timestamps(seconds)
        # ISO 8601 times as Zeek writes them (JSON::TS_ISO8601) are @timestamp's own spelling:
        # quoted as they are, when each is a real moment from the year 1000 on, to the microsecond
        texts = column(name)
        found = _iso_seconds(texts)
        if (found is None or not found[1][_bools(texts.is_valid())].all()
                or pc.any(pc.invert(pc.match_substring_regex(texts, r"\.[0-9]{6}Z$"))).as_py()
                or pc.any(pc.match_substring_regex(texts, "^0")).as_py()):
            return None
        quote = _arrow_literal('"')
        return pc.binary_join_element_wise(quote, texts.cast(pa.binary()), quote, _arrow_literal(""))

    return _EcsColumns(table.column_names, numbers, values, distinct, stamps)


def _ecs_lines_of(leaves: dict[str, pa.Array | str], n: int) -> memoryview:
    """The ECS lines of ``n`` rows from their leaves (flat ECS name -> the JSON text of each row's
    value, null where the row has none, or one text for every row), in document order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _arrow_literal
    # which fields each row has: one bit per field that some row lacks, one layout per distinct set
    optional = [name for name, v in leaves.items() if not isinstance(v, str) and v.null_count]
    bits = np.zeros(n, dtype=np.int64)
    for bit, name in enumerate(optional):
        bits |= _bools(leaves[name].is_valid()).astype(np.int64) << bit
    shapes, shape_of, counts = np.unique(bits, return_inverse=True, return_counts=True)
    by_shape = None
    if len(shapes) > 1:  # the rows grouped by layout, each row-wise column taken once
        by_shape = np.argsort(shape_of, kind="stable")
        taken = arrow_indices(by_shape)
        leaves = {name: v if isinstance(v, str) else v.take(taken) for name, v in leaves.items()}
    parts, start = [], 0
    for shape, count in zip(shapes.tolist(), counts.tolist(), strict=True):
        missing = {name for bit, name in enumerate(optional) if not shape >> bit & 1}
        pieces: list[pa.Array | pa.Scalar] = []
        for piece in _ecs_layout([name for name in leaves if name not in missing], leaves):
            pieces.append(text(piece[0]) if isinstance(piece, tuple) else leaves[piece].slice(start, count))
        parts.append(pc.binary_join_element_wise(*pieces, text("")))
        start += count
    lines = parts[0] if len(parts) == 1 else pa.concat_arrays(parts).take(arrow_indices(np.argsort(by_shape)))
    return _values_bytes(lines, n)[:-1]  # no last newline: a writer's pieces are joined by one


def _values_bytes(values: pa.Array, n: int) -> memoryview:
    """The bytes of the ``n`` values of a string or binary array laid end to end (no copy)."""
    ends, data = string_buffers(values, n)
    return memoryview(data)[ends[0]:ends[n]]


@functools.lru_cache(maxsize=1024)
def _arrow_literal(value: str) -> pa.Scalar:
    """A binary Arrow scalar of a text (the same few keys and braces in every chunk)."""
    return arrow_binary([value])[0]


def _ecs_layout(names: Sequence[str], texts: dict[str, object]) -> list[str | tuple[str]]:
    """The document of the flat ``names`` (nested as :func:`_nest` does), each line ending in a
    newline, as a sequence of literal texts (1-tuples: the keys, the braces, and the values that
    are a text in ``texts``) and leaf names (where a column of values goes)."""
    out: list[str | tuple[str]] = []

    def walk(node: dict) -> None:
        out.append(("{",))
        for i, (key, value) in enumerate(node.items()):
            out.append(((", " if i else "") + _encode_ascii(key) + ": ",))
            if isinstance(value, dict):
                walk(value)
            else:
                out.append((texts[value],) if isinstance(texts[value], str) else value)
        out.append(("}",))

    walk(_nest({name: name for name in names}))
    out.append(("\n",))
    merged: list[str | tuple[str]] = []  # neighbouring literals as one
    for piece in out:
        if isinstance(piece, tuple) and merged and isinstance(merged[-1], tuple):
            merged[-1] = (merged[-1][0] + piece[0],)
        else:
            merged.append(piece)
    return merged


def _timestamps(ts: np.ndarray) -> pa.Array | None:
    """``@timestamp`` JSON texts of epoch seconds, as :func:`_timestamp` makes them (null where
    NaN: unset); None if some stamp is outside the years numpy and strftime spell alike."""
    import pyarrow as pa
    import pyarrow.compute as pc

    known = ~np.isnan(ts)
    v = np.where(known, ts, 0.0)
    if not ((v >= _YEAR_1000) & (v < _YEAR_10000)).all():
        return None
    seconds = np.floor(v).astype(np.int64)  # what gmtime keeps
    # each "YYYY-MM-DDTHH:MM:SS" is 19 bytes in these years: one buffer (pa.array imports pandas)
    texts = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").astype("S19")
    offsets = np.arange(0, 19 * (len(texts) + 1), 19, dtype=np.int32)
    days = pa.Array.from_buffers(pa.binary(), len(texts), [None, pa.py_buffer(offsets), pa.py_buffer(texts.tobytes())])
    micro = (np.mod(v, 1.0) * 1e6).astype(np.int64)  # int(ts % 1 * 1e6): truncated, as Python does
    micro = pc.utf8_lpad(arrow_ints(micro, known).cast(pa.string()), width=6, padding="0").cast(pa.binary())
    return pc.binary_join_element_wise(_arrow_literal('"'), days, _arrow_literal("."), micro, _arrow_literal('Z"'),
                                       _arrow_literal(""))


_YEAR_1000 = -30610224000.0  # 1000-01-01T00:00:00Z: from here on strftime's %Y has four digits
_YEAR_10000 = 253402300800.0


WRITERS = {"zeek": write_zeek, "json": write_json, "ecs": write_ecs, "csv": write_csv}


def _csv_made(labeled: LabeledChunk) -> tuple[list[str], memoryview | None]:
    # for the chunk's own columns: the writer uses it while those are the columns in force
    columns = _csv_columns(labeled)
    return columns, _csv_arrow(labeled, columns)


#: What each writer can build ahead, a chunk at a time, apart from the order of the output.
_MADE_AHEAD: dict[str, Callable[[LabeledChunk], object]] = {"json": _json_piece, "ecs": _ecs_piece, "csv": _csv_made}


def made_ahead(chunks: Iterable[LabeledChunk], fmt: str, workers: int = 2) -> Iterator[LabeledChunk]:
    """The same chunks, each one's text in ``fmt`` built ahead of :func:`write`, in ``workers``
    threads at once (mostly in Arrow, which releases the GIL while it builds); ``write`` then
    only puts the pieces in order, and lets go of each once written.  Zeek TSV, appended to
    the lines as read, needs no help."""
    build = _MADE_AHEAD.get(fmt)
    if build is None:
        yield from chunks
        return

    def make(labeled: LabeledChunk) -> LabeledChunk:
        if len(labeled.chunk):  # the writers skip an empty chunk
            labeled.made[fmt] = build(labeled)
        return labeled

    yield from map_ahead(make, chunks, workers)


def write(chunks: Iterable[LabeledChunk], fmt: str, binary: bool = False) -> Iterator[str | memoryview]:
    """Output text in ``fmt`` (one of :data:`FORMATS`): pieces of one or more whole
    lines, without the final newline; write each followed by a newline.

    With ``binary`` some pieces may be bytes-like (ASCII), which saves decoding
    them: for callers that write to a binary stream.
    """
    return WRITERS[fmt](chunks, binary)
