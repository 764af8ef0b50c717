"""The project's slam.log facts, held for joining to conn.log rows by uid, in bounded memory.

A sensor's slam.log has a row per door event (or per TCP connection, with the switch on):
millions a day.  Up to ``memory_rows`` of them are kept in a pandas frame, as
:func:`zeekslam.label.load_slam_facts` makes it; past that, all of them go to an SQLite file
in the temporary directory (deleted on :meth:`SlamFacts.close`), looked up a chunk at a time,
and a fixed-size filter of their uids spares the lookups of uids that have none.
Either way :meth:`SlamFacts.reindex` gives what the frame's ``reindex(uids)`` gives: the
last row of each uid, NaN for a uid with none (:meth:`SlamFacts.columns_for`: its columns).

Log content is hostile: every value goes in as a bound parameter, and a text that is not
valid Unicode (the reader's lone surrogates for undecodable bytes) is stored as its
``surrogatepass`` bytes, uids included (the same rule for storing and looking up).
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np

from .read import read_log

if TYPE_CHECKING:
    import pandas as pd

#: Facts held in a pandas frame (~300 bytes each) before they move to SQLite.
MEMORY_ROWS = 100_000


#: Values bound per lookup query, rows per insert.  A query's values, NULL pads included, are
#: made into a temporary index first: with the uid filter a 10,000-row chunk asks ~1,500 uids,
#: and padding those to 10,000 cost 1.2 s per 2M rows (1,000: 0.4 s).
_QUERY_KEYS = 1_000
_INSERT_ROWS = 10_000


def _encode(v: object) -> object:
    """A cell as SQLite stores it: text as text (as bytes if it is not valid Unicode), numbers as
    they are, unset as NULL."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return v.encode("utf-8", "surrogatepass")
        return v
    if isinstance(v, float | int | bytes):
        return v
    return _encode(str(v))


def _decode(v: object) -> object:
    return v.decode("utf-8", "surrogatepass") if isinstance(v, bytes) else v


class _UidFilter:
    """Which uids surely have no facts: a Bloom filter of fixed size (4 MiB, three probes) over
    Python's own string hash, so that SQLite is asked only about uids that may have facts.

    Memory stays flat however long the slam.log; what grows is the share of uids looked up for
    nothing (0.08% at 1.1M facts, ~4% at 4.5M).  A false "may" costs a lookup, never a wrong fact; and the
    hash is salted per process, so hostile uids cannot be made to collide on purpose.
    """

    BITS = 1 << 25

    def __init__(self) -> None:
        self.bits = np.zeros(self.BITS >> 3, np.uint8)

    def _probes(self, keys: list) -> list[np.ndarray]:
        h = np.fromiter(map(hash, keys), np.int64, len(keys)).view(np.uint64)
        mask = np.uint64(self.BITS - 1)
        spread = h * np.uint64(0x9E3779B97F4A7C15)  # wraps: a third probe from the same hash
        return [h & mask, (h >> np.uint64(25)) & mask, (spread >> np.uint64(39)) & mask]

    def add(self, keys: list) -> None:
        for probe in self._probes(keys):
            np.bitwise_or.at(self.bits, probe >> np.uint64(3), np.left_shift(1, probe & np.uint64(7)).astype(np.uint8))

    def might_hold(self, keys: list) -> np.ndarray:
        held = np.ones(len(keys), bool)
        for probe in self._probes(keys):
            held &= ((self.bits[probe >> np.uint64(3)] >> (probe & np.uint64(7)).astype(np.uint8)) & 1).astype(bool)
        return held


class SlamFacts:
    """slam.log facts by uid: :meth:`add` frames of them, :meth:`done`, then :meth:`reindex` per chunk."""

    def __init__(self, columns: Sequence[str], memory_rows: int | None = None):
        self.columns = list(columns)  # the fact columns asked for
        self.memory_rows = MEMORY_ROWS if memory_rows is None else memory_rows
        self.present: list[str] = []  # those some slam log had (only these are joined)
        self._frames: list[pd.DataFrame] = []
        self._held = 0
        self._frame: pd.DataFrame | None = None  # in memory: one row per uid, indexed by uid
        self._db: sqlite3.Connection | None = None
        self._path: str | None = None
        self._count: int | None = None  # distinct uids in SQLite, once done
        self._row_of: dict | None = None  # in memory: uid -> row of the frame, once asked
        self._filter: _UidFilter | None = None  # in SQLite: which uids surely have no facts
        self._next_row = 0  # in SQLite: the rowid after the last row found ahead
        self._misses = 0  # chunks in a row that found little ahead

    @classmethod
    def load(cls, paths: Sequence[str], columns: Sequence[str], strict: bool = False,
             memory_rows: int | None = None) -> SlamFacts:
        """The facts of the given slam logs (read a chunk at a time)."""
        facts = cls(columns, memory_rows)
        for path in paths:
            for chunk in read_log(path, columns=["uid", *columns], strict=strict):
                facts.add(chunk.frame.drop(index=list(chunk.errors)))
        facts.done()
        return facts

    def __len__(self) -> int:
        """Distinct uids with facts (after :meth:`done`)."""
        if self._db is not None:
            return self._count or 0
        return 0 if self._frame is None else len(self._frame)

    @property
    def spilled(self) -> bool:
        """Whether the facts are in SQLite (more than ``memory_rows``)."""
        return self._db is not None

    def add(self, frame: pd.DataFrame) -> None:
        """Take one frame of slam.log rows (a later row of a uid replaces an earlier one)."""
        if "uid" not in frame.columns:
            return
        frame = frame[[c for c in ["uid", *self.columns] if c in frame.columns]].dropna(subset=["uid"])
        self.present += [c for c in frame.columns if c != "uid" and c not in self.present]
        if self._db is not None:
            self._insert(frame)
            return
        self._frames.append(frame)
        self._held += len(frame)
        if self._held > self.memory_rows:  # too many for memory: everything to SQLite
            self._spill()

    def done(self) -> None:
        """No more rows: the in-memory facts as one frame, a row per uid."""
        if self._db is not None:
            if self._count is None:
                # rows go in in read order (rowid), unindexed; one sorted index build at the end is
                # far cheaper than keeping a key in order row by row (measured: 7.6 s -> ~2 s for 1.1M)
                self._db.execute("CREATE INDEX facts_uid ON facts (uid)")
                self._count = self._db.execute("SELECT COUNT(DISTINCT uid) FROM facts").fetchone()[0]
                rows = self._db.execute("SELECT MAX(rowid) FROM facts").fetchone()[0] or 0
                if self._count < rows:  # a uid with more rows: its last one wins, the others go
                    self._db.execute("DELETE FROM facts WHERE rowid NOT IN (SELECT MAX(rowid) FROM facts GROUP BY uid)")
            return
        if self._frame is not None:
            return
        import pandas as pd

        frame = pd.concat(self._frames, ignore_index=True) if self._frames else pd.DataFrame(columns=["uid"])
        self._frames, self._held = [], 0
        self._frame = frame.drop_duplicates("uid", keep="last").set_index("uid")

    @property
    def frame(self) -> pd.DataFrame:
        """All the facts as one frame indexed by uid (in memory only; see ``spilled``)."""
        if self._db is not None:
            raise ValueError("the facts are in SQLite: more than memory_rows of them")
        self.done()
        assert self._frame is not None
        return self._frame

    def reindex(self, uids: np.ndarray) -> pd.DataFrame:
        """The facts of each uid (a row per uid given, in order; NaN where it has none)."""
        import pandas as pd

        if self._db is None:
            return self.frame.reindex(uids)
        columns = self.columns_for(uids)
        # dtype given: pandas would make a column of texts its own string type, which cannot
        # hold the lone surrogates of undecodable bytes
        frame = pd.DataFrame({name: pd.Series(column, dtype=column.dtype) for name, column in columns.items()})
        frame.index = pd.Index(uids, dtype=object)
        return frame

    def columns_for(self, uids: np.ndarray) -> dict[str, np.ndarray]:
        """Each fact column for the given uids: ``reindex(uids)[name].to_numpy()`` for every column
        of :meth:`reindex`, without the frame (float64 numbers, object texts, NaN where none)."""
        if self._db is None:
            frame = self.frame
            if self._row_of is None:  # a dict: a third of the time of the frame's own index
                self._row_of = dict(zip(frame.index.tolist(), range(len(frame)), strict=True))
            rows = np.fromiter(map(self._row_of.get, uids.tolist(), repeat(-1)), np.int64, len(uids))
            none = rows < 0
            out = {}
            for name in frame.columns:
                values = frame[name].to_numpy()
                column = values[rows] if len(values) else np.full(len(rows), np.nan, values.dtype)
                if none.any():
                    column = column.astype(np.float64 if column.dtype.kind in "iub" else column.dtype)
                    column[none] = np.nan
                out[name] = column
            return out
        if not self.present:  # slam logs with uids and no fact at all
            return {}
        keys = uids.tolist()
        # only the uids that may have facts are looked up (most rows of a conn.log have none)
        maybe = np.flatnonzero(self._filter.might_hold(keys)).tolist() if self._filter is not None else None
        if maybe is not None:
            keys = [keys[i] for i in maybe]
        found = self._rows_ahead(keys)  # uid (as str) -> its row
        rest = [k for k in dict.fromkeys(keys) if isinstance(k, str) and k not in found]
        if rest:  # not where the logs' common order put them: by the uid index
            try:
                found.update(self._rows_of(rest))
            except UnicodeEncodeError:  # a uid that is not valid Unicode: stored as bytes, so asked as bytes
                found.update((_decode(k), r) for k, r in self._rows_of([_encode(k) for k in rest]).items())
        hits = [(i, found[k]) for i, k in enumerate(keys) if k in found]
        pos = np.fromiter((i for i, _ in hits), np.int64, len(hits))
        if maybe is not None:
            pos = np.asarray(maybe, np.int64)[pos]
        columns = list(zip(*(r for _, r in hits), strict=True))[2:] if hits else [()] * len(self.present)
        out = {}
        for name, values in zip(self.present, columns, strict=True):
            kinds = set(map(type, values))
            if kinds <= {float, int, type(None)}:  # a number column
                column = np.full(len(uids), np.nan)
                column[pos] = [np.nan if v is None else v for v in values]
            else:
                column = np.full(len(uids), np.nan, dtype=object)
                column[pos] = [_decode(v) for v in values] if bytes in kinds else values
            out[name] = column
        return out

    def _row_columns(self) -> str:
        """The columns of a row as the lookups return it: rowid, uid, then each present fact."""
        return ", ".join(["rowid", "uid", *(f"c{i}" for i in range(len(self.present)))])

    def _rows_ahead(self, keys: list) -> dict:
        """The rows of ``keys`` found among the next rows in read order (uid as str -> row).

        Zeek writes conn.log and slam.log rows at the same event, so a chunk's uids that have
        facts are, in the same order, the next rows of the slam.log: read in rowid order they
        cost a fraction of a lookup each.  Each uid has one row by now (:meth:`done`), so a row
        found here is the row; the rest are looked up by uid.  Logs not in that order stop
        this after a few chunks that found little.
        """
        assert self._db is not None
        if not keys or self._misses >= 8:
            return {}
        names = self._row_columns()
        query = f"SELECT {names} FROM facts WHERE rowid >= ? ORDER BY rowid LIMIT ?"  # noqa: S608 - ours
        block = {_decode(r[1]): r for r in self._db.execute(query, (self._next_row, len(keys) + len(keys) // 16 + 16))}
        found = {k: block[k] for k in keys if k in block}
        if found:
            self._next_row = max(r[0] for r in found.values()) + 1
        self._misses = self._misses + 1 if len(found) * 4 < len(keys) else 0
        return found

    def _rows_of(self, keys: list) -> dict:
        """uid -> its last row (rowid, uid, facts ...) for the keys that have facts."""
        assert self._db is not None
        names = self._row_columns()
        # one statement, always _QUERY_KEYS values (NULL pads: it matches nothing): each statement
        # of another length would be compiled and cached anew (measured: +150 MB)
        query = f"SELECT {names} FROM facts WHERE uid IN ({', '.join('?' * _QUERY_KEYS)})"  # noqa: S608 - ours
        found: dict = {}
        for lo in range(0, len(keys), _QUERY_KEYS):
            part = keys[lo : lo + _QUERY_KEYS]
            # a uid's rows come in rowid order whether SQLite walks the (uid, rowid) index or the
            # table: the last one kept is the last one read, as in the frame
            found.update((r[1], r) for r in self._db.execute(query, part + [None] * (_QUERY_KEYS - len(part))))
        return found

    def close(self) -> None:
        """Drop the SQLite file, if there is one."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._path is not None:
            os.unlink(self._path)
            self._path = None

    def __del__(self) -> None:  # should a caller never call close (at exit, os may be gone: TypeError)
        with contextlib.suppress(OSError, sqlite3.Error, TypeError):
            self.close()

    # ---- SQLite ---------------------------------------------------------------------------

    def _spill(self) -> None:
        fd, self._path = tempfile.mkstemp(prefix="zeekslam-facts-", suffix=".sqlite")
        os.close(fd)
        db = sqlite3.connect(self._path, check_same_thread=False)  # made here, used by the reading thread
        db.execute("PRAGMA journal_mode = OFF")  # a scratch file: nothing to recover
        db.execute("PRAGMA synchronous = OFF")
        # column c<i> holds present[i]: a place for every fact column asked for (a later log may bring it)
        cols = ", ".join(f"c{i}" for i in range(len(self.columns)))
        db.execute(f"CREATE TABLE facts (uid, {cols})")
        self._db = db
        frames, self._frames, self._held = self._frames, [], 0
        for frame in frames:
            self._insert(frame)

    def _insert(self, frame: pd.DataFrame) -> None:
        assert self._db is not None
        if self._filter is None:
            self._filter = _UidFilter()
        self._filter.add(frame["uid"].tolist())
        slots = [self.present.index(c) for c in frame.columns if c != "uid"]
        names = ", ".join(["uid", *(f"c{i}" for i in slots)])
        marks = ", ".join("?" * (len(slots) + 1))
        sql = f"INSERT INTO facts ({names}) VALUES ({marks})"  # noqa: S608 - ours
        for lo in range(0, len(frame), _INSERT_ROWS):  # a slice at a time: Python objects are big
            columns = [frame[c].iloc[lo : lo + _INSERT_ROWS].tolist() for c in frame.columns]
            try:  # as they are: SQLite stores NaN as NULL
                self._db.executemany(sql, zip(*columns, strict=True))
            except (UnicodeEncodeError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
                # a text that is not valid Unicode, or an odd type: cell by cell, the slice again
                # (the rows stored twice are the same rows, the later of each uid wins)
                self._db.executemany(sql, ([_encode(v) for v in row] for row in zip(*columns, strict=True)))
