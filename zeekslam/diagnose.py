"""Per-server diagnosis: which of the seed's reasons explains a server's door events?

The labeler says what happened to one connection; this module groups labeled
connections by server endpoint (``id.resp_h``, ``id.resp_p``) and asks the seed's
question of each server: did it slam the door on some client addresses only
(``ip_allowlist``), only while it already held K sessions (``connection_limit``),
or K sessions from the same client (``per_client_limit``), on everyone for a while
after serving them before (``service_crash``), or never (``port_closed``,
``filtered``, ``unresponsive_application``)?  Servers whose door events no single
cause explains are ``mixed`` (when two causes together do) or ``undetermined``; a
server without door events is ``healthy``.

It streams.  :class:`ServerDiagnoser` takes labeled chunks one at a time: the frames
``zeekslam.label.label_logs`` yields, or their :class:`ServerRows` (what the diagnosis
reads of a chunk, made from Arrow columns without a frame by :func:`rows_of_labeled`).
It folds their rows into its state ``batch_rows`` at a time, whatever the chunking, so
the result does not depend on how the input was cut; each batch costs a few dozen
numpy passes whatever the number of servers (per-server state lives in columns indexed
by a server slot, pending events and session intervals in global arrays with a server
column).

Concurrency at accept time
--------------------------
When the project's Zeek log (``slam.log``) was joined in, ``resp_concurrent`` and
``orig_concurrent`` are used as they are.  Otherwise they are computed from
conn.log intervals: a connection that was *served* (``completed``, ``idle_closed``,
``reset_by_originator``, ``reset_by_responder``) holds a session on its server
from ``ts`` to ``ts + duration``; the concurrency of an event at time ``t`` is the
number of such sessions with ``start < t < end`` (the event itself excluded) --
from any client, and from the same client -- counted with sorted int64 keys
(``group << 39 | microseconds``) and ``searchsorted``.  Refused connections do not
hold a session.

Zeek writes a conn.log row when the connection *ends*, so a long session that was
open during a refusal can appear later in the log than the refusal.  So events
wait: each server keeps a window of recent session intervals and a list of pending
events, and an event is finalized (concurrency counted, histograms, timeline,
crash-run and allow-list evidence updated, in time order) once the server's
watermark -- the latest session end seen at that server -- has passed the event's
outcome time by ``horizon`` seconds (default 300).  The approximation: a session
that outlives an event by more than ``horizon`` and is logged after that, or that
arrives after its start has left the window, is not counted; a ``horizon`` shorter
than the sessions hides a limit.  The caps (``max_pending``, ``max_window``)
finalize or drop the oldest first.  A success logged long after its accept does not
split a crash window it did not interrupt.  With the lab logs everything fits in
one window and the counts are exact.

Bounded state
-------------
Per server: fixed counters, concurrency histograms (one entry per level seen), a
timeline of at most ``max_bins`` bins that widen as time goes on, and plot points
thinned evenly (``sample_points``/``sample_served``).  Per client: only on servers
that turned someone away after the handshake, from that moment on
(``max_clients`` per server, ``max_pairs`` in all; more are pooled as "other
clients").  Endpoints that never completed a handshake -- a port scan's targets --
are not servers: they are kept apart, as counts only (labels, first and last time,
the first clients), beyond ``max_probe_servers`` folded into one ``host:*`` entry per
host, least recent first.  A target's first handshake makes it a server, with its
counts, and its attempts until then as one crash run that a success ends; with
``--plot`` its timeline goes on (a target has no plot points: no session, no
concurrency).  So memory follows the number of servers and options, not the number
of rows, and a scan costs a few numpy passes per batch, not a server's machinery.
"""

from __future__ import annotations

import gc
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from itertools import compress, repeat
from typing import TYPE_CHECKING

import numpy as np

from .columns import first_seen, first_seen_strings, first_seen_texts, object_texts, string_buffers, take
from .hashing import hash_texts, hash_utf8

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from .columns import Columns
    from .label import LabeledChunk

# --------------------------------------------------------------------------------------
# Vocabulary

VERDICTS = (
    "service_crash",
    "port_closed",
    "filtered",
    "unresponsive_application",
    "connection_limit",
    "per_client_limit",
    "ip_allowlist",
    "mixed",
    "undetermined",
    "healthy",
)
"""Every verdict :func:`diagnose` can give, in the order reports rank ties."""

# Outcome categories, as small ints so the streaming code can use numpy.
SERVED = 0  # completed, idle_closed, reset_by_originator: the server did its job
REFUSED = 1  # slammed, refused_with_reply: accepted, then closed politely (FIN)
RESET = 2  # reset_after_accept: accepted, then RST
REJECTED = 3  # SYN answered by RST
NO_ANSWER = 4  # SYN never answered
SILENT = 5  # server_silent: accepted by the kernel, never greeted
ABORTED = 6  # reset_by_responder: served, then reset mid-session
MIDDLEBOX = 7  # reset_by_middlebox
REPLY_ONLY = 8  # client_closed_silent after the server spoke (and only it): maybe a refusal
WAITED = 9  # client_closed_silent after waiting >= WAITED_SECONDS for a server that never spoke
NEUTRAL = 10  # client_closed_silent (prompt), attempt_aborted, midstream: nothing said about the server
NCAT = 11
WAITED_SECONDS = 1.0
CATEGORY_NAMES = (
    "served",
    "refused",
    "reset",
    "rejected",
    "no_answer",
    "silent",
    "aborted",
    "middlebox",
    "reply_only",
    "waited",
    "neutral",
)

LABEL_CATEGORY = {
    "completed": SERVED,
    "idle_closed": SERVED,
    "reset_by_originator": SERVED,
    "slammed": REFUSED,
    "refused_with_reply": REFUSED,
    "reset_after_accept": RESET,
    "rejected": REJECTED,
    "no_answer": NO_ANSWER,
    "server_silent": SILENT,
    "reset_by_responder": ABORTED,
    "reset_by_middlebox": MIDDLEBOX,
    "client_closed_silent": NEUTRAL,
    "attempt_aborted": NEUTRAL,
    "midstream": NEUTRAL,
}

_DOOR_CATS = (REFUSED, RESET, REJECTED, NO_ANSWER, SILENT, MIDDLEBOX)
_DOOR = np.zeros(NCAT, bool)
_DOOR[list(_DOOR_CATS)] = True
_HELD = np.zeros(NCAT, bool)  # holds a session on the server while it lasts
_HELD[[SERVED, ABORTED]] = True
_ACCEPT_CLOSE = np.zeros(NCAT, bool)  # accepted, then turned away: the limit/allow-list evidence
_ACCEPT_CLOSE[[REFUSED, RESET]] = True
_CRASH_FAIL = np.zeros(NCAT, bool)  # what a crash does to everyone
_CRASH_FAIL[[RESET, REJECTED, NO_ANSWER, SILENT, ABORTED]] = True
_CRASH_BREAK = np.zeros(NCAT, bool)  # proof the application is alive
_CRASH_BREAK[[SERVED, REFUSED]] = True
_EVENT = np.ones(NCAT, bool)  # kept for concurrency / time order
_EVENT[NEUTRAL] = False
_OTHER_CATS = [SILENT, ABORTED, MIDDLEBOX, REPLY_ONLY, WAITED]  # a client's "other" outcomes
_NO_HANDSHAKE = frozenset({"rejected", "no_answer", "attempt_aborted", "midstream"})

LABEL = "slam.label"
KIND = "slam.refusal_kind"
REPLY = "slam.reply"
RESP_CONC = "resp_concurrent"
ORIG_CONC = "orig_concurrent"


class DiagnoseError(Exception):
    """Base class for the errors this module raises."""


class BadServerSpec(DiagnoseError):
    """A server was not given as ``IP:PORT`` (or ``[IPv6]:PORT``)."""

    def __init__(self, spec: str):
        super().__init__(f"not a server endpoint (want IP:PORT): {spec!r}")
        self.spec = spec


class UnknownServer(DiagnoseError):
    """No diagnosis for the requested server endpoint."""

    def __init__(self, spec: str, known: Sequence[str] = (), folded: str | None = None):
        hint = f"; servers seen: {', '.join(known[:8])}" if known else "; no servers seen"
        if folded:  # the port may be one of a scan's targets, counted in its host's entry
            hint = f"; {folded} holds ports of that host that never completed a handshake, the first 8 named"
        super().__init__(f"no connections to {spec}{hint}")
        self.spec = spec
        self.known = list(known)


class MissingColumns(DiagnoseError):
    """A chunk lacks the labeled columns the diagnosis needs."""

    def __init__(self, missing: Sequence[str]):
        super().__init__(
            "labeled input needed (run it through zeekslam.label.label_logs); missing columns: "
            + ", ".join(missing)
        )
        self.missing = list(missing)


# --------------------------------------------------------------------------------------
# Options and results


@dataclass
class DiagnoseOptions:
    """Thresholds of the diagnosis.  Every field has a documented default."""

    horizon: float = 300.0
    """Seconds a pending event waits for later-logged sessions that overlapped it."""
    window: float = 60.0
    """An allow-listed client's refusal counts as "while others were served" when some
    client was served within this many seconds of it."""
    explained: float = 0.8
    """Share of a server's door events a cause must explain to be the verdict."""
    served_below: float = 0.9
    """Share of successes that must sit below the estimated limit K (the ceiling)."""
    min_refusals: int = 2
    """Refusals a client needs before it can be called always refused."""
    min_crash_events: int = 3
    """Consecutive reset/rejected/unanswered connections that make a crash window."""
    batch_rows: int = 65_536
    """Rows (of those about a server's door) folded into the state at a time, whatever chunks
    the input came in: a report does not depend on how its input was cut (Zeek TSV or JSON,
    chunk size, Dask partitions).  Caps are enforced, and scan targets folded, once per batch."""
    max_pending: int = 200_000
    """Events (all servers) waiting for their concurrency; beyond it the oldest are finalized."""
    max_window: int = 200_000
    """Session intervals (all servers) kept to count concurrency; beyond it the oldest go."""
    max_clients: int = 128
    """Client addresses tracked per server (from its first refusal on); later ones are pooled as "other"."""
    max_pairs: int = 20_000
    """(server, client) pairs tracked in all."""
    max_probe_servers: int = 20_000
    """Endpoints that never completed a handshake kept apart; beyond it the least recent are folded
    into one ``host:*`` entry per host."""
    max_folded_hosts: int = 10_000
    """``host:*`` entries; beyond it folded endpoints go to "(other hosts)"."""
    max_bin_slots: int = 50_000
    """Servers that get a timeline."""
    max_replies: int = 16
    """Distinct reply texts kept per server (each cut to ``max_reply_len``)."""
    max_reply_len: int = 200
    report_clients: int = 20
    """Clients listed per server in a diagnosis (most turned away first)."""
    max_bins: int = 120
    """Time bins per server for the timeline; bins widen (x2) to stay under it."""
    bin_width: float = 1.0
    """Initial timeline bin width in seconds."""
    sample_points: int = 256
    """Plot points of turned-away connections kept per server (thinned evenly over time)."""
    sample_served: int = 64
    """Plot points of served connections kept per server."""


@dataclass
class ClientEvidence:
    """What one client address got from one server."""

    client: str
    served: int = 0
    refused: int = 0  # accepted then closed (slammed, refused_with_reply, reset_after_accept)
    rejected: int = 0
    no_answer: int = 0
    other: int = 0
    first_ts: float = math.nan
    last_ts: float = math.nan

    @property
    def attempts(self) -> int:
        return self.served + self.refused + self.rejected + self.no_answer + self.other


@dataclass
class LimitEstimate:
    """A concurrency ceiling: refusals at >= k sessions, successes below k."""

    k: int
    refusals: int  # accept-then-close events with a known concurrency
    refusals_at_or_above: int
    served: int
    served_below: int
    confirmed_by_reply: bool = False
    max_served_concurrency: int = 0
    min_refused_concurrency: int = 0
    reply_only_at_or_above: int = 0
    """Clients that hung up right after the server's first reply while >= k sessions were open."""

    @property
    def refused_share(self) -> float:
        return self.refusals_at_or_above / self.refusals if self.refusals else 0.0

    @property
    def served_share(self) -> float:
        return self.served_below / self.served if self.served else 0.0


@dataclass
class AllowlistEvidence:
    """Clients always turned away while others were served."""

    denied: list[str]
    denied_refused: int  # turned-away connections of the denied clients
    denied_attempts: int
    other_clients: int  # clients served in the same window
    other_served: int
    other_attempts: int
    amid_service: int  # denied refusals with a success by someone within `window` seconds
    confirmed_by_reply: bool = False


@dataclass
class CrashWindow:
    """A stretch where every connection was reset, rejected or unanswered."""

    start: float
    end: float
    events: int
    door_events: int
    clients: int
    kinds: dict[str, int]
    preceded_by_success: bool
    recovered_at: float | None = None
    first_affected: float = math.nan
    """Accept time of the earliest failed connection (e.g. accepted by a hung process, reset later)."""


@dataclass(slots=True)
class ServerDiagnosis:
    """The verdict on one server endpoint, with the evidence behind it."""

    host: str
    port: int
    verdict: str
    confidence: str
    summary: str
    connections: int
    door_events: int
    served: int
    label_counts: dict[str, int]
    first_ts: float
    last_ts: float
    refusal_kinds: dict[str, int] = field(default_factory=dict)
    replies: dict[str, int] = field(default_factory=dict)
    clients: list[ClientEvidence] = field(default_factory=list)
    allowlist: AllowlistEvidence | None = None
    limit: LimitEstimate | None = None
    client_limit: LimitEstimate | None = None
    crash_windows: list[CrashWindow] = field(default_factory=list)
    components: dict[str, int] = field(default_factory=dict)
    concurrency_refused: dict[int, int] = field(default_factory=dict)
    concurrency_served: dict[int, int] = field(default_factory=dict)
    client_concurrency_refused: dict[int, int] = field(default_factory=dict)
    client_concurrency_served: dict[int, int] = field(default_factory=dict)
    resets_after_client_data: int = 0
    concurrency_source: str = "conn.log intervals"
    ports_folded: int = 0
    """For a ``host:*`` entry: how many never-accepted ports of the host were folded into it."""
    folded_ports: list[int] = field(default_factory=list)
    """For a ``host:*`` entry: the first of those ports (up to 8, in the order they were folded)."""
    notes: list[str] = field(default_factory=list)
    timeline: dict = field(default_factory=dict, repr=False)
    """Outcome counts over time: ``start``, ``width`` (s), and arrays ``served``, ``turned_away``."""
    samples: dict = field(default_factory=dict, repr=False)
    """Thinned plot points: arrays ``t``, ``concurrency`` (at accept) and ``category`` (codes of
    :data:`CATEGORY_NAMES`)."""

    @property
    def server(self) -> str:
        return _entry_name(self.host, self.port, self.ports_folded)

    def to_dict(self, *, plot_data: bool = False) -> dict:
        """A JSON-ready dict (NaN becomes None); ``plot_data`` adds timeline and samples."""
        out = {"server": self.server}
        for f in fields(self):
            if f.name in ("timeline", "samples") and not plot_data:
                continue
            out[f.name] = getattr(self, f.name)
        if plot_data:
            cats = np.asarray(self.samples.get("category", []), np.int64)
            out["samples"] = {**self.samples, "category": [CATEGORY_NAMES[k] for k in cats]}
        out = asdict_safe(out)
        out["clients"] = [dict(c, attempts=_attempts(c)) for c in out["clients"]]
        return out


def _attempts(c: dict) -> int:
    return c["served"] + c["refused"] + c["rejected"] + c["no_answer"] + c["other"]


def asdict_safe(obj):
    """Dataclasses, numpy scalars and NaN turned into plain JSON-ready values."""
    if hasattr(obj, "__dataclass_fields__"):
        return asdict_safe(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): asdict_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [asdict_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [asdict_safe(v) for v in obj.tolist()]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return None if math.isnan(v) or math.isinf(v) else v
    return obj


def format_endpoint(host: str, port: int) -> str:
    """``127.0.0.1:21``, or ``[::1]:21`` for IPv6."""
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _entry_name(host: str, port: int, ports_folded: int) -> str:
    """A report entry's name: the endpoint, or ``host:*`` for a host's folded ports."""
    if ports_folded:
        return f"[{host}]:*" if ":" in host else f"{host}:*"
    return format_endpoint(host, port)


class TextEntry:
    """A healthy server or a ``host:*`` entry as the text report reads it, made without its
    :class:`ServerDiagnosis` (``finish(text_only=True)``): a sensor's report is mostly such
    entries, and the text needs a few of their fields.  What such an entry never has
    (clients, replies shown, concurrency histograms, crash windows, notes) reads as empty."""

    __slots__ = ("host", "port", "verdict", "confidence", "summary", "connections", "door_events",
                 "ports_folded", "label_counts", "first_ts", "last_ts")

    refusal_kinds: dict = {}  # (the empty ones: class attributes, shared and never written)
    replies: dict = {}
    clients: list = []
    client_limit = None
    crash_windows: list = []
    concurrency_refused: dict = {}
    concurrency_served: dict = {}
    concurrency_source = "conn.log intervals"
    notes: list = []

    def __init__(self, host: str, port: int, verdict: str, confidence: str, summary: str, connections: int,
                 door_events: int, ports_folded: int, label_counts: dict[str, int], first_ts: float,
                 last_ts: float) -> None:
        self.host, self.port, self.verdict, self.confidence, self.summary = host, port, verdict, confidence, summary
        self.connections, self.door_events, self.ports_folded = connections, door_events, ports_folded
        self.label_counts, self.first_ts, self.last_ts = label_counts, first_ts, last_ts

    @property
    def server(self) -> str:
        return _entry_name(self.host, self.port, self.ports_folded)


def parse_endpoint(spec: str) -> tuple[str, int]:
    """Split ``IP:PORT`` / ``[IPv6]:PORT`` into (host, port); raise :class:`BadServerSpec`."""
    s = (spec or "").strip()
    if s.startswith("["):
        host, sep, rest = s[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port = s.rpartition(":")
    if not host or not sep or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise BadServerSpec(spec)
    return host, int(port)


def format_time(ts: float | None) -> str:
    """Epoch seconds as ``2026-11-25T10:40:15.099Z`` (``-`` when unknown)."""
    if ts is None or not math.isfinite(ts):
        return "-"
    try:
        dt = datetime.fromtimestamp(ts, tz=UTC)
    except (OverflowError, OSError, ValueError):  # a log's ts beyond the calendar (year 9999)
        return f"epoch {ts!r}"
    if dt.year >= 1000:  # isoformat (in C) truncates to milliseconds as below; it pads years to 4 digits
        return dt.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
    # strftime("%Y-%m-%dT%H:%M:%S.") spelt out: the same text (glibc does not pad %Y)
    return (
        f"{dt.year}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}."
        f"{dt.microsecond // 1000:03d}Z"
    )


_YEAR_1000 = -30610224000.0  # 1000-01-01T00:00:00Z: from here on years have four digits
_YEAR_10000 = 253402300800.0  # beyond datetime's calendar


def format_times(stamps: Sequence[float | None]) -> list[str]:
    """:func:`format_time` of many stamps at once (one numpy pass: a report has tens of thousands)."""
    ts = np.array([np.nan if t is None else t for t in stamps], dtype=float)
    out = np.empty(len(ts), dtype=object)
    plain = np.isfinite(ts) & (ts >= _YEAR_1000) & (ts < _YEAR_10000)
    v = ts[plain]
    # microseconds as datetime.fromtimestamp makes them: the whole seconds, then the fraction
    # rounded half to even; then cut (not rounded) to milliseconds
    whole = np.trunc(v)
    us = whole.astype(np.int64) * 1_000_000 + np.rint((v - whole) * 1e6).astype(np.int64)
    text = np.datetime_as_string(us.astype("datetime64[us]").astype("datetime64[ms]"), unit="ms")
    out[plain] = [t + "Z" for t in text.tolist()]
    for i in np.flatnonzero(~plain).tolist():  # unknown, or a year numpy spells otherwise
        out[i] = format_time(float(ts[i]))
    return out.tolist()


# --------------------------------------------------------------------------------------
# Streaming state: columnar, vectorized across servers
#
# Per-server scalars live in numpy columns indexed by a server slot; per-client
# evidence only for servers that have turned someone away after the handshake;
# pending events and the session window are global arrays with a server column,
# so one chunk costs a handful of numpy passes whatever the number of servers.

LABELS = tuple(LABEL_CATEGORY)
_LABEL_INDEX = {name: i for i, name in enumerate(LABELS)}
NL = len(LABELS)
_LABEL_CAT = np.array([LABEL_CATEGORY[name] for name in LABELS], np.int64)
_LAB_CATS = np.zeros((NL, NCAT), np.int64)  # label counts @ _LAB_CATS = category counts
_LAB_CATS[np.arange(NL), _LABEL_CAT] = 1
_NO_HS_LAB = np.array([name in _NO_HANDSHAKE for name in LABELS])  # never got past the SYN
_LAB_EVENT = _EVENT[_LABEL_CAT]

# pair (server, client) counters
P_SERVED, P_AC, P_REJ, P_NOANS, P_OTHER, P_AMID = range(6)
_PAIR_COL = np.full(NCAT, -1, np.int64)
_PAIR_COL[SERVED] = P_SERVED
_PAIR_COL[[REFUSED, RESET]] = P_AC
_PAIR_COL[REJECTED] = P_REJ
_PAIR_COL[NO_ANSWER] = P_NOANS
_PAIR_COL[[SILENT, ABORTED, MIDDLEBOX, REPLY_ONLY, WAITED]] = P_OTHER

# which categories get concurrency histograms (index into a small table)
_HIST_CATS = (SERVED, REFUSED, RESET, REPLY_ONLY)
_HIST_SLOT = np.full(NCAT, -1, np.int64)
for _i, _c in enumerate(_HIST_CATS):
    _HIST_SLOT[_c] = _i

_TSHIFT = 39  # keys: group << 39 | microseconds since the group's base (6.4 days)
_TMAX = (1 << _TSHIFT) - 1
_MAX_SEEN = 8  # distinct clients remembered per server, for "from N clients"
_RUN_CLIENTS = 64
_NO_INT = np.zeros(0, np.int32)
_EMPTY: Counter = Counter()  # shared empty histogram / text counts: never mutated
_NO_CONC = (_EMPTY,) * NCAT


def _grow(a: np.ndarray, n: int, fill) -> np.ndarray:
    out = np.empty((n,) + a.shape[1:], a.dtype)
    out[: len(a)] = a
    out[len(a) :] = fill
    return out


def _texts_or_none(chunk: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray | None:
    """Column ``name`` at ``rows`` as str ("" when missing); None when absent or all empty."""
    if name not in chunk:
        return None
    codes, texts = _text_codes(chunk[name], rows)
    if not (codes >= 0).any():
        return None  # the usual case: nothing to count
    return np.append(texts, "")[codes]


def _group_codes(*cols: np.ndarray) -> np.ndarray:
    """Dense codes for the distinct rows of the given int64 columns (hash-combined)."""
    h = np.zeros(len(cols[0]), np.uint64)
    for c in cols:
        h = h * np.uint64(0x9E3779B97F4A7C15) + c.astype(np.int64).view(np.uint64)
    return first_seen(h.view(np.int64))[0]


def _open_counts(g_w, s_w, e_w, g_q, t_q) -> np.ndarray:
    """For each query (group, t): intervals of that group with start < t < end.

    Intervals and queries are turned into int64 keys ``group << 39 | µs since the
    group's earliest time``; two sorts and two ``searchsorted`` count them all.
    Offsets beyond 6.4 days are clamped (a documented approximation).
    """
    if not len(t_q):
        return np.zeros(0)
    ng = int(max(g_w.max(), g_q.max()) if len(g_w) else g_q.max()) + 1
    # only the intervals of groups that have a query matter
    asked = np.zeros(ng, bool)
    asked[g_q] = True
    m = asked[g_w]
    g_w, s_w, e_w = g_w[m], s_w[m], e_w[m]
    if not len(s_w):
        return np.zeros(len(t_q))
    base = np.full(ng, np.inf)
    np.minimum.at(base, g_w, s_w)
    np.minimum.at(base, g_q, t_q)

    def key(g, x):
        off = np.clip(np.rint((x - base[g]) * 1e6), 0, _TMAX).astype(np.int64)
        return (g.astype(np.int64) << _TSHIFT) | off

    ks = np.sort(key(g_w, s_w))
    ke = np.sort(key(g_w, e_w))
    kq = key(g_q, t_q)
    # (starts before t) - (ends at or before t); the lower groups' keys, one start and one end
    # per interval, sit below kq in both arrays and cancel
    n = np.searchsorted(ks, kq, "left") - np.searchsorted(ke, kq, "right")
    return np.maximum(n, 0).astype(float)


class _Columns:
    """Growable numpy columns sharing one row index."""

    def __init__(self, spec: dict[str, tuple]):
        self._spec = spec  # name -> (dtype, tail shape, fill)
        self.cap = 0
        for name, (dtype, tail, _fill) in spec.items():
            setattr(self, name, np.empty((0,) + tail, dtype))

    def ensure(self, n: int) -> None:
        if n <= self.cap:
            return
        cap = max(64, self.cap)
        while cap < n:
            cap *= 2
        for name, (_dtype, _tail, fill) in self._spec.items():
            setattr(self, name, _grow(getattr(self, name), cap, fill))
        self.cap = cap

    def reset(self, idx) -> None:
        for name, (_dtype, _tail, fill) in self._spec.items():
            getattr(self, name)[idx] = fill


_SERVER_COLS = {
    "cat": (np.int64, (NCAT,), 0),
    "lab": (np.int64, (NL,), 0),
    "accepted": (np.int64, (), 0),
    "first": (np.float64, (), np.inf),
    "last": (np.float64, (), -np.inf),
    "wm": (np.float64, (), -np.inf),
    "rad": (np.int64, (), 0),
    "zc": (np.int64, (), 0),
    "cc": (np.int64, (), 0),
    "seen_success": (np.bool_, (), False),
    "last_served": (np.float64, (), -np.inf),
    "frontier": (np.float64, (), -np.inf),
    "tracking": (np.bool_, (), False),
    "npairs": (np.int64, (), 0),
    "nseen": (np.int64, (), 0),
    "slot": (np.int64, (), -1),
    "nfinal": (np.int64, (), 0),
    "stride": (np.int64, (2,), 1),
    "seenpts": (np.int64, (2,), 0),
    "kept": (np.int64, (2,), 0),
    "port": (np.int64, (), 0),
    "hid": (np.int64, (), -1),
    "born": (np.int64, (), 0),
    "seen": (np.int64, (_MAX_SEEN,), 0),  # first distinct client hashes (nseen of them)
}
_PROBE_COLS = {  # an endpoint that never completed a handshake (a scan's target): counts only
    "lab": (np.int64, (NL,), 0),
    "first": (np.float64, (), np.inf),
    "last": (np.float64, (), -np.inf),
    "efirst": (np.float64, (), np.inf),  # its rejected / unanswered attempts: first and last
    "elast": (np.float64, (), -np.inf),
    "zc": (np.int64, (), 0),
    "cc": (np.int64, (), 0),
    "nseen": (np.int64, (), 0),
    "seen": (np.int64, (_MAX_SEEN,), 0),
    "hid": (np.int64, (), -1),
    "port": (np.int64, (), 0),
    "born": (np.int64, (), 0),
    "slot": (np.int64, (), -1),  # timeline slot (with plot data), or -1
}
_FOLD_COLS = {  # categories are the labels' (``lab @ _LAB_CATS``), made at the end
    "lab": (np.int64, (NL,), 0),
    "ports": (np.int64, (), 0),
    "first": (np.float64, (), np.inf),
    "last": (np.float64, (), -np.inf),
    "ncl": (np.int64, (), 0),
    "cl": (np.int64, (_MAX_SEEN,), 0),
    "npt": (np.int64, (), 0),
    "pt": (np.int64, (_MAX_SEEN,), 0),  # the first distinct ports folded (npt of them)
}
_PAIR_COLS = {
    "srv": (np.int64, (), -1),
    "cnt": (np.int64, (6,), 0),
    "first": (np.float64, (), np.inf),
    "last": (np.float64, (), -np.inf),
    "fref": (np.float64, (), np.inf),
    "lref": (np.float64, (), -np.inf),
    "fsrv": (np.float64, (), np.inf),
    "lsrv": (np.float64, (), -np.inf),
}
_EVENT_FIELDS = ("srv", "t", "tout", "ch", "pair", "cat", "rc", "oc")
_EVENT_DTYPES = (np.int64, np.float64, np.float64, np.int64, np.int64, np.int8, np.float64, np.float64)
_WINDOW_FIELDS = ("srv", "start", "end", "ch")
_WINDOW_DTYPES = (np.int64, np.float64, np.float64, np.int64)
_SAMPLE_FIELDS = ("srv", "t", "c", "k", "door")
_SAMPLE_DTYPES = (np.int64, np.float64, np.float32, np.int8, np.bool_)


def _empty(fields, dtypes) -> dict[str, np.ndarray]:
    return {f: np.empty(0, d) for f, d in zip(fields, dtypes, strict=True)}


def _cat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _take(a: dict[str, np.ndarray], idx) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in a.items()}


class _Rows:
    """Rows appended to numpy columns with spare room; rows die by index, compacted once half are dead."""

    def __init__(self, names, dtypes):
        self._cols = {k: np.empty(0, d) for k, d in zip(names, dtypes, strict=True)}
        self.alive = np.empty(0, bool)
        self.n = 0  # rows written (live and dead)
        self.dead = 0

    def __len__(self) -> int:
        return self.n - self.dead

    def view(self) -> dict[str, np.ndarray]:
        """All rows written, dead ones included (see ``alive``)."""
        return {k: v[: self.n] for k, v in self._cols.items()}

    def live(self) -> dict[str, np.ndarray]:
        return _take(self.view(), self.alive[: self.n])

    def append(self, rows: dict[str, np.ndarray]) -> None:
        m = len(next(iter(rows.values())))
        if self.n + m > len(self.alive) and self.dead:
            self._compact()  # room from the dead first
        if self.n + m > len(self.alive):
            cap = max(1024, (self.n + m) * 3 // 2)
            self._cols = {k: _grow(v[: self.n], cap, 0) for k, v in self._cols.items()}
            self.alive = _grow(self.alive[: self.n], cap, False)
        for k, v in rows.items():
            self._cols[k][self.n : self.n + m] = v
        self.alive[self.n : self.n + m] = True
        self.n += m

    def kill(self, idx: np.ndarray) -> None:
        idx = idx[self.alive[idx]]
        self.alive[idx] = False
        self.dead += len(idx)
        if self.dead * 2 > self.n:
            self._compact()

    def _compact(self) -> None:
        """Drop the dead rows, keeping the order."""
        keep = self.alive[: self.n]
        k = int(keep.sum())
        for v in self._cols.values():
            v[:k] = v[: self.n][keep]
        self.alive[:k] = True
        self.alive[k : self.n] = False
        self.n, self.dead = k, 0


@dataclass
class ServerRows:
    """What :meth:`ServerDiagnoser.add` reads of a labeled chunk: its TCP rows about a server's
    door, as numpy arrays (one entry per kept row).

    Made by :func:`rows_of_frame` or :func:`rows_of_labeled`, which hold no diagnoser state,
    so ``report`` makes them in a background thread while the diagnoser folds the chunk before.
    """

    rows: int  # rows in the chunk, kept or not
    lab_idx: np.ndarray  # index into LABELS
    cat: np.ndarray  # outcome category
    ts: np.ndarray
    end: np.ndarray  # ts + duration (ts when unset)
    port: np.ndarray  # int64 id.resp_p
    ob: np.ndarray  # orig_bytes
    hcode: np.ndarray  # server address: code into htext
    htext: np.ndarray | pa.Array  # distinct texts: an object array, or Arrow's strings (no Python object each)
    ocode: np.ndarray  # client address: code into otext
    otext: np.ndarray | pa.Array
    kind: np.ndarray | None  # refusal kind text ("" when none); None when no row has one
    reply: np.ndarray | None  # reply text, likewise
    rc: np.ndarray  # resp_concurrent from slam.log (NaN when not joined)
    oc: np.ndarray  # orig_concurrent, likewise

    def __len__(self) -> int:
        return len(self.ts)

    def host_texts(self) -> list[str]:
        """The server address of each row."""
        return _texts_at(self.htext, self.hcode)

    def client_texts(self) -> list[str]:
        """The client address of each row."""
        return _texts_at(self.otext, self.ocode)

    def slice(self, start: int, stop: int) -> ServerRows:
        """Rows ``start:stop`` (views; the address texts are shared)."""
        return self.take(slice(start, stop), stop - start)

    def take(self, idx: np.ndarray | slice, n: int | None = None) -> ServerRows:
        """Rows ``idx`` (``n`` of them; the address texts are shared)."""
        cut = {name: None if value is None else value[idx] for name, value in self._per_row().items()}
        return ServerRows(rows=len(idx) if n is None else n, htext=self.htext, otext=self.otext, **cut)

    @classmethod
    def concat(cls, parts: Sequence[ServerRows]) -> ServerRows:
        """The rows of ``parts`` in order; each address text gets one code."""
        per_row = [p._per_row() for p in parts]
        joined: dict[str, np.ndarray | None] = {}
        for name in per_row[0]:
            if name in ("hcode", "ocode"):
                continue
            values = [row[name] for row in per_row]
            if all(v is None for v in values):
                joined[name] = None
            else:  # kind/reply: a part with none has "" in every row
                joined[name] = np.concatenate([_empty_texts(len(p)) if v is None else v
                                               for p, v in zip(parts, values, strict=True)])
        joined["hcode"], htext = _merge_codes([(p.hcode, p.htext) for p in parts])
        joined["ocode"], otext = _merge_codes([(p.ocode, p.otext) for p in parts])
        return cls(rows=sum(p.rows for p in parts), htext=htext, otext=otext, **joined)

    def _per_row(self) -> dict[str, np.ndarray | None]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__
                if name not in ("rows", "htext", "otext")}


def _client_hashes(texts: np.ndarray | pa.Array) -> np.ndarray:
    """The 64-bit hash of each distinct client address: from the bytes Arrow holds when the texts
    are Arrow's (the same values: UTF-8 is what hash_texts hashes)."""
    return hash_texts(texts) if isinstance(texts, np.ndarray) else hash_utf8(*string_buffers(texts))


def _texts_at(texts: np.ndarray | pa.Array, idx: np.ndarray) -> list[str]:
    """The texts at ``idx`` of an object array or an Arrow string array (never at an unset one)."""
    if isinstance(texts, np.ndarray):
        return texts[idx].tolist()
    return take(texts, idx).to_pylist()


def _merge_codes(parts: Sequence[tuple[np.ndarray, np.ndarray | pa.Array]]) -> tuple[np.ndarray, np.ndarray | pa.Array]:
    """Codes into one table of distinct texts, from (codes, texts) of several parts."""
    texts = [t for _, t in parts]
    if not any(isinstance(t, np.ndarray) for t in texts) and len({t.type for t in texts}) == 1:
        # Arrow's strings (the report lane): merged by Arrow's hash table, no Python string made
        import pyarrow as pa

        remap, distinct = first_seen_strings(pa.concat_arrays(texts))
    else:
        # one hash pass over all the parts' texts (object hashes: undecodable bytes are fine)
        remap, distinct = first_seen_texts(np.concatenate([_object_texts(t) for t in texts]))
        distinct = np.asarray(distinct, dtype=object)
    offsets = np.cumsum([0] + [len(t) for t in texts])
    merged = np.concatenate([remap[offset + codes] for (codes, _), offset in zip(parts, offsets.tolist())])
    return merged, distinct


def _object_texts(texts: np.ndarray | pa.Array) -> np.ndarray:
    """Texts as an object array (Arrow's unset ones as ''; no row refers to them)."""
    return texts if isinstance(texts, np.ndarray) else object_texts(texts)


def _empty_texts(n: int) -> np.ndarray:
    texts = np.empty(n, dtype=object)
    texts[:] = ""
    return texts


def _server_rows(n: int, lab_idx: np.ndarray, sel: np.ndarray, ts: np.ndarray, port: np.ndarray,
                 hcode: np.ndarray, htext: np.ndarray, ocode: np.ndarray, otext: np.ndarray,
                 numbers: Callable[[str], np.ndarray], kind: np.ndarray | None,
                 reply: np.ndarray | None) -> ServerRows:
    """The rows ``sel`` (addresses already cut to them), with their outcome categories."""
    # a port beyond int64 (a log's 1e300) would cast to garbage: clipped first, as _servers_of does
    lab_idx, ts, port = lab_idx[sel], ts[sel], np.clip(port[sel], 0, 65535).astype(np.int64)

    def col(name: str) -> np.ndarray:
        return numbers(name)[sel]

    cat = _LABEL_CAT[lab_idx]
    dur = col("duration")
    end = ts + np.where(np.isfinite(dur) & (dur > 0), dur, 0.0)
    ob = col("orig_bytes")
    rb = col("resp_bytes")
    ccs = (lab_idx == _LABEL_INDEX["client_closed_silent"]) & (ob == 0)
    cat = np.where(ccs & (rb > 0), REPLY_ONLY, cat)  # hung up right after the server spoke
    cat = np.where(ccs & (rb == 0) & (np.nan_to_num(dur) >= WAITED_SECONDS), WAITED, cat)
    if kind is not None:
        # a known refusal reply makes any accepted connection a refusal
        cat = np.where((kind != "") & np.isin(cat, [SERVED, REPLY_ONLY, NEUTRAL, WAITED]), REFUSED, cat)
    return ServerRows(rows=n, lab_idx=lab_idx, cat=cat, ts=ts, end=end, port=port, ob=ob, hcode=hcode,
                      htext=htext, ocode=ocode, otext=otext, kind=kind, reply=reply,
                      rc=col(RESP_CONC), oc=col(ORIG_CONC))


def rows_of_frame(chunk: pd.DataFrame) -> ServerRows:
    """:class:`ServerRows` of a labeled frame (``label_logs``, the Dask engine, a notebook)."""
    import pandas as pd  # a frame came from pandas: it is loaded already

    n = len(chunk)
    missing = [c for c in ("ts", "id.orig_h", "id.resp_h", "id.resp_p", LABEL) if c not in chunk]
    if missing and n:
        raise MissingColumns(missing)
    if not n:
        none = np.empty(0, np.int64)
        return _server_rows(0, none, none, np.empty(0), np.empty(0), none, np.empty(0, object), none,
                            np.empty(0, object), lambda name: np.empty(0), None, None)
    lab_codes, lab_uniq = pd.factorize(chunk[LABEL].to_numpy(object), use_na_sentinel=True)
    lab_idx = np.array([_LABEL_INDEX.get(_text(u), -1) for u in lab_uniq] + [-1], np.int64)[lab_codes]
    keep = lab_idx >= 0
    if "proto" in chunk:
        codes, uniq = pd.factorize(chunk["proto"].to_numpy(object), use_na_sentinel=True)
        keep &= np.array([_text(u) == "tcp" for u in uniq] + [False], bool)[codes]
    if "service" in chunk:
        codes, uniq = pd.factorize(chunk["service"].to_numpy(object), use_na_sentinel=True)
        keep &= ~np.array(["ftp-data" in _text(u) for u in uniq] + [False], bool)[codes]
    ts = _num_col(chunk, "ts")
    port = _num_col(chunk, "id.resp_p")
    keep &= np.isfinite(ts) & np.isfinite(port)
    sel = np.flatnonzero(keep)
    # addresses: only the rows kept so far are read
    hcode, htext = _text_codes(chunk["id.resp_h"], sel)
    ocode, otext = _text_codes(chunk["id.orig_h"], sel)
    ok = (hcode >= 0) & (ocode >= 0)
    if not ok.all():
        sel, hcode, ocode = sel[ok], hcode[ok], ocode[ok]
    return _server_rows(n, lab_idx, sel, ts, port, hcode, htext, ocode, otext, lambda name: _num_col(chunk, name),
                        _texts_or_none(chunk, KIND, sel), _texts_or_none(chunk, REPLY, sel))


def rows_of_labeled(labeled: LabeledChunk) -> ServerRows:
    """:class:`ServerRows` of a labeled chunk straight from its Arrow columns and per-pattern
    labels: no pandas frame, no Python string per row (the ``report`` lane).  The same rows
    as ``rows_of_frame(labeled.frame)``; chunks not parsed by Arrow go that way."""
    from .columns import ArrowColumns, JoinedColumns

    cols = labeled.columns
    labels = labeled.labels
    arrow = cols.base if isinstance(cols, JoinedColumns) else cols  # slam.log facts joined: still Arrow's
    if not isinstance(arrow, ArrowColumns) or labels is None:
        return rows_of_frame(labeled.frame)
    n = len(cols)
    missing = [name for name in ("ts", "id.orig_h", "id.resp_h", "id.resp_p") if not cols.has(name)]
    if missing:  # all of them named, as rows_of_frame names them
        raise MissingColumns(missing)
    ids = labels.patterns.ids
    lab_idx = np.array([_LABEL_INDEX.get(v.label, -1) for v in labels.verdicts], np.int64)[ids]
    kind_of = np.array([v.refusal_kind for v in labels.verdicts], dtype=object)
    if labels.errors:  # malformed rows: no label to count
        lab_idx[np.fromiter(labels.errors, np.int64)] = -1
    keep = lab_idx >= 0
    if cols.has("proto"):
        codes, uniq = _text_uniques(cols, "proto")
        keep &= (uniq == "tcp")[codes]
    if cols.has("service"):
        codes, uniq = _text_uniques(cols, "service")
        keep &= ~np.array(["ftp-data" in u for u in uniq.tolist()], bool)[codes]
    ts = cols.numbers("ts")
    port = cols.numbers("id.resp_p")
    keep &= np.isfinite(ts) & np.isfinite(port)
    sel = np.flatnonzero(keep)
    # addresses: codes into Arrow's distinct texts
    hcode, htext = _present_arrow_codes(cols, "id.resp_h", sel)
    ocode, otext = _present_arrow_codes(cols, "id.orig_h", sel)
    ok = (hcode >= 0) & (ocode >= 0)
    if not ok.all():
        sel, hcode, ocode = sel[ok], hcode[ok], ocode[ok]
    kind = kind_of[ids[sel]] if (kind_of != "").any() else None
    if kind is not None and not (kind != "").any():
        kind = None
    reply = labels.reply[sel] if labels.replied else None
    if reply is not None and not (reply != "").any():
        reply = None
    return _server_rows(n, lab_idx, sel, ts, port, hcode, htext, ocode, otext, cols.numbers, kind, reply)


def server_rows(chunks: Iterator[LabeledChunk]) -> Iterator[ServerRows]:
    """:func:`rows_of_labeled` of each chunk, in order (closing ``chunks`` when stopped early)."""
    try:
        for chunk in chunks:
            yield rows_of_labeled(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _text_uniques(cols: Columns, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``cols.codes(name)`` with the distinct values as text, as the frame path reads them
    (a header may give a text column a number type: hostile, or just odd)."""
    codes, uniq = cols.codes(name)
    # one C pass over the values (a Python loop here cost a tenth of a second per 2M rows)
    if set(map(type, uniq.tolist())) - {str}:  # a C pass over the types, no Python loop
        uniq = np.array([_text(u) for u in uniq.tolist()], dtype=object)
    return codes, uniq


def _present_codes(cols: Columns, name: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a text column at ``rows`` into its distinct texts, -1 where unset or empty."""
    codes, uniq = _text_uniques(cols, name)
    remap = np.where(uniq == "", -1, np.arange(len(uniq)))
    return remap[codes[rows]], uniq


def _present_arrow_codes(cols: Columns, name: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | pa.Array]:
    """:func:`_present_codes` into Arrow's distinct strings (no Python string per distinct
    address: a sensor's chunk has thousands); an object array where Arrow has no strings."""
    import pyarrow as pa

    from .columns import ArrowColumns, JoinedColumns

    source = cols.source(name) if isinstance(cols, JoinedColumns) else cols
    encoded = source.dictionary_codes(name) if isinstance(source, ArrowColumns) else None
    if encoded is None or not pa.types.is_string(encoded[1].type):
        return _present_codes(cols, name, rows)
    codes, dictionary = encoded
    ends, _ = string_buffers(dictionary)
    remap = np.where(np.diff(ends) == 0, -1, np.arange(len(dictionary)))  # unset (null) and empty: no length
    return remap[codes[rows]], dictionary


class ServerDiagnoser:
    """Streaming per-server diagnosis: ``add`` labeled chunks, then ``finish``.

    >>> d = ServerDiagnoser()
    >>> for chunk in label_logs(["conn.log"]):   # doctest: +SKIP
    ...     d.add(chunk)
    >>> [s.summary for s in d.finish()]          # doctest: +SKIP

    Rows that are not TCP, carry no label or the label ``malformed``, and FTP data
    connections (``service == "ftp-data"``) are counted in :attr:`skipped` and
    otherwise ignored: they say nothing about a server's door.

    State is bounded: per server a fixed set of counters, a fixed-size timeline and a
    thinned set of plot points; per client only on servers that turned someone away
    (``max_clients`` per server, ``max_pairs`` in all); pending events and session
    intervals up to ``max_pending``/``max_window``.  Endpoints that never completed a
    handshake (a port scan's targets) are counted apart from the servers and folded,
    beyond ``max_probe_servers``, into one ``host:*`` entry per host (``max_folded_hosts``).
    """

    def __init__(self, options: DiagnoseOptions | None = None, *, plot_data: bool = True, **overrides):
        opts = options or DiagnoseOptions()
        if overrides:
            opts = DiagnoseOptions(**{**asdict(opts), **overrides})
        self.options = opts
        # timelines and plot points only feed pictures (``--plot``, ``to_dict(plot_data=True)``),
        # never a verdict: without them a text or JSON report is the same and cheaper
        self.plot_data = plot_data
        self.rows = 0
        self.skipped = 0
        self._held: list[ServerRows] = []  # rows taken, not yet folded (fewer than batch_rows)
        self._nheld = 0
        # endpoints: sorted keys (host id << 16 | port) -> server slot; host ids from a dict
        # of host texts (only hosts with a live endpoint), so a chunk maps its endpoints
        # with a few numpy passes and Python work only for hosts never seen before
        self._ek = np.empty(0, np.int64)
        self._es = np.empty(0, np.int64)
        self._hid: dict[str, int] = {}
        self._hid_free: list[int] = []
        self._hid_live = np.zeros(0, np.int64)  # live endpoints per host id
        self._hname = np.empty(0, object)  # host text per host id (a slot's is _hname[s.hid[slot]])
        self._hfold = np.zeros(0, np.int64)  # folded host:* entry per host id, -1 until it has one
        self._born = 0  # endpoints created, for first-seen order
        self._n = 0  # server slots handed out (a server is never dropped)
        self.s = _Columns(_SERVER_COLS)
        # a port scan's targets, apart from the servers and cheaper: endpoints whose rows never
        # got past the SYN, as counts only, in a table of their own (sorted keys -> probe slot);
        # the first handshake makes one a server, with what it gathered
        self._pk = np.empty(0, np.int64)
        self._ps = np.empty(0, np.int64)
        self._pfree: list[int] = []
        self._pn = 0  # probe slots handed out
        self.r = _Columns(_PROBE_COLS)
        self.p = _Columns(_PAIR_COLS)
        self._pair: dict[tuple[int, str], int] = {}
        self._pair_ip: list[str] = []
        self._other_pair: dict[int, int] = {}
        self._kinds: dict[int, Counter] = {}
        self._replies: dict[int, Counter] = {}
        self._hist = _KeyCounts()  # (srv, client?, hist cat, level) -> n
        self._pair_hist = _KeyCounts()  # (pair, client?, level) -> n
        self._runs: dict[int, list[CrashWindow]] = {}
        self._open: dict[int, dict] = {}
        self.pending = _empty(_EVENT_FIELDS, _EVENT_DTYPES)
        self.window = _empty(_WINDOW_FIELDS, _WINDOW_DTYPES)
        self.samples = _Rows(_SAMPLE_FIELDS, _SAMPLE_DTYPES)
        self._unres = {"srv": np.empty(0, np.int64), "pair": np.empty(0, np.int64), "t": np.empty(0)}
        self._bins = np.zeros((0, opts.max_bins, 2), np.int32)
        self._bin_start = np.empty(0)
        self._bin_width = np.empty(0)
        self._nbinslots = 0  # timeline slots handed out
        self._free_slots: list[int] = []  # given back by a scan's targets when folded
        # folded ``host:*`` entries, in creation order
        self._fold_id: dict[str, int] = {}
        self._fold = _Columns(_FOLD_COLS)
        self.evicted = 0

    # ---- public -------------------------------------------------------------------------

    @property
    def servers(self) -> list[str]:
        """The endpoints tracked so far (``IP:PORT``), servers and a scan's targets, in first-seen order."""
        S, R, ps = self.s, self.r, self._ps
        born = np.concatenate([S.born[self._es], R.born[ps]])
        hid = np.concatenate([S.hid[self._es], R.hid[ps]])
        port = np.concatenate([S.port[self._es], R.port[ps]])
        order = np.argsort(born, kind="stable")
        return [format_endpoint(h, p) for h, p in zip(self._hname[hid[order]].tolist(),
                                                       port[order].tolist(), strict=True)]

    def state_size(self) -> dict[str, int]:
        """How much is held, for tests and benchmarks (all bounded by the options)."""
        return {
            "servers": len(self._ek),
            "probe_targets": len(self._pk),
            "pairs": len(self._pair),
            "pending": len(self.pending["t"]),
            "window": len(self.window["start"]),
            "samples": len(self.samples),
            "unresolved": len(self._unres["t"]),
            "bin_slots": self._nbinslots - len(self._free_slots),
            "folded_hosts": len(self._fold_id),
            "open_runs": len(self._open),
            "hist_keys": len(self._hist) + len(self._pair_hist),
            "held": self._nheld,
        }

    def add(self, chunk: pd.DataFrame | ServerRows) -> None:
        """Take one labeled chunk (a frame, or its :class:`ServerRows`); its rows are folded into
        the per-server state ``batch_rows`` at a time."""
        rows = chunk if isinstance(chunk, ServerRows) else rows_of_frame(chunk)
        self.rows += rows.rows
        self.skipped += rows.rows - len(rows)
        if len(rows):
            self._held.append(rows)
            self._nheld += len(rows)
        while self._nheld >= self.options.batch_rows:
            self._fold_rows(self._take_held(self.options.batch_rows))

    def _take_held(self, n: int) -> ServerRows:
        """The first ``n`` rows held, as one :class:`ServerRows`; the rest stay held."""
        parts, got = [], 0
        while got < n:
            part = self._held.pop(0)
            if got + len(part) > n:
                cut = n - got
                part, rest = part.slice(0, cut), part.slice(cut, len(part))
                self._held.insert(0, rest)
            parts.append(part)
            got += len(part)
        self._nheld -= got
        return parts[0] if len(parts) == 1 else ServerRows.concat(parts)

    def _fold_rows(self, rows: ServerRows) -> None:
        key, ids = self._endpoint_keys(rows.hcode, rows.htext, rows.port)
        opens = ~_NO_HS_LAB[rows.lab_idx]
        for texts in (rows.kind, rows.reply):  # a refusal kind or a reply is a server's word
            if texts is not None:
                opens |= texts != ""
        srv = self._servers_of(key, ids, opens)
        # clients by hash: one per distinct address of the batch (its chunks' addresses merged)
        ch = _client_hashes(rows.otext)[rows.ocode]
        probe = srv < 0
        if probe.any():
            p = np.flatnonzero(probe)
            self._probes_add(key[p], rows.lab_idx[p], rows.ts[p], rows.end[p], rows.ocode[p], len(rows.otext),
                             ch[p], rows.rc[p])
            keep = np.flatnonzero(~probe)
            rows, srv, ch = rows.take(keep), srv[keep], ch[keep]
        if len(srv):
            self._ingest(srv, rows.cat, rows.lab_idx, rows.ts, rows.end, rows.ob, rows.ocode, rows.otext, ch,
                         rows.kind, rows.reply, rows.rc, rows.oc)
        self._flush()
        self._evict()

    def finish(self, text_only: bool = False) -> list[ServerDiagnosis | TextEntry]:
        """Verdicts for every server seen, worst first.  With ``text_only`` the healthy servers
        and ``host:*`` entries whose text is their head alone come as :class:`TextEntry`: for
        :func:`~zeekslam.report.iter_text`, not for JSON, ``--why`` or a plot."""
        if self._nheld:
            self._fold_rows(self._take_held(self._nheld))
        self._fold_one_offs()
        self._flush(final=True)
        for srv in list(self._open):
            self._close_run(srv, None)
        u = self._unres
        if len(u["t"]):
            ls = self.s.last_served[u["srv"]]
            ok = (ls >= u["t"]) & (ls - u["t"] <= self.options.window)
            np.add.at(self.p.cnt[:, P_AMID], u["pair"][ok], 1)
        # tens of thousands of small acyclic objects: cyclic GC passes would only cost time
        with _gc_paused():
            out = list(self._diagnoses(text_only))
            out += self._probe_diagnoses()
            out += self._folded_diagnoses(text_only)
            return rank(out)

    def _folded_diagnoses(self, text_only: bool = False) -> list[ServerDiagnosis | TextEntry]:
        """The ``host:*`` entries, their counts taken from the columns in bulk."""
        F = self._fold
        nf = len(self._fold_id)
        cc = F.lab[:nf] @ _LAB_CATS
        shown = [pt[:n] for pt, n in zip(F.pt[:nf].tolist(), F.npt[:nf].tolist(), strict=True)]
        cols = zip(cc[:, _DOOR].sum(axis=1).tolist(), cc[:, REJECTED].tolist(), cc[:, NO_ANSWER].tolist(),
                   cc.sum(axis=1).tolist(), _count_dicts(F.lab[:nf]), F.ports[:nf].tolist(), F.first[:nf].tolist(),
                   F.last[:nf].tolist(), F.ncl[:nf].tolist(), shown, strict=True)
        make = _folded_entry if text_only else _folded_verdict
        return [make(h, *c, self.options) for h, c in zip(self._fold_id, cols, strict=True)]

    # ---- ingest -------------------------------------------------------------------------

    def _endpoint_keys(self, hcode: np.ndarray, htext: np.ndarray, port: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Endpoint key per row (host id << 16 | port), and the host ids in order of first appearance."""
        port = np.clip(port, 0, 65535)
        hu = first_seen(hcode)[1]  # host codes in order of first appearance among the kept rows
        names = _texts_at(htext, hu)
        ids = np.fromiter(map(self._hid.get, names, repeat(-1)), np.int64, len(hu))
        if (ids < 0).any():
            for i in np.flatnonzero(ids < 0).tolist():
                ids[i] = self._new_host(names[i])
        hid = np.full(len(htext), -1, np.int64)
        hid[hu] = ids
        return (hid[hcode] << 16) | port, ids

    def _servers_of(self, key: np.ndarray, ids: np.ndarray, opens: np.ndarray) -> np.ndarray:
        """Server slot per row, -1 for a scan's target: endpoints looked up in bulk, and those
        with a row that ``opens`` (got past the SYN) made servers in bulk."""
        codes, uk = first_seen(key)
        pos = np.searchsorted(self._ek, uk)
        found = pos < len(self._ek)
        found[found] = self._ek[pos[found]] == uk[found]
        slot = np.full(len(uk), -1, np.int64)
        slot[found] = self._es[pos[found]]
        if not found.all():
            new = np.zeros(len(uk), bool)
            new[codes[opens]] = True
            new &= ~found
            if new.any():
                # new servers get slots in order of (host's first appearance, port)
                nk = uk[new]
                by_id = np.argsort(ids)
                host_pos = by_id[np.searchsorted(ids[by_id], nk >> 16)]
                new_order = np.argsort(host_pos * 65536 + (nk & 0xFFFF), kind="stable")
                nk = nk[new_order]
                made = self._new_servers(nk)
                slot[np.flatnonzero(new)[new_order]] = made
                self._promote(nk, made)
        return slot[codes]

    def _new_host(self, text: str) -> int:
        if self._hid_free:
            h = self._hid_free.pop()
        else:
            h = len(self._hid)
            if h >= len(self._hid_live):
                self._hid_live = _grow(self._hid_live, max(1024, 2 * len(self._hid_live)), 0)
                self._hname = _grow(self._hname, len(self._hid_live), None)
                self._hfold = _grow(self._hfold, len(self._hid_live), -1)
        self._hid[text] = h
        self._hname[h] = text
        return h

    def _release_hosts(self, hid: np.ndarray) -> None:
        """One endpoint of each entry of ``hid`` is gone: hosts left with none give up their id."""
        np.subtract.at(self._hid_live, hid, 1)
        gone = np.unique(hid[self._hid_live[hid] == 0])
        for h in self._hname[gone].tolist():
            del self._hid[h]
        self._hname[gone] = None
        self._hfold[gone] = -1
        self._hid_free.extend(gone.tolist())

    def _new_servers(self, keys: np.ndarray) -> np.ndarray:
        """Slots for new servers (keys in creation order); a slot is never reused, so its columns
        hold their initial values already."""
        m = len(keys)
        rows = np.arange(self._n, self._n + m, dtype=np.int64)
        self._n += m
        self.s.ensure(self._n)
        S = self.s
        hid = keys >> 16
        S.hid[rows], S.port[rows] = hid, keys & 0xFFFF
        S.born[rows] = np.arange(self._born, self._born + m)
        self._born += m
        np.add.at(self._hid_live, hid, 1)
        ek = np.concatenate([self._ek, keys])
        es = np.concatenate([self._es, rows])
        order = np.argsort(ek, kind="stable")
        self._ek, self._es = ek[order], es[order]
        return rows

    # ---- a port scan's targets ----------------------------------------------------------

    def _probes_add(self, key, lab_idx, ts, end, ocode, ntexts, ch, rc) -> None:
        """Count rows of endpoints that never got past the SYN (a scan's targets)."""
        codes, uk = first_seen(key)
        pos = np.searchsorted(self._pk, uk)
        found = pos < len(self._pk)
        found[found] = self._pk[pos[found]] == uk[found]
        ps = np.empty(len(uk), np.int64)
        ps[found] = self._ps[pos[found]]
        if not found.all():
            ps[~found] = self._new_probes(uk[~found])  # in order of first appearance
        p = ps[codes]
        R = self.r
        np.add.at(R.lab.reshape(-1), p * NL + lab_idx, 1)
        np.minimum.at(R.first, p, ts)
        np.maximum.at(R.last, p, end)
        ev = _LAB_EVENT[lab_idx]  # rejected and unanswered: what a crash run would count
        if ev.any():
            pe, te = p[ev], ts[ev]
            np.minimum.at(R.efirst, pe, te)
            np.maximum.at(R.elast, pe, te)
            zeek = np.isfinite(rc[ev])
            R.zc[: self._pn] += np.bincount(pe[zeek], minlength=self._pn)
            R.cc[: self._pn] += np.bincount(pe[~zeek], minlength=self._pn)
            if self.plot_data:
                self._probe_bins(pe, te)
        _remember_first(R.nseen, R.seen, p, ch, ocode, ntexts)

    def _probe_bins(self, p: np.ndarray, t: np.ndarray) -> None:
        """Timelines of targets with two attempts or more (counted already): every one turned away."""
        R = self.r
        ok = np.isfinite(t)
        p, t = p[ok], t[ok]
        want = np.unique(p[(R.slot[p] < 0) & (R.lab[p][:, _LAB_EVENT].sum(axis=1) >= 2)])
        if len(want):
            owners, got = self._bin_slots_for(want)
            R.slot[owners] = got
        order = np.lexsort((t, p))
        p, t = p[order], t[order]
        self._bin_counts(R.slot[p], t, np.ones(len(p), np.int64))

    def _new_probes(self, keys: np.ndarray) -> np.ndarray:
        """Probe slots for new targets (keys in creation order): freed ones last-in first, then new."""
        m = len(keys)
        nf = min(m, len(self._pfree))
        rows = self._pfree[len(self._pfree) - nf :][::-1]
        del self._pfree[len(self._pfree) - nf :]
        rows += range(self._pn, self._pn + m - nf)
        self._pn += m - nf
        R = self.r
        R.ensure(self._pn)
        rows = np.asarray(rows, np.int64)
        if nf:
            R.reset(rows[:nf])
        hid = keys >> 16
        R.hid[rows], R.port[rows] = hid, keys & 0xFFFF
        R.born[rows] = np.arange(self._born, self._born + m)
        self._born += m
        np.add.at(self._hid_live, hid, 1)
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self._pk, keys[order])
        self._pk = np.insert(self._pk, at, keys[order])
        self._ps = np.insert(self._ps, at, rows[order])
        return rows

    def _drop_probes(self, at: np.ndarray) -> None:
        """Forget the targets at positions ``at`` of the sorted keys."""
        ps = self._ps[at]
        keep = np.ones(len(self._pk), bool)
        keep[at] = False
        self._pk, self._ps = self._pk[keep], self._ps[keep]
        self._pfree.extend(ps.tolist())
        self._release_hosts(self.r.hid[ps])

    def _promote(self, keys: np.ndarray, slots: np.ndarray) -> None:
        """Targets that completed a handshake at last: their counts and clients go to the new
        server slots, and their rejected or unanswered attempts open a crash run (they came
        before the first handshake, so a success after them ends it)."""
        if not len(self._pk):
            return
        at = np.searchsorted(self._pk, keys)
        hit = at < len(self._pk)
        hit[hit] = self._pk[at[hit]] == keys[hit]
        if not hit.any():
            return
        at, s = at[hit], slots[hit]
        ps = self._ps[at]
        R, S = self.r, self.s
        lab = R.lab[ps]
        cat = lab @ _LAB_CATS
        S.lab[s] += lab
        S.cat[s] += cat
        S.first[s] = np.minimum(S.first[s], R.first[ps])
        S.last[s] = np.maximum(S.last[s], R.last[ps])
        S.wm[s] = np.maximum(S.wm[s], R.last[ps])
        S.zc[s] += R.zc[ps]
        S.cc[s] += R.cc[ps]
        S.nseen[s], S.seen[s] = R.nseen[ps], R.seen[ps]  # a new slot has none yet
        S.slot[s] = R.slot[ps]  # the timeline goes on
        nev = cat[:, REJECTED] + cat[:, NO_ANSWER]
        S.nfinal[s] += nev
        ran = nev > 0
        # a success that started before the last attempt does not end the run (as when logged late)
        S.frontier[s[ran]] = R.elast[ps[ran]]
        for j in np.flatnonzero(ran).tolist():
            seen = R.seen[ps[j], : R.nseen[ps[j]]].tolist()
            self._open[int(s[j])] = {"start": float(R.efirst[ps[j]]), "end": float(R.elast[ps[j]]),
                                     "first": float(R.efirst[ps[j]]), "n": int(nev[j]), "clients": set(seen),
                                     "kinds": cat[j].tolist(), "preceded": False}
        self._drop_probes(at)

    def _live_slots(self) -> np.ndarray:
        """Tracked server slots in first-seen order."""
        return self._es[np.argsort(self.s.born[self._es], kind="stable")]

    def _ingest(self, srv, cat, lab_idx, ts, end, ob, ocode, otext, ch, kind, reply, rc, oc) -> None:
        opts, S = self.options, self.s
        ns = self._n
        np.add.at(S.cat.reshape(-1), srv * NCAT + cat, 1)  # flat views: the columns are contiguous
        np.add.at(S.lab.reshape(-1), srv * NL + lab_idx, 1)
        acc = ~_NO_HS_LAB[lab_idx]
        S.accepted[:ns] += np.bincount(srv[acc], minlength=ns)
        np.minimum.at(S.first, srv, ts)
        np.maximum.at(S.last, srv, end)
        np.maximum.at(S.wm, srv, end)
        S.rad[:ns] += np.bincount(srv[(cat == RESET) & (ob > 0)], minlength=ns)
        if kind is not None:
            for (s, text), n in Counter(zip(srv[kind != ""].tolist(), kind[kind != ""].tolist(), strict=True)).items():
                self._kinds.setdefault(s, Counter())[text] += n
        if reply is not None:
            has = reply != ""
            for (s, text), n in Counter(zip(srv[has].tolist(), reply[has].tolist(), strict=True)).items():
                c = self._replies.setdefault(s, Counter())
                text = text[: opts.max_reply_len]
                if text in c or len(c) < opts.max_replies:
                    c[text] += n
        _remember_first(S.nseen, S.seen, srv, ch, ocode, len(otext))  # distinct clients, the first _MAX_SEEN
        # per-client evidence, from a server's first accept-then-close on
        ac = _ACCEPT_CLOSE[cat]
        if ac.any():
            S.tracking[srv[ac]] = True
        tracked = S.tracking[srv]
        pair = np.full(len(srv), -1, np.int64)
        if tracked.any():
            t_idx = np.flatnonzero(tracked)
            pair[t_idx] = self._pairs_of(srv[t_idx], ocode[t_idx], otext)
            P = self.p
            pc = _PAIR_COL[cat[t_idx]]
            ok = pc >= 0
            np.add.at(P.cnt, (pair[t_idx][ok], pc[ok]), 1)
            pr, tt = pair[t_idx], ts[t_idx]
            np.minimum.at(P.first, pr, tt)
            np.maximum.at(P.last, pr, tt)
            a = ac[t_idx]
            np.minimum.at(P.fref, pr[a], tt[a])
            np.maximum.at(P.lref, pr[a], tt[a])
            sv = cat[t_idx] == SERVED
            np.minimum.at(P.fsrv, pr[sv], tt[sv])
            np.maximum.at(P.lsrv, pr[sv], tt[sv])
        held = _HELD[cat] & (end > ts)
        if held.any():
            self.window = _cat(
                self.window, {"srv": srv[held], "start": ts[held], "end": end[held], "ch": ch[held]}
            )
        ev = _EVENT[cat]
        if ev.any():
            tout = np.where((cat == RESET) | (cat == ABORTED), end, ts)
            new = {
                "srv": srv[ev],
                "t": ts[ev],
                "tout": tout[ev],
                "ch": ch[ev],
                "pair": pair[ev],
                "cat": cat[ev].astype(np.int8),
                "rc": rc[ev],
                "oc": oc[ev],
            }
            self.pending = _cat(self.pending, new)

    def _pairs_of(self, srv: np.ndarray, ocode: np.ndarray, otext: np.ndarray) -> np.ndarray:
        opts, S, P = self.options, self.s, self.p
        codes, uniq = first_seen(srv * len(otext) + ocode)  # (server, client) in order of first appearance
        out = np.empty(len(uniq), np.int64)
        n0 = len(self._pair_ip)
        new_srv = []  # server of each pair made here (ids n0, n0 + 1, ...)
        ips = _texts_at(otext, uniq % len(otext))
        for i, (s, ip) in enumerate(zip((uniq // len(otext)).tolist(), ips, strict=True)):
            pid = self._pair.get((s, ip))
            if pid is None:
                if S.npairs[s] < opts.max_clients and len(self._pair) < opts.max_pairs:
                    pid = len(self._pair_ip)
                    new_srv.append(s)
                    self._pair[(s, ip)] = pid
                    self._pair_ip.append(ip)
                    S.npairs[s] += 1
                else:
                    pid = self._other_pair.get(s)
                    if pid is None:
                        pid = len(self._pair_ip)
                        new_srv.append(s)
                        self._other_pair[s] = pid
                        self._pair_ip.append("(other clients)")
            out[i] = pid
        if new_srv:  # their columns, in bulk
            P.ensure(len(self._pair_ip))
            P.reset(slice(n0, len(self._pair_ip)))
            P.srv[n0 : len(self._pair_ip)] = new_srv
        return out[codes]

    # ---- finalization -------------------------------------------------------------------

    def _flush(self, final: bool = False) -> None:
        opts, S = self.options, self.s
        p = self.pending
        n = len(p["t"])
        if n:
            if final:
                ready = np.ones(n, bool)
            else:
                ready = p["tout"] <= S.wm[p["srv"]] - opts.horizon
                waiting = n - int(ready.sum())
                if waiting > opts.max_pending:
                    keep = opts.max_pending // 2
                    cutoff = np.partition(p["tout"], n - keep - 1)[n - keep - 1]
                    ready |= p["tout"] <= cutoff
            if ready.any():
                # the batch in (server, tout) order, ties in arrival order: one take
                idx = np.flatnonzero(ready)
                idx = idx[np.lexsort((p["tout"][idx], p["srv"][idx]))]
                batch = _take(p, idx)
                self.pending = _take(p, ~ready)
                self._finalize(batch)
        self._trim_window()

    def _trim_window(self) -> None:
        w = self.window
        if not len(w["start"]):
            return
        opts, S = self.options, self.s
        cutoff = S.wm[: self._n] - opts.horizon
        if len(self.pending["t"]):
            np.minimum.at(cutoff, self.pending["srv"], self.pending["t"])
        keep = w["end"] > cutoff[w["srv"]]
        if not keep.all():
            w = _take(w, keep)
        if len(w["start"]) > opts.max_window:
            w = _take(w, np.argsort(w["end"], kind="stable")[-opts.max_window :])
        self.window = w

    def _finalize(self, b: dict[str, np.ndarray]) -> None:
        """Count concurrency and fold a batch of events, sorted by (server, tout), into the state."""
        S = self.s
        srv, t, tout, cat = b["srv"], b["t"], b["tout"], b["cat"].astype(np.int64)
        rc, oc = b["rc"].copy(), b["oc"].copy()
        w = self.window
        hs = _HIST_SLOT[cat]
        # a concurrency is only read for the histograms' categories (and, the total one, by the
        # plot's samples): the rest (a scan's rejected and unanswered probes, mostly) is not counted
        used = hs >= 0
        S.zc[: self._n] += np.bincount(srv[np.isfinite(rc)], minlength=self._n)
        need = ~np.isfinite(rc)
        S.cc[: self._n] += np.bincount(srv[need], minlength=self._n)
        if not self.plot_data:
            need &= used
        counted = need  # rows whose rc is counted here, from the same window as oc
        if need.any():
            rc[need] = _open_counts(w["srv"], w["start"], w["end"], srv[need], t[need])
        need = ~np.isfinite(oc) & used
        # the same client's sessions are some of all sessions: where none was open, none of its own
        # was (most accepts on most servers: 87% of them in the benchmark's log)
        alone = need & counted & (rc == 0)
        oc[alone] = 0.0
        need &= ~alone
        if need.any():
            # the queries numbered first: their groups then go in server order, as the batch does,
            # so the lookups of one server stay in one stretch of the sorted keys (cache-friendly)
            # only the sessions of servers still asked about
            asked = np.zeros(self._n, bool)
            asked[srv[need]] = True
            wk = np.flatnonzero(asked[w["srv"]])
            grp = _group_codes(np.concatenate([srv[need], w["srv"][wk]]), np.concatenate([b["ch"][need], w["ch"][wk]]))
            nq = int(need.sum())
            oc[need] = _open_counts(grp[nq:], w["start"][wk], w["end"][wk], grp[:nq], t[need])

        # concurrency histograms (total and same-client) per category
        keys = []
        for which, conc in ((0, rc), (1, oc)):
            m = used & np.isfinite(conc)
            lvl = np.minimum(conc[m], 65535).astype(np.int64)
            keys.append((srv[m] << 20) | (which << 19) | (hs[m] << 16) | lvl)
        self._hist.add(np.concatenate(keys))
        ac = _ACCEPT_CLOSE[cat] & (b["pair"] >= 0)
        if ac.any():
            keys = []
            for which, conc in ((0, rc), (1, oc)):
                m = ac & np.isfinite(conc)
                keys.append((b["pair"][m] << 17) | (which << 16) | np.minimum(conc[m], 65535).astype(np.int64))
            self._pair_hist.add(np.concatenate(keys))

        np.add.at(S.nfinal, srv, 1)
        if self.plot_data:
            self._bins_add(srv, tout, cat)
            self._samples_add(srv, t, rc, cat)
        self._amid(srv, tout, cat, b["pair"])
        self._runs_add(srv, t, tout, cat, b["ch"])
        np.maximum.at(S.frontier, srv, tout)

    # ---- timeline bins ------------------------------------------------------------------

    def _bins_add(self, srv, tout, cat) -> None:
        S = self.s
        door = _DOOR[cat]
        rel = (cat == SERVED) | door
        fin = rel & np.isfinite(tout)
        if not fin.any():
            return
        srv, tout, door = srv[fin], tout[fin], door[fin]
        # a fixed-size timeline for servers with at least two events
        want = np.unique(srv[(S.slot[srv] < 0) & (S.nfinal[srv] >= 2)])
        if len(want):
            owners, got = self._bin_slots_for(want)
            S.slot[owners] = got
        self._bin_counts(S.slot[srv], tout, door)

    def _bin_counts(self, slot: np.ndarray, tout: np.ndarray, door: np.ndarray) -> None:
        """Count events into timeline slots ``slot`` (-1: none); rows sorted by (slot, tout)."""
        m = slot >= 0
        if not m.any():
            return
        slot, tout, door = slot[m], tout[m], door[m]
        start, width, nb = self._bin_start, self._bin_width, self.options.max_bins
        # per-slot range of this batch (all rows of a slot, as the rebin needs them); the
        # batch is sorted by (server, tout), so a slot's rows are one run, in time order
        head = np.r_[True, slot[1:] != slot[:-1]]
        first = np.flatnonzero(head)
        us, inv = slot[first], np.cumsum(head) - 1
        lo, hi = tout[first], tout[np.r_[first[1:], len(slot)] - 1]
        unset = np.isnan(start[us])
        if unset.any():
            su = us[unset]
            start[su] = np.floor(lo[unset] / width[su]) * width[su]
        # (a hostile time of 1e300 is past int64 here: the cast gives a number out of range,
        # which the rebin and the clip below take care of, and no warning is worth printing)
        with np.errstate(invalid="ignore"):
            idx = np.floor((tout - start[slot]) / width[slot]).astype(np.int64)
        bad = (idx < 0) | (idx >= nb)
        if bad.any():
            hit = np.zeros(len(us), bool)
            hit[inv[bad]] = True
            self._rebin(us[hit], lo[hit], hi[hit])
            with np.errstate(invalid="ignore"):
                idx = np.floor((tout - start[slot]) / width[slot]).astype(np.int64)
        flat = (slot * nb + np.clip(idx, 0, nb - 1)) * 2 + door
        np.add.at(self._bins.reshape(-1), flat, 1)  # _bins is contiguous: a view

    def _bin_slots_for(self, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Timeline slots for ``want`` (ascending): freed slots first (last freed first), then new
        ones while ``max_bin_slots`` lasts.  Returns the owners served and their slots."""
        opts = self.options
        nfree = min(len(self._free_slots), len(want))
        got = self._free_slots[len(self._free_slots) - nfree :][::-1]
        del self._free_slots[len(self._free_slots) - nfree :]
        nnew = max(min(len(want) - nfree, opts.max_bin_slots - self._nbinslots), 0)
        got += range(self._nbinslots, self._nbinslots + nnew)
        owners = want[: len(got)]
        self._nbinslots += nnew
        if self._nbinslots > len(self._bins):
            cap = max(64, len(self._bins))
            while cap < self._nbinslots:
                cap *= 2
            self._bins = _grow(self._bins, cap, 0)
            self._bin_start = _grow(self._bin_start, cap, np.nan)
            self._bin_width = _grow(self._bin_width, cap, opts.bin_width)
        got = np.asarray(got, np.int64)
        self._bins[got] = 0
        self._bin_start[got] = np.nan
        self._bin_width[got] = opts.bin_width
        return owners, got

    def _rebin(self, slots: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Widen (x2) and shift the timelines of ``slots`` until [lo, hi] and every used bin fit."""
        nb = self.options.max_bins
        start, width = self._bin_start[slots], self._bin_width[slots]
        old = self._bins[slots]
        used = (old[:, :, 0] | old[:, :, 1]) != 0  # counts are >= 0
        anyu = used.any(axis=1)
        first = np.argmax(used, axis=1)
        last = nb - 1 - np.argmax(used[:, ::-1], axis=1)
        lo = np.where(anyu, np.minimum(lo, start + width * first), lo)
        hi = np.where(anyu, np.maximum(hi, start + width * (last + 1)), hi)
        new_width = width.copy()
        new_start = np.floor(lo / new_width) * new_width
        todo = ~(hi < new_start + new_width * nb)
        while todo.any():
            new_width[todo] *= 2
            new_start[todo] = np.floor(lo[todo] / new_width[todo]) * new_width[todo]
            todo &= ~(hi < new_start + new_width * nb)
        # move each used bin by its centre
        centers = start[:, None] + (np.arange(nb) + 0.5) * width[:, None]
        nidx = np.clip(np.floor((centers - new_start[:, None]) / new_width[:, None]).astype(np.int64), 0, nb - 1)
        r, j = np.nonzero(used)
        new = np.zeros_like(old)
        np.add.at(new, (r, nidx[r, j]), old[r, j])
        self._bins[slots] = new
        self._bin_start[slots], self._bin_width[slots] = new_start, new_width

    # ---- plot points --------------------------------------------------------------------

    def _samples_add(self, srv, t, rc, cat) -> None:
        opts, S = self.options, self.s
        door = _DOOR[cat] | (cat == REPLY_ONLY)
        rel = ((cat == SERVED) | door) & (S.accepted[srv] > 0)
        if not rel.any():
            return
        srv, t, rc, cat, door = srv[rel], t[rel], rc[rel], cat[rel], door[rel]
        st = door.astype(np.int64)
        grp = srv * 2 + st
        order = np.argsort(grp, kind="stable")
        g_sorted = grp[order]
        starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
        rank_in = np.arange(len(g_sorted)) - np.repeat(starts, np.diff(np.r_[starts, len(g_sorted)]))
        rank = np.empty(len(grp), np.int64)
        rank[order] = rank_in
        idx = S.seenpts[srv, st] + rank
        keep = idx % S.stride[srv, st] == 0
        np.add.at(S.seenpts, (srv, st), 1)
        np.add.at(S.kept, (srv, st), keep.astype(np.int64))
        self.samples.append(
            {"srv": srv[keep], "t": t[keep], "c": rc[keep].astype(np.float32), "k": cat[keep].astype(np.int8),
             "door": door[keep]},
        )
        caps = np.array([opts.sample_served, opts.sample_points])
        over = S.kept[: self._n] > caps
        while over.any():
            sm = self.samples.view()
            grp = sm["srv"] * 2 + sm["door"]
            hit = over.ravel()[grp] & self.samples.alive[: len(grp)]
            order = np.flatnonzero(hit)
            order = order[np.argsort(grp[order], kind="stable")]
            g_sorted = grp[order]
            starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
            rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
            self.samples.kill(order[rank % 2 == 1])
            S.stride[: self._n][over] *= 2
            S.kept[: self._n][over] = (S.kept[: self._n][over] + 1) // 2
            over = S.kept[: self._n] > caps

    # ---- allow-list evidence ------------------------------------------------------------

    def _amid(self, srv, tout, cat, pair) -> None:
        """Count accept-then-close events that had a success by someone within `window` s."""
        pad, S, P = self.options.window, self.s, self.p
        served = cat == SERVED
        sv_srv, sv_t = srv[served], tout[served]
        base = float(np.nanmin(tout)) if len(tout) else 0.0

        def key(s, x):
            off = np.clip(np.rint((x - base + 1.0) * 1e6), 0, _TMAX).astype(np.int64)
            return (s << _TSHIFT) | off

        ks = key(sv_srv, sv_t)  # sorted: the batch is sorted by (srv, tout)
        u = self._unres
        if len(u["t"]):
            # earlier refusals still waiting for the next success at their server
            if len(ks):
                pos = np.minimum(np.searchsorted(ks, u["srv"] << _TSHIFT, "left"), len(ks) - 1)
                has = sv_srv[pos] == u["srv"]
                nt = np.where(has, sv_t[pos], np.inf)
            else:
                has = np.zeros(len(u["t"]), bool)
                nt = np.full(len(u["t"]), np.inf)
            hit = has & (nt - u["t"] <= pad)
            np.add.at(P.cnt[:, P_AMID], u["pair"][hit], 1)
            alive = ~has & (S.frontier[u["srv"]] <= u["t"] + pad)
            self._unres = {k: v[alive] for k, v in u.items()}
        a = np.flatnonzero(_ACCEPT_CLOSE[cat] & (pair >= 0))
        if len(a):
            a_srv, a_t, a_pair = srv[a], tout[a], pair[a]
            ka = key(a_srv, a_t)
            if len(ks):
                lo = np.searchsorted(ks, ka, "left") - 1
                ok_prev = (lo >= 0) & (sv_srv[np.maximum(lo, 0)] == a_srv)
                prev_t = np.where(ok_prev, sv_t[np.maximum(lo, 0)], S.last_served[a_srv])
                hi = np.searchsorted(ks, ka, "right")
                has_next = (hi < len(ks)) & (sv_srv[np.minimum(hi, len(ks) - 1)] == a_srv)
                next_t = np.where(has_next, sv_t[np.minimum(hi, len(ks) - 1)], np.inf)
            else:
                prev_t = S.last_served[a_srv]
                has_next = np.zeros(len(a), bool)
                next_t = np.full(len(a), np.inf)
            amid = (a_t - prev_t <= pad) | (next_t - a_t <= pad)
            np.add.at(P.cnt[:, P_AMID], a_pair[amid], 1)
            wait = ~amid & ~has_next
            if wait.any():
                self._unres = _cat(self._unres, {"srv": a_srv[wait], "pair": a_pair[wait], "t": a_t[wait]})
                if len(self._unres["t"]) > 100_000:
                    self._unres = _take(self._unres, slice(-100_000, None))
        if len(sv_srv):
            np.maximum.at(S.last_served, sv_srv, sv_t)

    # ---- crash windows ------------------------------------------------------------------

    def _runs_add(self, srv, t, tout, cat, ch) -> None:
        """Crash windows: maximal time-ordered runs of reset/rejected/unanswered events per server."""
        S = self.s
        # a success logged long after its accept (a long session) says nothing about the
        # time already analysed: it must not split a run it did not interrupt
        late = _CRASH_BREAK[cat] & (tout < S.frontier[srv])
        rel = (_CRASH_FAIL[cat] | _CRASH_BREAK[cat]) & ~late
        if not rel.any():
            return
        srv, t, tout, cat, ch = srv[rel], t[rel], tout[rel], cat[rel], ch[rel]
        n = len(srv)
        brk = _CRASH_BREAK[cat]
        ok = cat == SERVED
        new_srv = np.r_[True, srv[1:] != srv[:-1]]
        seg = np.cumsum(brk | new_srv) - 1
        nseg = int(seg[-1]) + 1
        seg_first = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])  # first row of each segment
        seg_srv = srv[seg_first]
        # the break that ends a segment opens the next segment of the same server
        nxt = np.r_[seg_first[1:], n]
        closed = np.r_[seg_srv[1:] == seg_srv[:-1], False]
        nxt_row = np.minimum(nxt, n - 1)
        recovered = np.where(closed & ok[nxt_row], tout[nxt_row], np.nan)
        # successes up to and including the row that opened the segment, per server
        cum_ok = np.cumsum(ok)
        grp_start = np.flatnonzero(new_srv)
        grp_of_row = np.cumsum(new_srv) - 1
        before_grp = np.r_[0, cum_ok][grp_start][grp_of_row[seg_first]]
        served_before = cum_ok[seg_first] - before_grp
        fail = ~brk
        fs = seg[fail]
        cnt = np.bincount(fs, minlength=nseg)
        affected = np.where((cat == RESET) | (cat == SILENT), t, tout)[fail]
        start = np.full(nseg, np.inf)
        end = np.full(nseg, -np.inf)
        first = np.full(nseg, np.inf)
        np.minimum.at(start, fs, tout[fail])
        np.maximum.at(end, fs, tout[fail])
        np.minimum.at(first, fs, affected)
        kinds = np.bincount(fs * NCAT + cat[fail], minlength=nseg * NCAT).reshape(nseg, NCAT)
        pairs = _first_pairs(fs, ch[fail])
        first_of_srv = new_srv[seg_first]
        starts_brk = brk[seg_first]
        last_of_srv = ~np.r_[seg_srv[1:] == seg_srv[:-1], False]
        # a carried run ends at a break that opens its server's rows in this batch
        carried = np.zeros(nseg, bool)
        if self._open:
            is_open = np.isin(seg_srv, np.fromiter(self._open, np.int64, len(self._open)))
            for i in np.flatnonzero(first_of_srv & starts_brk & is_open).tolist():
                r0 = seg_first[i]
                self._close_run(int(seg_srv[i]), float(tout[r0]) if ok[r0] else None)
            carried = first_of_srv & ~starts_brk & is_open
        mc = self.options.min_crash_events
        look = np.flatnonzero((cnt > 0) & (carried | last_of_srv | (closed & (cnt >= mc))))
        # the segments' numbers as Python values, read once (one loop step per segment)
        p_lo = np.searchsorted(pairs[0], look).tolist()
        p_hi = np.searchsorted(pairs[0], look + 1).tolist()
        l_srv = seg_srv[look].tolist()
        l_pre = (S.seen_success[seg_srv[look]] | (starts_brk[look] & (served_before[look] > 0))).tolist()
        l_carried, l_closed = carried[look].tolist(), closed[look].tolist()
        l_start, l_end, l_first = start[look].tolist(), end[look].tolist(), first[look].tolist()
        l_cnt, l_rec, l_kinds = cnt[look].tolist(), recovered[look].tolist(), kinds[look].tolist()
        clients = pairs[1]
        for j, s in enumerate(l_srv):
            run = self._open.pop(s, None) if l_carried[j] else None
            if run is None:  # most runs: a new one, made in one step
                run = {"start": min(np.inf, l_start[j]), "end": max(-np.inf, l_end[j]),
                       "first": min(np.inf, l_first[j]), "n": l_cnt[j],
                       "clients": set(clients[p_lo[j] : p_hi[j]][:_RUN_CLIENTS].tolist()),
                       "kinds": l_kinds[j], "preceded": l_pre[j]}
            else:
                run["start"] = min(run["start"], l_start[j])
                run["end"] = max(run["end"], l_end[j])
                run["first"] = min(run["first"], l_first[j])
                run["n"] += l_cnt[j]
                run["kinds"] = [a + b for a, b in zip(run["kinds"], l_kinds[j], strict=True)]
                if len(run["clients"]) < _RUN_CLIENTS:
                    run["clients"].update(clients[p_lo[j] : p_hi[j]][:_RUN_CLIENTS].tolist())
            self._open[s] = run
            if l_closed[j]:
                rec = l_rec[j]
                self._close_run(s, None if math.isnan(rec) else rec)
        S.seen_success[srv[ok]] = True

    def _close_run(self, s: int, recovered_at: float | None) -> None:
        run = self._open.pop(s, None)
        opts = self.options
        if run is None or run["n"] < opts.min_crash_events:
            return
        nclients = len(run["clients"])
        if nclients < 2 and self.s.nseen[s] > 1:
            return  # one client reset again and again is not "everyone"
        if not run["preceded"] and recovered_at is None:
            return
        kinds = {CATEGORY_NAMES[k]: int(v) for k, v in enumerate(run["kinds"]) if v}
        runs = self._runs.setdefault(s, [])
        runs.append(
            CrashWindow(
                start=run["start"],
                end=run["end"],
                events=run["n"],
                door_events=run["n"] - kinds.get("aborted", 0),
                clients=nclients,
                kinds=kinds,
                preceded_by_success=bool(run["preceded"]),
                recovered_at=recovered_at,
                first_affected=run["first"],
            )
        )
        if len(runs) > 16:
            runs.sort(key=lambda w: -w.events)
            del runs[16:]

    # ---- bounded endpoints --------------------------------------------------------------

    def _evict(self) -> None:
        """Fold a scan's targets, beyond the cap, into per-host entries: the least recent first."""
        opts, R = self.options, self.r
        count = len(self._pk)
        if count <= opts.max_probe_servers:
            return
        ps = self._ps
        k = count - (opts.max_probe_servers * 3) // 4
        last = R.last[ps]
        at = np.flatnonzero(last <= np.partition(last, k - 1)[k - 1])  # the k least recent, and ties
        self._fold_probes(at[np.lexsort((R.born[ps[at]], last[at]))[:k]])

    def _fold_one_offs(self) -> None:
        """At the end: targets tried once, of a host with another such target or a ``host:*``
        entry already, join that entry (a port scan's footprint; a port tried twice or more,
        or the only one of its host, keeps its own entry), least recent first."""
        R, ps = self.r, self._ps
        once = np.flatnonzero(R.lab[ps].sum(axis=1) == 1)
        if not len(once):
            return
        hid = R.hid[ps[once]]
        many = np.bincount(hid, minlength=len(self._hfold))[hid] >= 2
        has_entry = np.fromiter(map(self._fold_id.__contains__, self._hname[hid].tolist()), bool, len(hid))
        at = once[many | has_entry]
        if len(at):
            self._fold_probes(at[np.lexsort((R.born[ps[at]], R.last[ps[at]]))])

    def _fold_probes(self, at: np.ndarray) -> None:
        """Fold the targets at positions ``at`` of the sorted keys, in that order, into ``host:*`` entries."""
        opts, R = self.options, self.r
        victims = self._ps[at]
        # each victim's host entry, made in the order hosts first appear (past the cap: one pooled entry)
        codes, hids = first_seen(R.hid[victims])  # host ids: one per live host text, and ints
        fids = self._hfold[hids]
        F = self._fold
        made = len(self._fold_id)
        for i in np.flatnonzero(fids < 0).tolist():  # hosts not folded before (or not since their id)
            host = self._hname[hids[i]]
            fid = self._fold_id.get(host)
            if fid is None and len(self._fold_id) >= opts.max_folded_hosts:
                host = "(other hosts)"
                fid = self._fold_id.get(host)
            if fid is None:
                fid = self._fold_id[host] = len(self._fold_id)
            fids[i] = fid
        self._hfold[hids] = fids
        if len(self._fold_id) > made:
            F.ensure(len(self._fold_id))
            F.reset(slice(made, len(self._fold_id)))
        fv = fids[codes]
        _add_rows(F.lab, fv, R.lab[victims])
        F.ports[: len(self._fold_id)] += np.bincount(fv, minlength=len(self._fold_id))
        np.minimum.at(F.first, fv, R.first[victims])
        np.maximum.at(F.last, fv, R.last[victims])
        self._fold_clients(fv, R.nseen[victims], R.seen[victims])
        port = R.port[victims]
        _remember_first(F.npt, F.pt, fv, port, port, 65536)  # the first ports folded
        slots = R.slot[victims]
        self._free_slots += slots[slots >= 0].tolist()
        self._drop_probes(at)
        self.evicted += len(victims)

    def _fold_clients(self, fv: np.ndarray, nseen: np.ndarray, seen: np.ndarray) -> None:
        """Distinct clients of each ``host:*`` entry: its own, then the victims', the first _MAX_SEEN."""
        got = np.arange(_MAX_SEEN) < nseen[:, None]
        f = np.broadcast_to(fv[:, None], got.shape)[got]  # victim order, then each victim's order
        _remember_first(self._fold.ncl, self._fold.cl, f, seen[got])

    def _timelines(self, tl_slot: np.ndarray) -> list[dict]:
        """The timeline of each timeline slot in ``tl_slot`` (-1: an empty one), cut to its used bins."""
        opts = self.options
        has_tl = tl_slot >= 0
        used = np.zeros((len(tl_slot), opts.max_bins), bool)
        bins = self._bins[tl_slot[has_tl]]
        used[has_tl] = (bins[:, :, 0] | bins[:, :, 1]) != 0  # counts are >= 0
        anyu = used.any(axis=1).tolist()
        i0s = np.argmax(used, axis=1).tolist()
        i1s = (opts.max_bins - np.argmax(used[:, ::-1], axis=1)).tolist()
        out = []
        for j, sl in enumerate(tl_slot.tolist()):
            if not anyu[j]:
                out.append({"start": math.nan, "width": opts.bin_width, "served": _NO_INT, "turned_away": _NO_INT})
                continue
            i0, i1 = i0s[j], i1s[j]
            width = float(self._bin_width[sl])
            bins = self._bins[sl]
            out.append({
                "start": float(self._bin_start[sl]) + i0 * width,
                "width": width,
                "served": bins[i0:i1, 0].copy(),
                "turned_away": bins[i0:i1, 1].copy(),
            })
        return out

    def _probe_diagnoses(self) -> Iterator[ServerDiagnosis]:
        """The verdict on every scan target still tracked (first seen first): closed or filtered."""
        R, opts = self.r, self.options
        ps = self._ps[np.argsort(R.born[self._ps], kind="stable")]
        lab = R.lab[ps]
        labs = lab.tolist()
        label_order = np.argsort(-lab, axis=1, kind="stable").tolist()  # as Counter.most_common
        cats = (lab @ _LAB_CATS).tolist()
        cols = zip(self._hname[R.hid[ps]].tolist(), R.port[ps].tolist(), R.first[ps].tolist(), R.last[ps].tolist(),
                   R.nseen[ps].tolist(), R.zc[ps].tolist(), R.cc[ps].tolist(), strict=True)
        timelines = self._timelines(R.slot[ps]) if self.plot_data else None
        for j, (host, port, first, last, nseen, zc, cc) in enumerate(cols):
            counts = labs[j]
            labels = {LABELS[i]: counts[i] for i in label_order[j] if counts[i]}
            if timelines is None:
                timeline, samples = {}, {}
            else:  # never accepted: no session, so no plot points (as for a server, only its timeline)
                timeline = timelines[j]
                samples = {"t": np.empty(0), "concurrency": np.empty(0, np.float32), "category": np.empty(0, np.int8)}
            yield _probe_verdict(host, port, cats[j], labels, first, last, nseen, 0, zc, cc, timeline, samples, opts)

    # ---- views for the verdict ----------------------------------------------------------

    def _diagnoses(self, text_only: bool = False) -> Iterator[ServerDiagnosis | TextEntry]:
        """The verdict on every server (a scan's targets are :meth:`_probe_diagnoses`)."""
        S, P, opts = self.s, self.p, self.options
        slots = self._live_slots()
        # concurrency histograms: sorted keys, one slice per server (most servers have none)
        hk, hv = self._hist.k, self._hist.v
        h_lo = np.searchsorted(hk, slots << 20).tolist()
        h_hi = np.searchsorted(hk, (slots + 1) << 20).tolist()
        hk_l, hv_l = hk.tolist(), hv.tolist()
        # a healthy server's successes, total and same-client: the first keys of its two halves
        # (category slot 0), levels ascending; read straight from the lists (no Counter)
        lvl_l = (hk & 0xFFFF).tolist()
        served_at = [np.searchsorted(hk, (slots << 20) | (which << 19) | (k << 16)).tolist()
                     for which in (0, 1) for k in (0, 1)]
        # clients: pair ids grouped by server (in id order), pair histograms by pair id
        npair = len(self._pair_ip)
        by_srv = np.argsort(P.srv[:npair], kind="stable")
        p_lo = np.searchsorted(P.srv[:npair][by_srv], slots).tolist()
        p_hi = np.searchsorted(P.srv[:npair][by_srv], slots, "right").tolist()
        by_srv = by_srv.tolist()
        pk, pv = self._pair_hist.k, self._pair_hist.v
        pids = np.arange(npair, dtype=np.int64)
        ph_lo = np.searchsorted(pk, pids << 17).tolist()
        ph_hi = np.searchsorted(pk, (pids + 1) << 17).tolist()
        pcnt = np.zeros((npair, NCAT), np.int64)  # each pair's counts by category
        for k, col in ((SERVED, P_SERVED), (REFUSED, P_AC), (REJECTED, P_REJ), (NO_ANSWER, P_NOANS), (SILENT, P_OTHER)):
            pcnt[:, k] = P.cnt[:npair, col]
        pairs = _Pairs(self._pair_ip, pcnt, P.cnt[:npair, P_AMID].tolist(),
                       [P.first[:npair].tolist(), P.last[:npair].tolist(), P.fref[:npair].tolist(),
                        P.lref[:npair].tolist(), P.fsrv[:npair].tolist(), P.lsrv[:npair].tolist()],
                       pk, pv, ph_lo, ph_hi)
        # plot points and timelines
        sm = self.samples.live()
        sm = _take(sm, np.argsort(sm["srv"], kind="stable"))
        s_lo = np.searchsorted(sm["srv"], slots).tolist()
        s_hi = np.searchsorted(sm["srv"], slots, "right").tolist()
        timelines = self._timelines(S.slot[slots]) if self.plot_data else None
        labs = S.lab[slots].tolist()
        # label counts, most common first (ties in label order, as Counter.most_common): one sort
        label_order = np.argsort(-S.lab[slots], axis=1, kind="stable").tolist()
        cats = S.cat[slots]
        cat_l = cats.tolist()
        # servers with no door event, no refusal kind and too few reply-only hang-ups to make a
        # limit: healthy, through a shorter path (most servers of a sensor)
        healthy = ((cats[:, _DOOR].sum(axis=1) == 0) & (cats[:, REPLY_ONLY] < opts.min_refusals)
                   & (np.asarray(p_hi) == np.asarray(p_lo))).tolist()
        sv = [S.first[slots].tolist(), S.last[slots].tolist(), S.accepted[slots].tolist(), S.rad[slots].tolist(),
              S.zc[slots].tolist(), S.cc[slots].tolist(), S.nseen[slots].tolist(), S.port[slots].tolist()]
        hosts = self._hname[S.hid[slots]].tolist()
        for j, s in enumerate(slots.tolist()):
            if timelines is None:
                timeline, samples = {}, {}
            else:
                timeline = timelines[j]
                lo, hi = s_lo[j], s_hi[j]
                samples = {"t": sm["t"][lo:hi], "concurrency": sm["c"][lo:hi], "category": sm["k"][lo:hi]}
            counts = labs[j]
            labels = {LABELS[i]: counts[i] for i in label_order[j] if counts[i]}
            if healthy[j] and s not in self._kinds:
                if text_only and s not in self._runs:  # its text: the head alone
                    yield TextEntry(hosts[j], sv[7][j], "healthy", *_healthy_words(hosts[j], sv[7][j], cat_l[j]), 0,
                                    0, labels, sv[0][j], sv[1][j])
                    continue
                a, b, c, e = served_at[0][j], served_at[1][j], served_at[2][j], served_at[3][j]
                yield _healthy_verdict(
                    hosts[j], sv[7][j], cat_l[j], labels, sv[0][j], sv[1][j], self._replies.get(s, _EMPTY),
                    self._runs.get(s, []), dict(zip(lvl_l[a:b], hv_l[a:b])), dict(zip(lvl_l[c:e], hv_l[c:e])),
                    sv[3][j], sv[4][j], sv[5][j], timeline, samples,
                )
                continue
            conc, cconc = _NO_CONC, _NO_CONC
            if h_hi[j] > h_lo[j]:
                conc, cconc = list(_NO_CONC), list(_NO_CONC)  # empty ones shared, never mutated
                for key, v in zip(hk_l[h_lo[j] : h_hi[j]], hv_l[h_lo[j] : h_hi[j]], strict=True):
                    which = cconc if (key >> 19) & 1 else conc
                    c = _HIST_CATS[(key >> 16) & 7]
                    if which[c] is _EMPTY:
                        which[c] = Counter()
                    which[c][key & 0xFFFF] = v
            clients, other, pooled = [], None, self._other_pair.get(s)
            for pid in by_srv[p_lo[j] : p_hi[j]]:
                if pid == pooled:
                    other = _ClientView(pairs, pid)
                else:
                    clients.append(_ClientView(pairs, pid))
            yield _verdict(_View(
                host=hosts[j], port=sv[7][j], opts=opts, cat_counts=cats[j],
                labels=labels,
                kinds=self._kinds.get(s, _EMPTY), replies=self._replies.get(s, _EMPTY),
                first=sv[0][j], last=sv[1][j], accepted=sv[2][j],
                reset_after_data=sv[3][j], zeek_conc=sv[4][j], computed_conc=sv[5][j],
                clients=clients, other=other, conc=conc, cconc=cconc,
                runs=list(self._runs.get(s, [])), nclients=sv[6][j], timeline=timeline, samples=samples,
            ))


class _KeyCounts:
    """Counts by int64 key, held as sorted arrays and merged a batch at a time."""

    def __init__(self) -> None:
        self.k = np.empty(0, np.int64)
        self.v = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.k)

    def add(self, keys: np.ndarray) -> None:
        # the distinct keys by Arrow's hash table, then only they are sorted: a batch has few
        # (np.unique, a sort of every key, took ~1.7x as long)
        codes, u = first_seen(keys)
        c = np.bincount(codes, minlength=len(u))
        order = np.argsort(u)
        u, c = u[order], c[order]
        pos = np.searchsorted(self.k, u)
        hit = pos < len(self.k)
        hit[hit] = self.k[pos[hit]] == u[hit]
        self.v[pos[hit]] += c[hit]  # keys are unique: no repeated index
        if not hit.all():
            self.k = np.insert(self.k, pos[~hit], u[~hit])
            self.v = np.insert(self.v, pos[~hit], c[~hit])


class _Pairs:
    """The (server, client) pairs' columns at verdict time, as :class:`_ClientView` reads them."""

    __slots__ = ("ip", "counts", "amid", "first", "last", "first_refused", "last_refused", "first_served",
                 "last_served", "hist_keys", "hist_counts", "hist_lo", "hist_hi")

    def __init__(self, ip: list[str], counts: np.ndarray, amid: list[int], times: list[list[float]],
                 hist_keys: np.ndarray, hist_counts: np.ndarray, hist_lo: list[int], hist_hi: list[int]) -> None:
        self.ip, self.counts, self.amid = ip, counts, amid
        (self.first, self.last, self.first_refused, self.last_refused, self.first_served,
         self.last_served) = times
        self.hist_keys, self.hist_counts, self.hist_lo, self.hist_hi = hist_keys, hist_counts, hist_lo, hist_hi


class _ClientView:
    """One client of a server, a row of the pairs' columns: a server with door events has a view
    for each tracked client (~14,000 in the benchmark's report), so a view only points at its row
    and each value is read when a rule asks (most are never read)."""

    __slots__ = ("pairs", "pid", "_hists")

    def __init__(self, pairs: _Pairs, pid: int) -> None:
        self.pairs, self.pid = pairs, pid
        self._hists: tuple[Counter, Counter] | None = None

    ip = property(lambda self: self.pairs.ip[self.pid])
    counts = property(lambda self: self.pairs.counts[self.pid])
    amid = property(lambda self: self.pairs.amid[self.pid])
    first = property(lambda self: self.pairs.first[self.pid])
    last = property(lambda self: self.pairs.last[self.pid])
    first_refused = property(lambda self: self.pairs.first_refused[self.pid])
    last_refused = property(lambda self: self.pairs.last_refused[self.pid])
    first_served = property(lambda self: self.pairs.first_served[self.pid])
    last_served = property(lambda self: self.pairs.last_served[self.pid])

    @staticmethod
    def counts_of(views: list[_ClientView]) -> np.ndarray:
        """The counts of the views (of one :class:`_Pairs`), a row each, in one take."""
        return views[0].pairs.counts[[v.pid for v in views]]

    def _fail_hists(self) -> tuple[Counter, Counter]:
        """The pair's concurrency histograms at its failed accepts (all sessions, its own)."""
        if self._hists is None:
            p, i = self.pairs, self.pid
            lo, hi = p.hist_lo[i], p.hist_hi[i]
            ph = [_EMPTY, _EMPTY]
            for key, v in zip(p.hist_keys[lo:hi].tolist(), p.hist_counts[lo:hi].tolist(), strict=True):
                w = (key >> 16) & 1
                if ph[w] is _EMPTY:
                    ph[w] = Counter()
                ph[w][key & 0xFFFF] = v
            self._hists = (ph[0], ph[1])
        return self._hists

    @property
    def fail_conc(self) -> Counter:
        """Concurrency at this client's failed accepts: all sessions."""
        return self._fail_hists()[0]

    @property
    def fail_cconc(self) -> Counter:
        """Concurrency at this client's failed accepts: its own sessions."""
        return self._fail_hists()[1]


@dataclass
class _View:
    """One server's aggregates, as the verdict rules read them."""

    host: str
    port: int
    opts: DiagnoseOptions
    cat_counts: np.ndarray
    labels: dict[str, int]  # most common first
    kinds: Counter
    replies: Counter
    first: float
    last: float
    accepted: int
    reset_after_data: int
    zeek_conc: int
    computed_conc: int
    clients: list[_ClientView]
    other: _ClientView | None
    conc: list[Counter]
    cconc: list[Counter]
    runs: list[CrashWindow]
    nclients: int
    timeline: dict
    samples: dict


def _text(v: object) -> str:
    """A cell as text; missing -> "" (object-safe: keeps lone surrogates from undecodable bytes)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or _is_pandas_na(v):
        return ""
    return v if isinstance(v, str) else str(v)


def _is_pandas_na(v: object) -> bool:
    pd = sys.modules.get("pandas")  # only a frame's cells can be pd.NA, and frames need pandas
    return pd is not None and v is pd.NA


def _text_codes(col: pd.Series, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A text column (``rows`` of it) as codes into its distinct texts; missing and "" -> -1."""
    import pandas as pd

    values = col.to_numpy(object)
    codes, uniq = pd.factorize(values if rows is None else values[rows], use_na_sentinel=True)
    if pd.api.types.infer_dtype(uniq, skipna=False) == "string":  # the usual case: distinct str already
        remap = np.append(np.where(uniq == "", -1, np.arange(len(uniq))), -1)
        return remap[codes], uniq  # code -1 (missing) picks the trailing -1
    texts = [_text(u) for u in uniq]
    # distinct cells can read as one text (None and NaN, 5 and "5"): one code each
    tcodes, tuniq = pd.factorize(np.array(texts + [""], dtype=object))
    remap = np.where(tuniq[tcodes] == "", -1, tcodes)
    return remap[codes], tuniq  # code -1 (missing) picks the trailing ""


def _first_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The distinct (a, b) pairs, ``a`` nondecreasing, as a 2 x n array in order of first
    appearance (so by ``a``): what is kept of the first few ``b`` of an ``a`` never depends on
    the values of ``b`` (hashes under a random key)."""
    if not len(a):
        return np.zeros((2, 0), np.int64)
    codes = _group_codes(a, b)  # numbered in order of first appearance: a pair's first row has a new high
    firsts = np.flatnonzero(codes > np.r_[-1, np.maximum.accumulate(codes)[:-1]])
    return np.stack([a[firsts], b[firsts]]).astype(np.int64)


def _add_rows(a: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> None:
    """``np.add.at(a, idx, rows)`` for a 2-D int64 ``a`` of counts: one ``bincount`` over the
    rows of ``a`` that ``idx`` reaches (float sums: exact below 2**53)."""
    if not len(idx):
        return
    w = a.shape[1]
    n = int(idx.max()) + 1
    flat = (idx[:, None] * w + np.arange(w)).ravel()
    a[:n] += np.bincount(flat, weights=rows.ravel(), minlength=n * w).astype(np.int64).reshape(n, w)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off for a block (restored as it was)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _remember_first(count: np.ndarray, kept: np.ndarray, slot: np.ndarray, value: np.ndarray,
                    codes: np.ndarray | None = None, ncodes: int = 0) -> None:
    """Add to each slot's first _MAX_SEEN distinct values (``kept[slot, :count[slot]]``) those of
    ``value`` it lacks, in the order given.  ``codes`` number the values exactly (``< ncodes``);
    without them the values are numbered here."""
    room = count[slot] < _MAX_SEEN
    s, v = slot[room], value[room]
    # the values a slot holds already go first (most of them, in a scan: one scanner, many ports)
    new = ~((kept[s] == v[:, None]) & (np.arange(_MAX_SEEN) < count[s][:, None])).any(axis=1)
    s, v = s[new], v[new]
    if not len(s):
        return
    if codes is None:
        c = first_seen(v)[0]
        ncodes = int(c.max()) + 1
    else:
        c = codes[room][new]
    _, first = np.unique(s * ncodes + c, return_index=True)
    first.sort()  # (slot, value) pairs in order of first appearance
    s, v = s[first], v[first]
    pos = count[s] + _rank_in_group(s)
    ok = pos < _MAX_SEEN
    kept[s[ok], pos[ok]] = v[ok]
    np.add.at(count, s[ok], 1)


def _rank_in_group(g: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements share its value."""
    order = np.argsort(g, kind="stable")
    gs = g[order]
    starts = np.r_[0, np.flatnonzero(gs[1:] != gs[:-1]) + 1]
    r = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    out = np.empty(len(g), np.int64)
    out[order] = r
    return out


def _num_col(g: pd.DataFrame, name: str) -> np.ndarray:
    if name not in g:
        return np.full(len(g), np.nan)
    import pandas as pd

    return pd.to_numeric(g[name], errors="coerce").to_numpy(float)


def diagnose(
    frames: Iterable[pd.DataFrame], *, options: DiagnoseOptions | None = None, **opts
) -> list[ServerDiagnosis]:
    """Diagnose every server endpoint in labeled chunks; worst servers first.

    ``opts`` override :class:`DiagnoseOptions` fields, e.g. ``horizon=60``.
    """
    d = ServerDiagnoser(options, **opts)
    for frame in frames:
        d.add(frame)
    return d.finish()


_SEVERITY = {v: i for i, v in enumerate(VERDICTS)}


def rank(diagnoses: Iterable[ServerDiagnosis]) -> list[ServerDiagnosis]:
    """Worst first: most door events, then the higher share, then verdict order, then name."""

    def key(d: ServerDiagnosis):
        share = d.door_events / d.connections if d.connections else 0.0
        return (
            d.verdict == "healthy",
            d.ports_folded > 0,  # folded probe targets after the real servers
            -d.door_events,
            -share,
            _SEVERITY.get(d.verdict, 99),
            d.host,
            d.port,
        )

    return sorted(diagnoses, key=key)


def find(diagnoses: Iterable[ServerDiagnosis], spec: str) -> ServerDiagnosis:
    """The diagnosis of ``IP:PORT`` (or of the ``IP:*`` entry that names the port among its
    folded ones); raise :class:`UnknownServer` if there is none."""
    host, port = parse_endpoint(spec)
    diagnoses = list(diagnoses)
    for d in diagnoses:
        if d.host == host and d.port == port and not d.ports_folded:
            return d
    folded = [d for d in diagnoses if d.host == host and d.ports_folded]
    for d in folded:
        if port in d.folded_ports:
            return d
    raise UnknownServer(spec, [d.server for d in diagnoses], folded[0].server if folded else None)


# --------------------------------------------------------------------------------------
# Verdict rules


def _limit(refused: Counter, served: Counter, opts: DiagnoseOptions) -> LimitEstimate | None:
    """The ceiling K that best separates refusals (>= K) from successes (< K).

    K is the largest level that keeps at least ``served_below`` of the successes below
    it and, among those, turns away the most refusals at or above it.
    """
    n_ref = sum(refused.values())
    n_srv = sum(served.values())
    if n_ref == 0 or n_srv == 0:
        return None
    top = max(max(refused), max(served)) + 1
    best = None
    for k in range(1, top + 1):
        ref_ge = sum(n for v, n in refused.items() if v >= k)
        srv_lt = sum(n for v, n in served.items() if v < k)
        if srv_lt / n_srv < opts.served_below or ref_ge == 0:
            continue
        score = (ref_ge / n_ref) + (srv_lt / n_srv)
        if best is None or score > best[0] + 1e-12 or (abs(score - best[0]) <= 1e-12 and k > best[1]):
            best = (score, k, ref_ge, srv_lt)
    if best is None:
        return None
    _, k, ref_ge, srv_lt = best
    return LimitEstimate(
        k=k,
        refusals=n_ref,
        refusals_at_or_above=ref_ge,
        served=n_srv,
        served_below=srv_lt,
        max_served_concurrency=max(served),
        min_refused_concurrency=min(refused),
    )


def _plus(a: Counter, b: Counter) -> Counter:
    """``a + b`` (counts are positive), without a new Counter when a side is empty; never mutated."""
    return a if not b else b if not a else a + b


def _conf(ok_high: bool, ok_medium: bool) -> str:
    return "high" if ok_high else "medium" if ok_medium else "low"


def _verdict(s: _View) -> ServerDiagnosis:
    opts = s.opts
    cc = s.cat_counts.tolist()  # Python ints: cheaper to read one at a time
    door = sum(cc[k] for k in _DOOR_CATS)
    served = int(cc[SERVED])
    handshakes = s.accepted
    clients = s.clients + ([s.other] if s.other is not None else [])
    ev_clients = []
    vals: list[list[int]] = []  # per client: served, refused, rejected, no_answer, other
    if clients:  # the per-client sums for all clients at once
        m = _ClientView.counts_of(clients)
        vals = np.stack(
            [m[:, SERVED], m[:, _ACCEPT_CLOSE].sum(1), m[:, REJECTED], m[:, NO_ANSWER], m[:, _OTHER_CATS].sum(1)], 1
        ).tolist()
        # the clients with any count, worst first; evidence made for the ones reported only
        shown = list(compress(range(len(clients)), m.any(axis=1).tolist()))
        shown.sort(key=lambda i: (-(vals[i][1] + vals[i][2] + vals[i][3]), -vals[i][0], clients[i].ip))
        ev_clients = [
            ClientEvidence(client=c.ip, served=v[0], refused=v[1], rejected=v[2], no_answer=v[3], other=v[4],
                           first_ts=c.first, last_ts=c.last)
            for c, v in ((clients[i], vals[i]) for i in shown[: opts.report_clients])
        ]
    tracked = list(zip(s.clients, vals[: len(s.clients)], strict=True))
    kinds = dict(s.kinds)
    ref_hist = _plus(s.conc[REFUSED], s.conc[RESET])
    srv_hist = s.conc[SERVED]
    d = ServerDiagnosis(
        host=s.host,
        port=s.port,
        verdict="healthy",
        confidence="high",
        summary="",
        connections=sum(cc),
        door_events=door,
        served=served,
        label_counts=dict(s.labels),
        first_ts=s.first,
        last_ts=s.last,
        refusal_kinds=kinds,
        replies=dict(s.replies.most_common()),
        clients=ev_clients,
        crash_windows=sorted(s.runs, key=lambda w: w.start),
        concurrency_refused=dict(sorted(ref_hist.items())),
        concurrency_served=dict(sorted(srv_hist.items())),
        client_concurrency_refused=dict(sorted(_plus(s.cconc[REFUSED], s.cconc[RESET]).items())),
        client_concurrency_served=dict(sorted(s.cconc[SERVED].items())),
        resets_after_client_data=s.reset_after_data,
        concurrency_source=_conc_source(s.zeek_conc, s.computed_conc),
        timeline=s.timeline,
        samples=s.samples,
    )
    ep = d.server
    if s.other is not None:
        d.notes.append("more clients than tracked: the rest are pooled as '(other clients)'")

    reply_kind_limit = kinds.get("conn_limit", 0)
    reply_kind_ip = kinds.get("per_ip_limit", 0)
    reply_kind_denied = kinds.get("access_denied", 0)

    if door == 0 and not _reply_only_limit(s, ref_hist, srv_hist, opts):
        extra = ""
        if cc[ABORTED]:
            extra = f"; {int(cc[ABORTED])} session(s) reset by the server mid-session"
        quiet = int(cc[NEUTRAL] + cc[REPLY_ONLY] + cc[WAITED])
        if quiet:
            extra += f"; {quiet} closed by the client without a request"
        d.confidence = "high" if served else "low"
        d.summary = f"{ep} — healthy: {d.connections} connection(s), {served} served, no door events{extra}"
        return d

    cands: dict[str, int] = {}
    conf: dict[str, str] = {}
    text: dict[str, str] = {}

    # -- crash windows
    if s.runs:
        n = sum(w.door_events for w in s.runs)
        cands["service_crash"] = n
        w = max(s.runs, key=lambda w: w.events)
        both = w.preceded_by_success and w.recovered_at is not None
        conf["service_crash"] = _conf(both and w.clients >= 2 and w.events >= 5, w.clients >= 2)
        kinds_txt = ", ".join(f"{v} {k}" for k, v in sorted(w.kinds.items(), key=lambda kv: -kv[1]))
        after = (
            f"served again from {format_time(w.recovered_at)}"
            if w.recovered_at is not None
            else "no success after it in the log"
        )
        text["service_crash"] = (
            f"service crash between {format_time(w.start)} and {format_time(w.end)}: "
            f"{w.events} connection(s) from {w.clients} client(s) all failed ({kinds_txt})"
            f"{' after earlier successes' if w.preceded_by_success else ''}; {after}"
        )
        if w.first_affected < w.start:
            text["service_crash"] += f"; connections accepted from {format_time(w.first_affected)} were never served"
        if len(s.runs) > 1:
            text["service_crash"] += f"; {len(s.runs)} such windows"

    # -- never reachable
    if handshakes == 0 and cc[REJECTED]:
        r = int(cc[REJECTED])
        cands["port_closed"] = r
        conf["port_closed"] = _conf(r >= 3 and r == door, r >= 2)
        text["port_closed"] = _port_closed_txt(r, door, s.nclients)
    if handshakes == 0 and cc[NO_ANSWER]:
        n = int(cc[NO_ANSWER])
        cands["filtered"] = n
        conf["filtered"] = _conf(n >= 3 and n == door, n >= 2)
        text["filtered"] = _filtered_txt(n, door, s.nclients)
    silent_like = int(cc[SILENT] + cc[WAITED])
    if cc[SILENT] or (cc[WAITED] and cc[NO_ANSWER] and not served):
        n = int(cc[SILENT] + cc[NO_ANSWER])
        cands["unresponsive_application"] = n
        conf["unresponsive_application"] = _conf(cc[SILENT] >= 3 and served == 0, silent_like >= 2)
        text["unresponsive_application"] = (
            f"unresponsive application: {silent_like} accepted connection(s) never got a byte from the server"
            + (f" (the client gave up first in {int(cc[WAITED])})" if cc[WAITED] else "")
            + (f", {int(cc[NO_ANSWER])} SYN(s) unanswered (listen queue full)" if cc[NO_ANSWER] else "")
            + (f"; {served} served" if served else "; nothing served")
        )

    # -- allow-list: clients always turned away while others were served
    # A client refused only while the server was full is a limit's victim, not a denied
    # address: when a ceiling explains the refusals, a denied client must also have been
    # refused below it, at a load at which others were served.
    lim_all = _limit(ref_hist, srv_hist, opts)
    ceiling = lim_all.k if lim_all is not None and lim_all.refused_share >= opts.explained else None
    denied = []
    for c, v in tracked:
        n_ac = v[1]
        if v[0] == 0 and n_ac >= opts.min_refusals and c.amid >= 0.8 * n_ac:
            below = sum(n for v, n in c.fail_conc.items() if ceiling is None or v < ceiling)
            if ceiling is None or below * 2 >= sum(c.fail_conc.values()):
                denied.append(c)
    if denied:
        lo = min(c.first_refused for c in denied) - opts.window
        hi = max(c.last_refused for c in denied) + opts.window
        names = {c.ip for c in denied}
        others = [
            c
            for c, v in tracked
            if c.ip not in names and v[0] and c.first_served <= hi and c.last_served >= lo
        ]
        if others:
            dn = sum(int(c.counts[_ACCEPT_CLOSE].sum()) for c in denied)
            da = sum(int(c.counts[_EVENT].sum()) for c in denied)
            al = AllowlistEvidence(
                denied=sorted(names),
                denied_refused=dn,
                denied_attempts=da,
                other_clients=len(others),
                other_served=sum(int(c.counts[SERVED]) for c in others),
                other_attempts=sum(int(c.counts[_EVENT].sum()) for c in others),
                amid_service=sum(c.amid for c in denied),
                confirmed_by_reply=reply_kind_denied > 0,
            )
            d.allowlist = al
            cands["ip_allowlist"] = dn
            conf["ip_allowlist"] = _conf(
                (dn >= 3 * len(denied) and al.other_served >= 3) or al.confirmed_by_reply, dn >= 2
            )
            who = ", ".join(al.denied[:5]) + (f" and {len(al.denied) - 5} more" if len(al.denied) > 5 else "")
            text["ip_allowlist"] = (
                f"IP allow-list: {who} refused {dn}/{da} times, {al.other_clients} other client(s) "
                f"served {al.other_served}/{al.other_attempts} in the same window"
            )
            if reply_kind_denied:
                text["ip_allowlist"] += " (reply says access denied)"
            # the limit is judged on the refusals the allow-list does not explain
            for c in denied:
                ref_hist = ref_hist - c.fail_conc
    # -- concurrency ceiling, over all clients and per client
    lim = _limit(ref_hist, srv_hist, opts)
    c_ref = _plus(s.cconc[REFUSED], s.cconc[RESET])
    for c in denied:
        c_ref = c_ref - c.fail_cconc
    clim = _limit(c_ref, s.cconc[SERVED], opts)
    ro = _reply_only_limit(s, ref_hist, srv_hist, opts)
    if lim is None and ro is not None:
        lim = ro
    if lim is not None:
        lim.confirmed_by_reply = reply_kind_limit > 0
        d.limit = lim
    if clim is not None:
        clim.confirmed_by_reply = reply_kind_ip > 0
        d.client_limit = clim
    j = (lim.refused_share + lim.served_share) if lim else 0.0
    cj = (clim.refused_share + clim.served_share) if clim else 0.0
    prefer_client = clim is not None and clim.k >= 1 and (reply_kind_ip > reply_kind_limit or cj > j + 0.05)
    if lim is not None and not prefer_client and (lim.refused_share >= opts.explained or lim.confirmed_by_reply):
        n = lim.refusals_at_or_above
        if lim is ro:
            n = 0  # reply-only hang-ups are extra evidence, not door events
        cands["connection_limit"] = max(n, min(reply_kind_limit, door))
        clean = lim.refused_share >= 0.95 and lim.served_share >= 0.95
        conf["connection_limit"] = _conf(
            (clean and lim.refusals >= 5 and lim.served >= 5) or (lim.confirmed_by_reply and clean),
            lim.refusals >= 2 or lim.confirmed_by_reply,
        )
        text["connection_limit"] = (
            f"connection limit K={lim.k}: {lim.refusals_at_or_above}/{lim.refusals} refusals while >= {lim.k} "
            f"session(s) were established, {lim.served_below}/{lim.served} successes below {lim.k}"
        )
        if lim is ro:
            text["connection_limit"] += " (refusals inferred: the client hung up after the server's first reply)"
        else:
            lim.reply_only_at_or_above = sum(n for v, n in s.conc[REPLY_ONLY].items() if v >= lim.k)
            if lim.reply_only_at_or_above:
                text["connection_limit"] += (
                    f"; {lim.reply_only_at_or_above} more client(s) hung up right after the server's first reply"
                    f" at >= {lim.k}"
                )
        if reply_kind_limit:
            text["connection_limit"] += f"; {reply_kind_limit} reply(ies) say too many connections"
    if clim is not None and (prefer_client or "connection_limit" not in cands) and (
        clim.refused_share >= opts.explained or clim.confirmed_by_reply
    ):
        cands["per_client_limit"] = max(clim.refusals_at_or_above, min(reply_kind_ip, door))
        clean = clim.refused_share >= 0.95 and clim.served_share >= 0.95
        conf["per_client_limit"] = _conf(
            (clean and clim.refusals >= 5) or (clim.confirmed_by_reply and clean), clim.refusals >= 2
        )
        text["per_client_limit"] = (
            f"per-client limit k={clim.k}: {clim.refusals_at_or_above}/{clim.refusals} refusals while the same "
            f"client held >= {clim.k} session(s), {clim.served_below}/{clim.served} successes below {clim.k}"
        )

    if "connection_limit" not in cands:
        d.limit = None
    if "per_client_limit" not in cands:
        d.client_limit = None
    if not cands:
        d.verdict = "undetermined"
        d.confidence = "low"
        d.summary = f"{ep} — undetermined: {_door_txt(cc, door)}; " + (
            f"no client was ever served ({s.accepted} handshake(s) completed): the service turns everyone away"
            if served == 0 and s.accepted
            else "no pattern (client, concurrency, time) explains them"
        )
        return d
    order = sorted(cands, key=lambda v: (-cands[v], _SEVERITY[v]))
    best = order[0]
    share = cands[best] / door if door else 1.0
    if share >= opts.explained or (door == 0 and best == "connection_limit"):
        d.verdict = best
        d.confidence = conf[best]
        d.summary = f"{ep} — {text[best]}"
        d.components = {best: cands[best]}
        return _keep_chosen(d)
    d.components = {v: cands[v] for v in order if cands[v]}
    covered = sum(d.components.values())
    d.verdict = "mixed" if len(d.components) >= 2 and covered / door >= opts.explained else "undetermined"
    d.confidence = "medium" if d.verdict == "mixed" else "low"
    parts = "; ".join(text[v] for v in d.components)
    d.summary = f"{ep} — {d.verdict}: {_door_txt(cc, door)}; " + parts
    return _keep_chosen(d)


def _healthy_verdict(
    host: str, port: int, cc: list[int], labels: dict[str, int], first: float, last: float, replies: Counter,
    runs: list[CrashWindow], srv_hist: dict[int, int], srv_cconc: dict[int, int], reset_after_data: int,
    zeek_conc: int, computed_conc: int, timeline: dict, samples: dict,
) -> ServerDiagnosis:
    """:func:`_verdict` of a server with no door event, no refusal kind, no client tracked and too
    few reply-only hang-ups to make a limit: always healthy, so the same result in fewer steps.
    ``labels`` and the two histograms (levels ascending) are the caller's own, kept as they are."""
    confidence, summary, connections = _healthy_words(host, port, cc)
    return ServerDiagnosis(
        host=host, port=port, verdict="healthy", confidence=confidence, summary=summary,
        connections=connections, door_events=0, served=cc[SERVED], label_counts=labels, first_ts=first, last_ts=last,
        refusal_kinds={}, replies=dict(replies.most_common()) if replies else {}, clients=[],
        crash_windows=sorted(runs, key=lambda w: w.start) if runs else [], concurrency_refused={},
        concurrency_served=srv_hist, client_concurrency_refused={}, client_concurrency_served=srv_cconc,
        resets_after_client_data=reset_after_data, concurrency_source=_conc_source(zeek_conc, computed_conc),
        timeline=timeline, samples=samples,
    )


def _healthy_words(host: str, port: int, cc: list[int]) -> tuple[str, str, int]:
    """A healthy server's confidence, summary and connection count, from its category counts."""
    served = cc[SERVED]
    connections = sum(cc)
    extra = f"; {cc[ABORTED]} session(s) reset by the server mid-session" if cc[ABORTED] else ""
    quiet = cc[NEUTRAL] + cc[REPLY_ONLY] + cc[WAITED]
    if quiet:
        extra += f"; {quiet} closed by the client without a request"
    summary = f"{format_endpoint(host, port)} — healthy: {connections} connection(s), {served} served, no door events"
    return "high" if served else "low", summary + extra, connections


def _keep_chosen(d: ServerDiagnosis) -> ServerDiagnosis:
    """Keep a limit estimate only when it is part of the verdict."""
    if "connection_limit" not in d.components:
        d.limit = None
    if "per_client_limit" not in d.components:
        d.client_limit = None
    if "ip_allowlist" not in d.components:
        d.allowlist = None
    return d


def _count_dicts(lab: np.ndarray) -> list[dict[str, int]]:
    """Each row of label counts as ``{label: count}``, label order, the labels counted only."""
    rows, cols = np.nonzero(lab)
    bounds = np.searchsorted(rows, np.arange(len(lab) + 1)).tolist()
    names = [LABELS[i] for i in cols.tolist()]
    counts = lab[rows, cols].tolist()
    return [dict(zip(names[a:b], counts[a:b])) for a, b in zip(bounds, bounds[1:])]


def _folded_words(host: str, door: int, rej: int, noans: int, ports: int, ncl: int, shown: list[int],
                  opts: DiagnoseOptions) -> tuple[str, str, str]:
    """A ``host:*`` entry's verdict, confidence and summary (``shown``: the first ports folded,
    in that order)."""
    who = f"{ncl}+" if ncl >= _MAX_SEEN else str(ncl)
    if door and rej / door >= opts.explained:
        verdict, what = "port_closed", f"{rej}/{door} attempt(s) answered with RST"
    elif door and noans / door >= opts.explained:
        verdict, what = "filtered", f"{noans}/{door} SYN(s) never answered"
    else:
        verdict, what = "mixed", f"{rej} attempt(s) answered with RST, {noans} unanswered"
    ep = _entry_name(host, 0, ports_folded=1)  # the host:* form, whatever the count
    # the ports, the first _MAX_SEEN of them ("..." when there were more: a port folded twice is one)
    listed = ", ".join(map(str, sorted(shown))) + (", ..." if len(shown) >= _MAX_SEEN and ports > len(shown) else "")
    summary = (f"{ep} — {verdict.replace('_', ' ')} on {ports} rarely contacted port(s) ({listed}): {what}, "
               f"from {who} client(s), never accepted (a port scan, or clients of a service that is gone)")
    return verdict, "medium" if door >= 3 else "low", summary


def _folded_verdict(
    host: str, door: int, rej: int, noans: int, connections: int, labels: dict[str, int], ports: int,
    first: float, last: float, ncl: int, shown: list[int], opts: DiagnoseOptions,
) -> ServerDiagnosis:
    """One ``host:*`` entry for the host's endpoints that never completed a handshake."""
    verdict, confidence, summary = _folded_words(host, door, rej, noans, ports, ncl, shown, opts)
    return ServerDiagnosis(
        host=host,
        port=0,
        verdict=verdict,
        confidence=confidence,
        summary=summary,
        connections=connections,
        door_events=door,
        served=0,
        label_counts=labels,
        first_ts=first,
        last_ts=last,
        ports_folded=ports,
        folded_ports=shown,
        components={k: v for k, v in (("port_closed", rej), ("filtered", noans)) if v} if verdict == "mixed" else {},
    )


def _folded_entry(
    host: str, door: int, rej: int, noans: int, connections: int, labels: dict[str, int], ports: int,
    first: float, last: float, ncl: int, shown: list[int], opts: DiagnoseOptions,
) -> TextEntry:
    """:func:`_folded_verdict` as the text report reads it."""
    verdict, confidence, summary = _folded_words(host, door, rej, noans, ports, ncl, shown, opts)
    return TextEntry(host, 0, verdict, confidence, summary, connections, door, ports, labels, first, last)


def _reply_only_limit(s: _View, ref_hist: Counter, srv_hist: Counter, opts: DiagnoseOptions) -> LimitEstimate | None:
    """A ceiling from clients that hung up right after the server's first reply.

    Without the reply text, a client that hears a ``421`` and closes first looks like a
    client that read the greeting and left.  When those hang-ups happen only at or
    above a level the successes stay below, they are the refusals of a limit.
    """
    ro = s.conc[REPLY_ONLY]
    if sum(ro.values()) < opts.min_refusals or sum(ref_hist.values()):
        return None
    lim = _limit(ro, srv_hist, opts)
    if lim is None or lim.refused_share < 0.95:
        return None
    return lim


def _nclients(n: int) -> str:
    return f"{n}+" if n >= _MAX_SEEN else str(n)


def _door_txt(cc: list[int], door: int) -> str:
    parts = [f"{cc[k]} {CATEGORY_NAMES[k]}" for k in _DOOR_CATS if cc[k]]
    return f"{door} door event(s) ({', '.join(parts)}) out of {sum(cc)}"


def _port_closed_txt(r: int, door: int, nclients: int) -> str:
    return (
        f"port closed: {r}/{door} connection attempt(s) from {_nclients(nclients)} client(s) "
        f"answered with RST, never accepted"
    )


def _filtered_txt(n: int, door: int, nclients: int) -> str:
    return (
        f"filtered: {n}/{door} SYN(s) from {_nclients(nclients)} client(s) never answered; "
        f"no handshake ever completed"
    )


def _conc_source(zeek_conc: int, computed_conc: int) -> str:
    if zeek_conc and not computed_conc:
        return "project Zeek log (resp_concurrent)"
    if not zeek_conc:
        return "conn.log intervals"
    return "project Zeek log where joined, conn.log intervals elsewhere"


def _probe_verdict(
    host: str, port: int, cc: list[int], labels: dict[str, int], first: float, last: float, nclients: int,
    reset_after_data: int, zeek_conc: int, computed_conc: int, timeline: dict, samples: dict, opts: DiagnoseOptions,
) -> ServerDiagnosis:
    """:func:`_verdict` of an endpoint whose connections never got past the SYN (a scan's target).

    The same result in fewer steps: no clients, histograms, crash windows, kinds or
    replies, and only rejected, unanswered or aborted attempts, so only ``port_closed``
    and ``filtered`` can explain its door events.
    """
    rej, noans = cc[REJECTED], cc[NO_ANSWER]
    door = rej + noans
    d = ServerDiagnosis(
        host=host, port=port, verdict="healthy", confidence="high", summary="", connections=sum(cc),
        door_events=door, served=0, label_counts=labels, first_ts=first, last_ts=last, refusal_kinds={},
        replies={}, clients=[], crash_windows=[], concurrency_refused={}, concurrency_served={},
        client_concurrency_refused={}, client_concurrency_served={}, resets_after_client_data=reset_after_data,
        concurrency_source=_conc_source(zeek_conc, computed_conc), timeline=timeline, samples=samples,
    )
    ep = d.server
    if door == 0:
        quiet = cc[NEUTRAL]
        extra = f"; {quiet} closed by the client without a request" if quiet else ""
        d.confidence = "low"
        d.summary = f"{ep} — healthy: {d.connections} connection(s), 0 served, no door events{extra}"
        return d
    cands: dict[str, int] = {}
    conf: dict[str, str] = {}
    text: dict[str, str] = {}
    if rej:
        cands["port_closed"] = rej
        conf["port_closed"] = _conf(rej >= 3 and rej == door, rej >= 2)
        text["port_closed"] = _port_closed_txt(rej, door, nclients)
    if noans:
        cands["filtered"] = noans
        conf["filtered"] = _conf(noans >= 3 and noans == door, noans >= 2)
        text["filtered"] = _filtered_txt(noans, door, nclients)
    order = sorted(cands, key=lambda v: (-cands[v], _SEVERITY[v]))
    best = order[0]
    if cands[best] / door >= opts.explained:
        d.verdict, d.confidence, d.summary = best, conf[best], f"{ep} — {text[best]}"
        d.components = {best: cands[best]}
        return d
    d.components = {v: cands[v] for v in order}
    covered = sum(d.components.values())
    d.verdict = "mixed" if len(d.components) >= 2 and covered / door >= opts.explained else "undetermined"
    d.confidence = "medium" if d.verdict == "mixed" else "low"
    d.summary = f"{ep} — {d.verdict}: {_door_txt(cc, door)}; " + "; ".join(text[v] for v in d.components)
    return d


# --------------------------------------------------------------------------------------
# The seed's reasoning on one server


SUPPORTED = "supported"
RULED_OUT = "ruled out"
UNDECIDED = "undecided"


@dataclass
class Hypothesis:
    """One of the seed's candidate reasons, judged on one server's evidence."""

    name: str
    title: str
    status: str  # supported / ruled out / undecided
    evidence: str
    settle: str  # what extra evidence would settle it


def why(d: ServerDiagnosis) -> list[Hypothesis]:
    """Walk the seed's hypotheses for one server: which hold, which are ruled out, and why.

    The hypotheses are the article's four -- a faulty handshake ACK, a connection or
    licence limit, an application crash, a client IP that is not allowed -- plus a
    middlebox forging the close.  Each gets ``supported``, ``ruled out`` or
    ``undecided``, the evidence behind that, and what would settle it.
    """
    lc = d.label_counts
    fin_closes = lc.get("slammed", 0) + lc.get("refused_with_reply", 0)
    rst_closes = lc.get("reset_after_accept", 0)
    rejected = lc.get("rejected", 0)
    no_answer = lc.get("no_answer", 0)
    mb = lc.get("reset_by_middlebox", 0)
    no_reply = not d.replies
    zeek_hint = "run the project's Zeek script (zeek_scripts/) so slam.log records the server's first reply"
    out: list[Hypothesis] = []

    # 1. faulty ACK
    if fin_closes and not rst_closes:
        h = Hypothesis(
            "faulty_handshake_ack",
            "The client's handshake ACK was faulty",
            RULED_OUT,
            f"the server closed {fin_closes} accepted connection(s) with FIN; a rejected ACK draws an RST, not a FIN",
            "nothing more needed",
        )
    elif rst_closes:
        note = (
            f"; {d.resets_after_client_data} of them after the client had sent data, where even a "
            "deliberate close() becomes an RST (RFC 2525 2.17)"
            if d.resets_after_client_data
            else ""
        )
        h = Hypothesis(
            "faulty_handshake_ack",
            "The client's handshake ACK was faulty",
            UNDECIDED if not d.served else RULED_OUT,
            f"{rst_closes} accepted connection(s) were reset by the server{note}"
            + (f"; {d.served} other handshakes led to served sessions" if d.served else ""),
            "check the sequence/acknowledgement numbers of the handshake in the capture",
        )
    else:
        h = Hypothesis(
            "faulty_handshake_ack",
            "The client's handshake ACK was faulty",
            RULED_OUT,
            "no connection was accepted and then closed"
            + (f" ({rejected} SYN(s) answered with RST, {no_answer} unanswered)" if rejected or no_answer else ""),
            "nothing more needed",
        )
    out.append(h)

    # 2. connection / licence limit
    lim = d.limit or d.client_limit
    if d.verdict in ("connection_limit", "per_client_limit") or "connection_limit" in d.components or (
        "per_client_limit" in d.components
    ):
        lim = d.limit if (d.verdict == "connection_limit" or "connection_limit" in d.components) else d.client_limit
        scope = "the server" if lim is d.limit else "the same client"
        ev = (
            f"{lim.refusals_at_or_above}/{lim.refusals} refusals while {scope} already held >= {lim.k} session(s); "
            f"{lim.served_below}/{lim.served} successes below {lim.k}"
        )
        if lim.confirmed_by_reply:
            ev += "; the server's reply says too many connections"
        out.append(
            Hypothesis(
                "connection_limit",
                "The server had too many connections (a connection or licence limit)",
                SUPPORTED,
                ev,
                "nothing more needed" if lim.confirmed_by_reply else zeek_hint + " (a 421 'too many' confirms it)",
            )
        )
    elif d.verdict == "service_crash":
        w = max(d.crash_windows, key=lambda w: w.events)
        out.append(
            Hypothesis(
                "connection_limit",
                "The server had too many connections (a connection or licence limit)",
                RULED_OUT,
                f"the failures came in one window for every client ({w.clients}), "
                + (f"including {w.kinds['rejected']} SYN(s) answered with RST (nothing listening); " if
                   w.kinds.get("rejected") else "")
                + "a limit turns new clients away while sessions are open, it does not drop everyone",
                "nothing more needed",
            )
        )
    elif d.allowlist and lim is None:
        al = d.allowlist
        top = max(d.concurrency_served, default=0)
        low = sum(n for v, n in d.concurrency_refused.items() if v <= top)
        total = sum(d.concurrency_refused.values())
        out.append(
            Hypothesis(
                "connection_limit",
                "The server had too many connections (a connection or licence limit)",
                RULED_OUT,
                f"{low}/{total} refusals came with {_levels(d.concurrency_refused, top)} session(s) open, a load at "
                f"which others were served ({_levels(d.concurrency_served)}); the refusals follow the address "
                f"({', '.join(al.denied[:3])}), not the load",
                "nothing more needed",
            )
        )
    elif fin_closes + rst_closes == 0:
        out.append(
            Hypothesis(
                "connection_limit",
                "The server had too many connections (a connection or licence limit)",
                RULED_OUT if (rejected or no_answer) and not d.served else UNDECIDED,
                "no connection was accepted and then turned away"
                + ("; a full listen queue drops SYNs, see 'unresponsive application'" if no_answer else ""),
                "compare the listen queue (ss -lnt Recv-Q/Send-Q) while clients wait",
            )
        )
    else:
        out.append(
            Hypothesis(
                "connection_limit",
                "The server had too many connections (a connection or licence limit)",
                UNDECIDED,
                f"concurrency at refusals {_levels(d.concurrency_refused)}, at successes "
                f"{_levels(d.concurrency_served)}: no clean ceiling",
                (zeek_hint + ", and check max-clients/licence settings")
                if no_reply
                else "check the server's max-clients/licence settings",
            )
        )

    # 3. application crash
    if d.crash_windows:
        w = max(d.crash_windows, key=lambda w: w.events)
        out.append(
            Hypothesis(
                "application_crash",
                "The application crashed",
                SUPPORTED,
                f"between {format_time(w.start)} and {format_time(w.end)} all {w.events} connection(s) from "
                f"{w.clients} client(s) were reset, rejected or unanswered"
                + (" after earlier successes" if w.preceded_by_success else "")
                + (f"; served again from {format_time(w.recovered_at)}" if w.recovered_at else ""),
                "check the service manager / server logs for a restart in that window",
            )
        )
    elif fin_closes and d.served:
        out.append(
            Hypothesis(
                "application_crash",
                "The application crashed",
                RULED_OUT,
                f"the server closed with FIN ({fin_closes}x), and {d.served} other connection(s) were served "
                "meanwhile; a crash releases its sockets with RST and hits every client",
                "nothing more needed",
            )
        )
    else:
        out.append(
            Hypothesis(
                "application_crash",
                "The application crashed",
                UNDECIDED,
                (f"{rst_closes} reset(s) after accept, " if rst_closes else "")
                + (f"{rejected} SYN(s) rejected, " if rejected else "")
                + "but no window where every client failed after earlier successes",
                "check the server's process/restart history; capture across a failure",
            )
        )

    # 4. client IP not allowed
    if d.allowlist:
        al = d.allowlist
        out.append(
            Hypothesis(
                "client_ip_not_allowed",
                "The server does not like the client's IP address",
                SUPPORTED,
                f"{', '.join(al.denied[:5])} turned away {al.denied_refused}/{al.denied_attempts} times while "
                f"{al.other_clients} other client(s) were served {al.other_served}/{al.other_attempts} "
                "in the same window",
                "nothing more needed"
                if al.confirmed_by_reply
                else "look for the allow/deny list: xinetd only_from/no_access, hosts.allow/hosts.deny, "
                "the server's own ACL",
            )
        )
    else:
        refused_clients = [c for c in d.clients if c.refused + c.rejected + c.no_answer]
        both = [c for c in refused_clients if c.served]
        if refused_clients and len(both) == len(refused_clients):
            out.append(
                Hypothesis(
                    "client_ip_not_allowed",
                    "The server does not like the client's IP address",
                    RULED_OUT,
                    f"every client that was turned away ({len(both)}) was also served at other times",
                    "nothing more needed",
                )
            )
        else:
            out.append(
                Hypothesis(
                    "client_ip_not_allowed",
                    "The server does not like the client's IP address",
                    UNDECIDED,
                    (
                        f"{len(refused_clients) - len(both)} client(s) never served, but no other client was served "
                        "in the same window to compare with"
                    )
                    if refused_clients
                    else "no client was turned away after the handshake",
                    "connect from an address known to be allowed at the same time",
                )
            )

    # 5. middlebox
    if mb:
        out.append(
            Hypothesis(
                "middlebox",
                "A middlebox (firewall, IPS) forged the close",
                SUPPORTED,
                f"{mb} reset(s) arrived with a TTL different from the server's SYN-ACK",
                "find the device between the TTLs (traceroute), check its reset/IPS rules",
            )
        )
    elif fin_closes and not rst_closes and not rejected:
        out.append(
            Hypothesis(
                "middlebox",
                "A middlebox (firewall, IPS) forged the close",
                RULED_OUT,
                "the closes are FINs sent in sequence by the server; middleboxes forge resets",
                "nothing more needed",
            )
        )
    else:
        out.append(
            Hypothesis(
                "middlebox",
                "A middlebox (firewall, IPS) forged the close",
                UNDECIDED,
                f"{rst_closes + lc.get('reset_by_responder', 0) + rejected} reset(s) seen, no TTL evidence",
                "enable TTL tracking in the project's Zeek script and compare resp_ttl_synack with resp_ttl_close",
            )
        )
    return out


def _levels(h: dict[int, int], upto: int | None = None) -> str:
    if upto is not None:
        h = {k: v for k, v in h.items() if k <= upto}
    if not h:
        return "unknown"
    lo, hi = min(h), max(h)
    return str(lo) if lo == hi else f"{lo}-{hi}"


__all__ = [
    "AllowlistEvidence",
    "BadServerSpec",
    "ClientEvidence",
    "CrashWindow",
    "DiagnoseError",
    "DiagnoseOptions",
    "Hypothesis",
    "LimitEstimate",
    "MissingColumns",
    "ServerDiagnoser",
    "ServerDiagnosis",
    "UnknownServer",
    "VERDICTS",
    "diagnose",
    "find",
    "format_endpoint",
    "format_time",
    "format_times",
    "parse_endpoint",
    "rank",
    "why",
]

