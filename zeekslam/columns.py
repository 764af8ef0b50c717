"""Column access over a parsed chunk, the same from an Arrow table or a pandas frame.

The labeler asks three things of a column: its numbers, its distinct values
with a code per row, and the text of a few rows.  A chunk parsed by Arrow
answers them without making a Python object per row (and without pandas at
all); a pandas frame (slam.log facts joined, JSON input, the Dask engine)
answers them the same way, so the labeler has one code path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


class Columns:
    """What the labeler reads from a chunk's parsed columns."""

    def __len__(self) -> int:
        raise NotImplementedError

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def numbers(self, name: str) -> np.ndarray:
        """float64 values; NaN where unset, not a number, or the column is absent."""
        raise NotImplementedError

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(code per row, distinct values as an object array); unset or absent is ''."""
        raise NotImplementedError

    def texts(self, name: str, rows: np.ndarray) -> np.ndarray:
        """The text of the given rows (object array; '' where unset)."""
        raise NotImplementedError


# Arrow arrays are read through their buffers: pyarrow's ``to_numpy`` imports pandas, which the
# Zeek TSV lane otherwise never needs (a third of a second at every start).  Arrow's functions are
# called through ``call_function``: ``pyarrow.compute`` (which pyarrow's own ``take`` and
# ``dictionary_encode`` methods import) makes a Python wrapper for each of its ~300 functions
# when it is first imported, ~45 ms of every run.

def _compute() -> Any:
    """Arrow's compute functions and options: the module ``pyarrow.compute`` re-exports them from,
    or (a pyarrow laid out otherwise) the public one."""
    try:
        import pyarrow._compute as compute
    except ImportError:
        import pyarrow.compute as compute
    return compute


def arrow_call(name: str, args: Sequence[object], options: object = None) -> Any:
    """Arrow's compute function ``name`` on ``args``, without importing ``pyarrow.compute``."""
    return _compute().call_function(name, list(args), options)


def dictionary_encode(values: pa.Array | pa.ChunkedArray, nulls: bool = False) -> Any:
    """``values.dictionary_encode()``; with ``nulls`` an unset value is a value of its own."""
    options = _compute().DictionaryEncodeOptions("encode") if nulls else None
    return arrow_call("dictionary_encode", [values], options)


def take(values: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> Any:
    """``values.take(rows)``: the values of the given rows (numpy positions)."""
    return arrow_call("take", [values, arrow_indices(rows)])

def _values(array: pa.Array, dtype: type) -> np.ndarray:
    """The value buffer of a fixed-width array without nulls, as numpy (zero copy)."""
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array) + array.offset)[array.offset:]


def string_buffers(values: pa.Array, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(ends, data)`` of the first ``n`` values (all by default) of a string or binary array:
    value ``i`` is ``data[ends[i]:ends[i + 1]]`` (no copy)."""
    n = len(values) if n is None else n
    ends = np.frombuffer(values.buffers()[1], dtype=np.int32, count=n + 1, offset=values.offset * 4)
    data = values.buffers()[2]
    return ends, np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)


def _float64s(column: pa.ChunkedArray) -> np.ndarray:
    """A float64 column as numpy, NaN where null."""
    parts = []
    for chunk in column.chunks:
        values = _values(chunk, np.float64)
        if chunk.null_count:
            bits = np.frombuffer(chunk.buffers()[0], dtype=np.uint8)
            valid = np.unpackbits(bits, count=len(chunk) + chunk.offset, bitorder="little")[chunk.offset:]
            values = np.where(valid.astype(bool), values, np.nan)
        parts.append(values)
    return np.concatenate(parts) if parts else np.empty(0)


def _bools(array: pa.Array) -> np.ndarray:
    """A boolean array as numpy, False where null (as ``bool(None)``)."""
    count = len(array) + array.offset
    values = np.unpackbits(np.frombuffer(array.buffers()[1], dtype=np.uint8), count=count, bitorder="little")
    if array.null_count:
        values &= np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), count=count, bitorder="little")
    return values[array.offset:].astype(bool)


def arrow_indices(values: np.ndarray) -> pa.Array:
    """An int64 Arrow array of numpy values (``pa.array`` would import pandas to look at them)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def first_seen(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per key, distinct keys) for int64 keys, numbered in order of first appearance:
    ``pandas.factorize`` through Arrow's hash table (no pandas to import)."""
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    if not len(keys):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    encoded = dictionary_encode(arrow_indices(keys))
    codes = _values(encoded.indices, np.int32)[: len(keys)].astype(np.int64)
    distinct = encoded.dictionary
    return codes, _values(distinct, np.int64)[: len(distinct)].copy()


def object_texts(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow array's values as an object array of Python strings, '' where unset."""
    return np.array(["" if v is None else v for v in values.to_pylist()], dtype=object)


def first_seen_strings(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """:func:`first_seen` for an Arrow string array: (code per value, distinct values as Arrow's
    array), by Arrow's hash table, with no Python string made (unset is a value of its own)."""
    encoded = dictionary_encode(texts, nulls=True)
    return _values(encoded.indices, np.int32).astype(np.int64), encoded.dictionary


def first_seen_texts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`first_seen` for an object array of texts (a text's own equality and hash)."""
    items = values.tolist()
    # Python's own hashes through Arrow's table (a dict cost ~0.5 µs a text), then each text
    # checked against the first of its code: equal hashes of unequal texts take the dict way
    codes, hashes = first_seen(np.fromiter(map(hash, items), np.int64, len(items)))
    first = np.full(len(hashes), len(items), np.int64)
    np.minimum.at(first, codes, np.arange(len(items)))  # each code's first row
    distinct = values[first]
    if len(items) and bool((distinct[codes] == values).all()):
        return codes, distinct
    table: dict = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in items), np.int64, len(items))
    distinct = np.empty(len(table), dtype=object)
    distinct[:] = list(table)
    return codes, distinct


def arrow_ints(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    """An int64 Arrow array of numpy values, null where not ``valid`` (without ``pa.array``)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype=np.int64)
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.int64(), len(values), [validity, pa.py_buffer(values)])


def arrow_binary(texts: Sequence[str | bytes | None]) -> pa.Array:
    """A binary Arrow array of strings (UTF-8 encoded) or bytes, None as null (without ``pa.array``;
    see above)."""
    import pyarrow as pa

    encoded = [b"" if t is None else t if isinstance(t, bytes) else t.encode("utf-8", "surrogateescape")
               for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    validity = None
    if any(t is None for t in texts):
        validity = pa.py_buffer(np.packbits(np.array([t is not None for t in texts]), bitorder="little"))
    return pa.Array.from_buffers(pa.binary(), len(encoded), [validity, pa.py_buffer(offsets),
                                                            pa.py_buffer(b"".join(encoded))])


def _absent(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(n, dtype=np.intp), np.array([""], dtype=object)


class ArrowColumns(Columns):
    """Columns of a table Arrow's CSV reader parsed: float64 numbers, string text."""

    def __init__(self, table: pa.Table, later: Sequence[str] = (),
                 texts_of_lines: Callable[[str, np.ndarray], np.ndarray] | None = None):
        self.table = table
        self._names = frozenset(table.column_names)
        # Text columns the reader left unparsed: their text comes from the lines, row by row.
        self._later = frozenset(later) if texts_of_lines is not None else frozenset()
        self._texts_of_lines = texts_of_lines
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._dictionaries: dict[str, tuple[np.ndarray, pa.Array]] = {}  # codes and Arrow's distinct values

    def __len__(self) -> int:
        return self.table.num_rows

    def has(self, name: str) -> bool:
        return name in self._names or name in self._later

    def numbers(self, name: str) -> np.ndarray:
        import pyarrow as pa

        if not self.has(name):
            return np.full(len(self), np.nan)
        column = self.table.column(name)
        if pa.types.is_float64(column.type):
            return _float64s(column)
        import pandas as pd  # a column kept as text (a lenient one): rare, so pandas is fine here

        return pd.to_numeric(column.to_pandas(), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name in self._codes:
            return self._codes[name]
        if name in self._later:  # not what the labeler asks of a deferred column, but answered right
            uniques, codes = np.unique(self._texts_of_lines(name, np.arange(len(self))).astype(str),
                                       return_inverse=True)
            return codes.reshape(-1), uniques.astype(object)
        encoded = self.dictionary_codes(name)
        if encoded is None:
            return _absent(len(self))
        codes, dictionary = encoded
        uniques = object_texts(dictionary)
        self._codes[name] = codes, uniques
        return codes, uniques

    def dictionary_codes(self, name: str) -> tuple[np.ndarray, pa.Array] | None:
        """``codes(name)`` with the distinct values as Arrow's array (no Python object per value;
        an unset value is a null of its own); None for a column absent or parsed later."""
        if name in self._dictionaries:
            return self._dictionaries[name]
        if name not in self._names:
            return None
        # Unset values get a code of their own (null_encoding), so the codes have no nulls to fill;
        # the chunks of a chunked column are encoded against one dictionary (no need to combine them).
        encoded = dictionary_encode(self.table.column(name), nulls=True)
        if not encoded.num_chunks:
            return None
        codes = np.concatenate([_values(chunk.indices, np.int32) for chunk in encoded.chunks]).astype(np.intp)
        self._dictionaries[name] = codes, encoded.chunk(0).dictionary
        return self._dictionaries[name]

    def texts(self, name: str, rows: np.ndarray) -> np.ndarray:
        if name in self._later:
            return self._texts_of_lines(name, rows)
        if not self.has(name):
            return np.full(len(rows), "", dtype=object)
        return object_texts(take(self.table.column(name), rows))


class FrameColumns(Columns):
    """Columns of a pandas frame (object text, float64 numbers)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def __len__(self) -> int:
        return len(self.frame)

    def has(self, name: str) -> bool:
        return name in self.frame.columns

    def numbers(self, name: str) -> np.ndarray:
        import pandas as pd

        if not self.has(name):
            return np.full(len(self), np.nan)
        return pd.to_numeric(self.frame[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        import pandas as pd

        if not self.has(name):
            return _absent(len(self))
        codes, uniques = pd.factorize(self.frame[name], use_na_sentinel=True)
        uniques = np.asarray(uniques, dtype=object)
        if (codes < 0).any():
            codes = np.where(codes < 0, len(uniques), codes)
            uniques = np.append(uniques, "")
        return codes, uniques

    def texts(self, name: str, rows: np.ndarray) -> np.ndarray:
        if not self.has(name):
            return np.full(len(rows), "", dtype=object)
        import pandas as pd

        values = self.frame[name].to_numpy(dtype=object)[rows]  # a copy (taken rows)
        values[pd.isna(values)] = ""  # None and NaN, in one C pass
        return values


class JoinedColumns(Columns):
    """A chunk's columns with slam.log facts joined by uid: the columns of ``facts`` (a frame with
    a row per chunk row) stand in for the chunk's own of the same name; the rest are the chunk's,
    read as before (from Arrow's table, without a pandas frame of the chunk)."""

    def __init__(self, base: Columns, facts: pd.DataFrame):
        self.base = base
        self.facts = FrameColumns(facts)
        self._joined = frozenset(facts.columns)

    def source(self, name: str) -> Columns:
        """The columns ``name`` is read from: the facts' or the chunk's own."""
        return self.facts if name in self._joined else self.base

    def __len__(self) -> int:
        return len(self.base)

    def has(self, name: str) -> bool:
        return name in self._joined or self.base.has(name)

    def numbers(self, name: str) -> np.ndarray:
        return self.source(name).numbers(name)

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.source(name).codes(name)

    def texts(self, name: str, rows: np.ndarray) -> np.ndarray:
        return self.source(name).texts(name, rows)
