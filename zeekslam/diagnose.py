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

It streams.  :class:`ServerDiagnoser` takes labeled chunks (the frames
``zeekslam.label.label_logs`` yields) one at a time and keeps per-server and
per-client aggregates only: counts per label, concurrency histograms at refusals
and at successes, capped reply texts, first/last times, time-binned outcome
counts, a thinned sample of points for the plot, crash-window candidates, and a
bounded window of recent session intervals.  Memory grows with the number of
servers (and clients per server, capped), not with the number of rows.

Concurrency at accept time
--------------------------
When the project's Zeek log (``slam.log``) was joined in, ``resp_concurrent`` and
``orig_concurrent`` are used as they are.  Otherwise they are computed from
conn.log intervals: a connection that was *served* (``completed``, ``idle_closed``,
``reset_by_originator``, ``reset_by_responder``) holds a session on its server
from ``ts`` to ``ts + duration``; the concurrency of an event at time ``t`` is the
number of such sessions with ``start < t < end`` (the event itself excluded),
counted with sorted arrays and ``searchsorted``.  Refused connections do not hold
a session.

Zeek writes a conn.log row when the connection *ends*, so a long session that was
open during a refusal can appear later in the log than the refusal.  Each server
therefore keeps a window of recent session intervals and a list of pending
events; an event is finalized (its concurrency counted, its outcome added to the
histograms) once the server's watermark -- the latest session end seen at that
server -- has passed the event's outcome time by ``horizon`` seconds.  The
approximation: a session that outlives an event by more than ``horizon`` and is
logged after that, or a session that arrives after its start has fallen out of the
window, is not counted; both caps (``max_pending``, ``max_window``) finalize or
drop the oldest first.  With the lab logs everything fits in one window and the
counts are exact.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

import numpy as np
import pandas as pd

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

_DOOR = np.zeros(NCAT, bool)
_DOOR[[REFUSED, RESET, REJECTED, NO_ANSWER, SILENT, MIDDLEBOX]] = True
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
_NO_HANDSHAKE = frozenset({"rejected", "no_answer", "attempt_aborted", "midstream"})

LABEL = "slam.label"
KIND = "slam.refusal_kind"
REPLY = "slam.reply"
RESP_CONC = "resp_concurrent"
ORIG_CONC = "orig_concurrent"

_US_SHIFT = 1 << 40  # per-client keys: client code * 2**40 + microseconds


class DiagnoseError(Exception):
    """Base class for the errors this module raises."""


class BadServerSpec(DiagnoseError):
    """A server was not given as ``IP:PORT`` (or ``[IPv6]:PORT``)."""

    def __init__(self, spec: str):
        super().__init__(f"not a server endpoint (want IP:PORT): {spec!r}")
        self.spec = spec


class UnknownServer(DiagnoseError):
    """No diagnosis for the requested server endpoint."""

    def __init__(self, spec: str, known: Sequence[str] = ()):
        hint = f"; servers seen: {', '.join(known[:8])}" if known else "; no servers seen"
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
    max_pending: int = 50_000
    """Events per server waiting for their concurrency; beyond it the oldest are finalized."""
    max_window: int = 50_000
    """Session intervals per server kept to count concurrency; beyond it the oldest go."""
    max_clients: int = 4096
    """Client addresses tracked per server; later ones are pooled as "other"."""
    max_replies: int = 16
    """Distinct reply texts kept per server (each cut to ``max_reply_len``)."""
    max_reply_len: int = 200
    max_bins: int = 240
    """Time bins per server for the timeline; bins widen (x2) to stay under it."""
    bin_width: float = 1.0
    """Initial timeline bin width in seconds."""
    sample_points: int = 1500
    """Plot points kept per server and per kind (served / turned away)."""


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


@dataclass
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
    notes: list[str] = field(default_factory=list)
    timeline: dict = field(default_factory=dict, repr=False)
    samples: dict = field(default_factory=dict, repr=False)

    @property
    def server(self) -> str:
        return format_endpoint(self.host, self.port)

    def to_dict(self, *, plot_data: bool = False) -> dict:
        """A JSON-ready dict (NaN becomes None); ``plot_data`` adds timeline and samples."""
        out = {"server": self.server}
        for f in fields(self):
            if f.name in ("timeline", "samples") and not plot_data:
                continue
            out[f.name] = getattr(self, f.name)
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


def parse_endpoint(spec: str) -> tuple[str, int]:
    """Split ``IP:PORT`` / ``[IPv6]:PORT`` into (host, port); raise :class:`BadServerSpec`."""
    s = (spec or "").strip()
    if s.startswith("["):
        host, sep, rest = s[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port = s.rpartition(":")
    if not host or not sep or not port.isdigit() or int(port) > 65535:
        raise BadServerSpec(spec)
    return host, int(port)


def format_time(ts: float | None) -> str:
    """Epoch seconds as ``2026-11-25T10:40:15.099Z`` (``-`` when unknown)."""
    if ts is None or not math.isfinite(ts):
        return "-"
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------------------
# Streaming state


class _Client:
    __slots__ = (
        "ip",
        "counts",
        "first",
        "last",
        "first_served",
        "last_served",
        "first_refused",
        "last_refused",
        "amid",
        "fail_conc",
        "fail_cconc",
    )

    def __init__(self, ip: str):
        self.ip = ip
        self.counts = np.zeros(NCAT, np.int64)
        self.first = math.inf
        self.last = -math.inf
        self.first_served = math.inf
        self.last_served = -math.inf
        self.first_refused = math.inf
        self.last_refused = -math.inf
        self.amid = 0
        self.fail_conc: Counter = Counter()  # concurrency at this client's accept-then-close events
        self.fail_cconc: Counter = Counter()


_PEND_FIELDS = ("t", "tout", "client", "cat", "rc", "oc")
_PEND_DTYPES = (np.float64, np.float64, np.int32, np.int8, np.float64, np.float64)


def _empty_pending() -> dict[str, np.ndarray]:
    return {k: np.empty(0, d) for k, d in zip(_PEND_FIELDS, _PEND_DTYPES, strict=False)}


class _Thinner:
    """Keep every s-th point, doubling s whenever more than ``cap`` are kept."""

    __slots__ = ("cap", "stride", "seen", "t", "c", "k")

    def __init__(self, cap: int):
        self.cap = cap
        self.stride = 1
        self.seen = 0
        self.t = np.empty(0)
        self.c = np.empty(0)
        self.k = np.empty(0, np.int8)

    def add(self, t: np.ndarray, c: np.ndarray, k: np.ndarray) -> None:
        idx = self.seen + np.arange(len(t))
        self.seen += len(t)
        keep = idx % self.stride == 0
        self.t = np.concatenate([self.t, t[keep]])
        self.c = np.concatenate([self.c, c[keep]])
        self.k = np.concatenate([self.k, k[keep]])
        while len(self.t) > self.cap:
            self.stride *= 2
            self.t, self.c, self.k = self.t[::2], self.c[::2], self.k[::2]


class _Server:
    """Everything kept about one server endpoint."""

    def __init__(self, host: str, port: int, opts: DiagnoseOptions):
        self.host = host
        self.port = port
        self.opts = opts
        self.labels: Counter = Counter()
        self.kinds: Counter = Counter()
        self.replies: Counter = Counter()
        self.cat_counts = np.zeros(NCAT, np.int64)
        self.first = math.inf
        self.last = -math.inf
        self.reset_after_data = 0
        self.accepted = 0  # rows whose handshake completed
        self.zeek_conc = 0
        self.computed_conc = 0
        self.client_ids: dict[str, int] = {}
        self.clients: list[_Client] = []
        self.other = _Client("(other clients)")
        # concurrency histograms, per category
        self.conc = [Counter() for _ in range(NCAT)]
        self.cconc = [Counter() for _ in range(NCAT)]
        # pending events and held-session window
        self.pending = _empty_pending()
        self.w_start = np.empty(0)
        self.w_end = np.empty(0)
        self.w_client = np.empty(0, np.int32)
        self.watermark = -math.inf
        # time-ordered state
        self.seen_success = False
        self.last_served_t = -math.inf
        self.unresolved: list[tuple[int, float]] = []  # (client, t) refusals awaiting a later success
        self.run: dict | None = None
        self.runs: list[CrashWindow] = []
        # timeline bins and plot points
        self.bin_width = opts.bin_width
        self.bins: dict[int, np.ndarray] = {}
        self.pts_ok = _Thinner(opts.sample_points)
        self.pts_bad = _Thinner(opts.sample_points)

    # ---- ingest -------------------------------------------------------------------------

    def client_codes(self, ips: np.ndarray) -> np.ndarray:
        codes, uniq = pd.factorize(pd.Series(ips, dtype=object), use_na_sentinel=True)
        mapped = np.empty(len(uniq), np.int32)
        for i, ip in enumerate(uniq):
            ip = str(ip)
            cid = self.client_ids.get(ip)
            if cid is None:
                if len(self.clients) < self.opts.max_clients:
                    cid = len(self.clients)
                    self.client_ids[ip] = cid
                    self.clients.append(_Client(ip))
                else:
                    cid = -1
            mapped[i] = cid
        out = np.full(len(codes), -1, np.int32)
        ok = codes >= 0
        out[ok] = mapped[codes[ok]]
        return out

    def client(self, code: int) -> _Client:
        return self.clients[code] if code >= 0 else self.other

    def ingest(self, g: pd.DataFrame, cat: np.ndarray, ts: np.ndarray, end: np.ndarray) -> None:
        opts = self.opts
        self.labels.update(g[LABEL].value_counts().to_dict())
        if KIND in g:
            k = g[KIND]
            self.kinds.update(_text_counts(k))
        if REPLY in g:
            r = g[REPLY]
            for text, n in sorted(_text_counts(r).items(), key=lambda kv: -kv[1]):
                text = text[: opts.max_reply_len]
                if text in self.replies or len(self.replies) < opts.max_replies:
                    self.replies[text] += int(n)
        self.cat_counts += np.bincount(cat, minlength=NCAT)
        self.accepted += int((~g[LABEL].astype(object).isin(_NO_HANDSHAKE)).sum())
        self.first = min(self.first, float(np.nanmin(ts)))
        self.last = max(self.last, float(np.nanmax(end)))
        if "orig_bytes" in g:
            ob = pd.to_numeric(g["orig_bytes"], errors="coerce").to_numpy(float)
            self.reset_after_data += int(((cat == RESET) & (ob > 0)).sum())

        client = self.client_codes(g["id.orig_h"].to_numpy(object))
        # per-client counts and times
        order = np.lexsort((cat, client))
        cl_s, cat_s = client[order], cat[order]
        pairs, counts = np.unique(np.stack([cl_s, cat_s.astype(np.int32)]), axis=1, return_counts=True)
        for (c, k), n in zip(pairs.T, counts, strict=False):
            self.client(int(c)).counts[k] += n
        frame = pd.DataFrame({"c": client, "ts": ts, "served": cat == SERVED, "ac": _ACCEPT_CLOSE[cat]})
        agg = frame.groupby("c").ts.agg(["min", "max"])
        for c, row in agg.iterrows():
            cl = self.client(int(c))
            cl.first = min(cl.first, row["min"])
            cl.last = max(cl.last, row["max"])
        for mask, lo, hi in (("served", "first_served", "last_served"), ("ac", "first_refused", "last_refused")):
            sub = frame[frame[mask]]
            if len(sub):
                agg = sub.groupby("c").ts.agg(["min", "max"])
                for c, row in agg.iterrows():
                    cl = self.client(int(c))
                    setattr(cl, lo, min(getattr(cl, lo), row["min"]))
                    setattr(cl, hi, max(getattr(cl, hi), row["max"]))

        # held sessions join the window
        held = _HELD[cat] & (end > ts)
        if held.any():
            self.w_start = np.concatenate([self.w_start, ts[held]])
            self.w_end = np.concatenate([self.w_end, end[held]])
            self.w_client = np.concatenate([self.w_client, client[held]])
            self.watermark = max(self.watermark, float(end[held].max()))
        self.watermark = max(self.watermark, float(np.nanmax(end)))

        # events wait for their concurrency
        ev = _EVENT[cat]
        if ev.any():
            tout = np.where((cat == RESET) | (cat == ABORTED), end, ts)
            rc = _num_col(g, RESP_CONC)
            oc = _num_col(g, ORIG_CONC)
            new = {
                "t": ts[ev],
                "tout": tout[ev],
                "client": client[ev],
                "cat": cat[ev].astype(np.int8),
                "rc": rc[ev],
                "oc": oc[ev],
            }
            self.pending = {k: np.concatenate([self.pending[k], new[k]]) for k in _PEND_FIELDS}
        self.flush()

    # ---- finalization -------------------------------------------------------------------

    def flush(self, final: bool = False) -> None:
        p = self.pending
        n = len(p["t"])
        if not n:
            self._trim_window()
            return
        if final:
            ready = np.ones(n, bool)
        else:
            ready = p["tout"] <= self.watermark - self.opts.horizon
            if n - ready.sum() > self.opts.max_pending:
                # too many waiting: finalize the oldest down to half the cap
                keep = self.opts.max_pending // 2
                cutoff = np.sort(p["tout"])[n - keep - 1]
                ready |= p["tout"] <= cutoff
        if ready.any():
            batch = {k: v[ready] for k, v in p.items()}
            self.pending = {k: v[~ready] for k, v in p.items()}
            self._finalize(batch)
        self._trim_window()

    def _trim_window(self) -> None:
        if not len(self.w_start):
            return
        cutoff = self.watermark - self.opts.horizon
        if len(self.pending["t"]):
            cutoff = min(cutoff, float(self.pending["t"].min()))
        keep = self.w_end > cutoff
        if len(keep) - keep.sum() > 0:
            self.w_start, self.w_end, self.w_client = self.w_start[keep], self.w_end[keep], self.w_client[keep]
        if len(self.w_start) > self.opts.max_window:
            order = np.argsort(self.w_end)[-self.opts.max_window :]
            self.w_start, self.w_end, self.w_client = self.w_start[order], self.w_end[order], self.w_client[order]

    def _finalize(self, b: dict[str, np.ndarray]) -> None:
        order = np.argsort(b["tout"], kind="stable")
        b = {k: v[order] for k, v in b.items()}
        t, tout, client, cat = b["t"], b["tout"], b["client"], b["cat"].astype(np.intp)
        rc, oc = b["rc"].copy(), b["oc"].copy()
        self.zeek_conc += int(np.isfinite(rc).sum())
        need = ~np.isfinite(rc)
        if need.any():
            self.computed_conc += int(need.sum())
            rc[need] = _open_counts(self.w_start, self.w_end, t[need])
        need = ~np.isfinite(oc) & (client >= 0)
        if need.any():
            oc[need] = _open_counts_by_client(self.w_start, self.w_end, self.w_client, t[need], client[need])

        # concurrency histograms per category
        for k in np.unique(cat):
            sel = cat == k
            self.conc[k].update(_int_counts(rc[sel]))
            self.cconc[k].update(_int_counts(oc[sel]))
        ac = _ACCEPT_CLOSE[cat]
        if ac.any():
            frame = pd.DataFrame({"c": client[ac], "rc": rc[ac], "oc": oc[ac]}).dropna()
            for (c, v), n in frame.groupby(["c", "rc"]).size().items():
                self.client(int(c)).fail_conc[int(v)] += int(n)
            for (c, v), n in frame.groupby(["c", "oc"]).size().items():
                self.client(int(c)).fail_cconc[int(v)] += int(n)

        self._bins(tout, cat)
        ok = cat == SERVED
        bad = _DOOR[cat] | (cat == REPLY_ONLY)
        self.pts_ok.add(t[ok], rc[ok], cat[ok].astype(np.int8))
        self.pts_bad.add(t[bad], rc[bad], cat[bad].astype(np.int8))
        self._amid(tout, client, cat)
        self._runs(t, tout, client, cat)

    def _bins(self, tout: np.ndarray, cat: np.ndarray) -> None:
        fin = np.isfinite(tout)
        tout, cat = tout[fin], cat[fin]
        if not len(tout):
            return
        keys = np.floor(tout / self.bin_width).astype(np.int64)
        pairs, counts = np.unique(np.stack([keys, cat.astype(np.int64)]), axis=1, return_counts=True)
        for (key, k), n in zip(pairs.T, counts, strict=False):
            arr = self.bins.get(int(key))
            if arr is None:
                arr = self.bins[int(key)] = np.zeros(NCAT, np.int64)
            arr[k] += n
        while len(self.bins) > self.opts.max_bins:
            self.bin_width *= 2
            merged: dict[int, np.ndarray] = {}
            for key, arr in self.bins.items():
                nk = key // 2
                if nk in merged:
                    merged[nk] = merged[nk] + arr
                else:
                    merged[nk] = arr
            self.bins = merged

    def _amid(self, tout: np.ndarray, client: np.ndarray, cat: np.ndarray) -> None:
        """Count accept-then-close events that had a success by someone within `window` s."""
        pad = self.opts.window
        served_t = tout[cat == SERVED]
        if self.unresolved and len(served_t):
            first = served_t[0]
            for c, tt in self.unresolved:
                if first - tt <= pad:
                    self.client(c).amid += 1
            self.unresolved = []
        ac = np.flatnonzero(_ACCEPT_CLOSE[cat])
        if len(ac):
            ta = tout[ac]
            if len(served_t):
                pos = np.searchsorted(served_t, ta, "left")
                prev_t = np.where(pos > 0, served_t[np.maximum(pos - 1, 0)], self.last_served_t)
                nxt = np.searchsorted(served_t, ta, "right")
                has_next = nxt < len(served_t)
                next_t = np.where(has_next, served_t[np.minimum(nxt, len(served_t) - 1)], np.inf)
            else:
                prev_t = np.full(len(ta), self.last_served_t)
                has_next = np.zeros(len(ta), bool)
                next_t = np.full(len(ta), np.inf)
            amid = (ta - prev_t <= pad) | (next_t - ta <= pad)
            cl = client[ac]
            for c, n in zip(*np.unique(cl[amid], return_counts=True), strict=False):
                self.client(int(c)).amid += int(n)
            waiting = ~amid & ~has_next
            for c, tt in zip(cl[waiting], ta[waiting], strict=False):
                if len(self.unresolved) < 10_000:
                    self.unresolved.append((int(c), float(tt)))
        if len(served_t):
            self.last_served_t = max(self.last_served_t, float(served_t[-1]))

    def _runs(self, t: np.ndarray, tout: np.ndarray, client: np.ndarray, cat: np.ndarray) -> None:
        """Crash windows: maximal time-ordered runs of reset/rejected/unanswered events."""
        rel = _CRASH_FAIL[cat] | _CRASH_BREAK[cat]
        if not rel.any():
            return
        t, tout, client, cat = t[rel], tout[rel], client[rel], cat[rel]
        # when the failure began for that connection: accepted then never served -> its accept time
        affected = np.where((cat == RESET) | (cat == SILENT), t, tout)
        brk = _CRASH_BREAK[cat]
        served_before = np.cumsum(cat == SERVED) - (cat == SERVED)  # successes strictly before i
        rid = np.cumsum(brk)
        fail = np.flatnonzero(~brk)
        break_idx = np.flatnonzero(brk)
        if not len(fail):
            if self.run is not None:
                self._close_run(float(tout[break_idx[0]]) if cat[break_idx[0]] == SERVED else None)
            self.seen_success = self.seen_success or bool((cat == SERVED).any())
            return
        frame = pd.DataFrame(
            {"rid": rid[fail], "t": tout[fail], "a": affected[fail], "c": client[fail], "k": cat[fail]}
        )
        groups = frame.groupby("rid", sort=True)
        stats = groups.agg(n=("t", "size"), start=("t", "min"), end=("t", "max"), first=("a", "min"))
        last_rid = int(rid[-1])
        if self.run is not None and 0 not in stats.index:
            # the batch opens with a break: the carried run ends there
            self._close_run(float(tout[break_idx[0]]) if cat[break_idx[0]] == SERVED else None)
        for r, row in stats.iterrows():
            r = int(r)
            sub = None
            touches = r == 0 or r == last_rid
            if not touches and row["n"] < self.opts.min_crash_events:
                continue
            sub = frame[frame.rid == r]
            if r == 0 and self.run is not None:
                run = self.run
            else:
                if r == 0:
                    preceded = self.seen_success
                else:
                    b = break_idx[r - 1]
                    preceded = self.seen_success or bool(served_before[b] > 0) or cat[b] == SERVED
                run = {
                    "start": float(row["start"]),
                    "first": float(row["first"]),
                    "n": 0,
                    "clients": set(),
                    "kinds": Counter(),
                    "preceded": preceded,
                }
            run["end"] = float(row["end"])
            run["first"] = min(run["first"], float(row["first"]))
            run["n"] += int(row["n"])
            for c in sub.c.unique()[:64]:
                if len(run["clients"]) < 64:
                    run["clients"].add(int(c))
            run["kinds"].update(Counter(CATEGORY_NAMES[int(k)] for k in sub.k))
            self.run = run
            if r < last_rid:
                b = break_idx[r]  # the break that ends run r
                self._close_run(float(tout[b]) if cat[b] == SERVED else None)
        self.seen_success = self.seen_success or bool((cat == SERVED).any())

    def _close_run(self, recovered_at: float | None) -> None:
        run, self.run = self.run, None
        if run is None or run["n"] < self.opts.min_crash_events:
            return
        nclients = len(run["clients"])
        if nclients < 2 and len(self.clients) > 1:
            return  # one client reset again and again is not "everyone"
        if not run["preceded"] and recovered_at is None:
            return
        kinds = dict(run["kinds"])
        door = run["n"] - kinds.get("aborted", 0)
        self.runs.append(
            CrashWindow(
                start=run["start"],
                end=run["end"],
                first_affected=run["first"],
                events=run["n"],
                door_events=door,
                clients=nclients,
                kinds=kinds,
                preceded_by_success=bool(run["preceded"]),
                recovered_at=recovered_at,
            )
        )
        if len(self.runs) > 16:
            self.runs.sort(key=lambda w: -w.events)
            del self.runs[16:]

    # ---- verdict ------------------------------------------------------------------------

    def finish(self) -> ServerDiagnosis:
        self.flush(final=True)
        if self.run is not None:
            self._close_run(None)
        for c, tt in self.unresolved:
            if self.last_served_t >= tt and self.last_served_t - tt <= self.opts.window:
                self.client(c).amid += 1
        self.unresolved = []
        return _verdict(self)


def _text(v: object) -> str:
    """A cell as text; missing -> "" (object-safe: keeps lone surrogates from undecodable bytes)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return v if isinstance(v, str) else str(v)


def _text_array(col: pd.Series) -> np.ndarray:
    """A column as an object array of str, missing -> "".

    Decided once per distinct value, and never through pandas' string dtype, which
    cannot hold the lone surrogates a reader keeps for undecodable bytes.
    """
    codes, uniq = pd.factorize(col.to_numpy(object), use_na_sentinel=True)
    texts = np.array([_text(u) for u in uniq] + [""], dtype=object)
    return texts[codes]  # code -1 (missing) picks the trailing ""


def _text_counts(col: pd.Series) -> dict[str, int]:
    """Non-empty texts of a column and how often each occurs."""
    out: Counter = Counter()
    codes, uniq = pd.factorize(col.to_numpy(object), use_na_sentinel=True)
    if len(uniq):
        for u, n in zip(uniq, np.bincount(codes[codes >= 0], minlength=len(uniq)), strict=False):
            t = _text(u)
            if t and n:
                out[t] += int(n)
    return dict(out)


def _num_col(g: pd.DataFrame, name: str) -> np.ndarray:
    if name not in g:
        return np.full(len(g), np.nan)
    return pd.to_numeric(g[name], errors="coerce").to_numpy(float)


def _int_counts(v: np.ndarray) -> dict[int, int]:
    v = v[np.isfinite(v)]
    if not len(v):
        return {}
    vals, counts = np.unique(v.astype(np.int64), return_counts=True)
    return {int(a): int(b) for a, b in zip(vals, counts, strict=False)}


def _open_counts(w_start: np.ndarray, w_end: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Sessions with start < t < end, for each t (intervals have end > start)."""
    if not len(w_start):
        return np.zeros(len(t))
    s = np.sort(w_start)
    e = np.sort(w_end)
    n = np.searchsorted(s, t, "left") - np.searchsorted(e, t, "right")
    return np.maximum(n, 0).astype(float)


def _open_counts_by_client(
    w_start: np.ndarray, w_end: np.ndarray, w_client: np.ndarray, t: np.ndarray, client: np.ndarray
) -> np.ndarray:
    """Like :func:`_open_counts`, counting only the same client's sessions."""
    sel = w_client >= 0
    w_start, w_end, w_client = w_start[sel], w_end[sel], w_client[sel].astype(np.int64)
    if not len(w_start):
        return np.zeros(len(t))
    base = min(float(w_start.min()), float(t.min()))
    span = max(float(w_end.max()), float(t.max())) - base
    if span * 1e6 >= _US_SHIFT // 2 or not math.isfinite(span):
        out = np.zeros(len(t))
        for c in np.unique(client):
            m = w_client == c
            q = client == c
            out[q] = _open_counts(w_start[m], w_end[m], t[q])
        return out

    def us(x: np.ndarray) -> np.ndarray:
        return np.rint((x - base) * 1e6).astype(np.int64)

    ks = np.sort(w_client * _US_SHIFT + us(w_start))
    ke = np.sort(w_client * _US_SHIFT + us(w_end))
    c = client.astype(np.int64)
    q = c * _US_SHIFT + us(t)
    lo = c * _US_SHIFT
    n = (np.searchsorted(ks, q, "left") - np.searchsorted(ks, lo, "left")) - (
        np.searchsorted(ke, q, "right") - np.searchsorted(ke, lo, "left")
    )
    return np.maximum(n, 0).astype(float)


# --------------------------------------------------------------------------------------
# The accumulator


class ServerDiagnoser:
    """Streaming per-server diagnosis: ``add`` labeled chunks, then ``finish``.

    >>> d = ServerDiagnoser()
    >>> for chunk in label_logs(["conn.log"]):   # doctest: +SKIP
    ...     d.add(chunk)
    >>> [s.summary for s in d.finish()]          # doctest: +SKIP

    Rows that are not TCP, carry no label or the label ``malformed``, and FTP data
    connections (``service == "ftp-data"``) are counted in :attr:`skipped` and
    otherwise ignored: they say nothing about a server's door.
    """

    def __init__(self, options: DiagnoseOptions | None = None, **overrides):
        opts = options or DiagnoseOptions()
        if overrides:
            opts = DiagnoseOptions(**{**asdict(opts), **overrides})
        self.options = opts
        self.servers: dict[tuple[str, int], _Server] = {}
        self.rows = 0
        self.skipped = 0

    def add(self, chunk: pd.DataFrame) -> None:
        """Fold one labeled chunk into the per-server state."""
        n = len(chunk)
        self.rows += n
        if not n:
            return
        missing = [c for c in ("ts", "id.orig_h", "id.resp_h", "id.resp_p", LABEL) if c not in chunk]
        if missing:
            raise MissingColumns(missing)
        label = chunk[LABEL].astype(object)
        cat = label.map(LABEL_CATEGORY)
        keep = cat.notna()
        if "proto" in chunk:
            keep &= chunk["proto"].astype(object).eq("tcp")
        if "service" in chunk:
            codes, uniq = pd.factorize(chunk["service"].to_numpy(object), use_na_sentinel=True)
            data = np.array(["ftp-data" in _text(u) for u in uniq] + [False], bool)[codes]
            keep &= ~data
        ts = pd.to_numeric(chunk["ts"], errors="coerce")
        port = pd.to_numeric(chunk["id.resp_p"], errors="coerce")
        keep &= ts.notna() & port.notna() & chunk["id.resp_h"].notna() & chunk["id.orig_h"].notna()
        self.skipped += int(n - keep.sum())
        if not keep.any():
            return
        g = chunk.loc[keep]
        cat = cat[keep].astype(np.int64).to_numpy()
        ts = ts[keep].to_numpy(float)
        dur = pd.to_numeric(g["duration"], errors="coerce").to_numpy(float) if "duration" in g else np.zeros(len(g))
        end = ts + np.where(np.isfinite(dur) & (dur > 0), dur, 0.0)
        # a client that only heard the server and hung up: maybe a refusal (see _limit)
        if "orig_bytes" in g and "resp_bytes" in g:
            ob = pd.to_numeric(g["orig_bytes"], errors="coerce").to_numpy(float)
            rb = pd.to_numeric(g["resp_bytes"], errors="coerce").to_numpy(float)
            lab = g[LABEL].astype(object).to_numpy()
            ccs = (lab == "client_closed_silent") & (ob == 0)
            cat = np.where(ccs & (rb > 0), REPLY_ONLY, cat)
            dur0 = np.where(np.isfinite(dur), dur, 0.0)
            cat = np.where(ccs & (rb == 0) & (dur0 >= WAITED_SECONDS), WAITED, cat)
        if KIND in g:
            kind = _text_array(g[KIND])
            # a known refusal reply makes any accepted connection a refusal
            cat = np.where((kind != "") & np.isin(cat, [SERVED, REPLY_ONLY, NEUTRAL]), REFUSED, cat)
        host = _text_array(g["id.resp_h"])
        port = port[keep].astype(np.int64).to_numpy()
        keys = pd.MultiIndex.from_arrays([host, port])
        codes, uniq = pd.factorize(keys)
        if len(uniq) == 1:
            groups = [(uniq[0], np.arange(len(g)))]
        else:
            order = np.argsort(codes, kind="stable")
            bounds = np.flatnonzero(np.diff(codes[order])) + 1
            groups = [(uniq[codes[idx[0]]], idx) for idx in np.split(order, bounds)]
        for key, idx in groups:
            h, p = str(key[0]), int(key[1])
            srv = self.servers.get((h, p))
            if srv is None:
                srv = self.servers[(h, p)] = _Server(h, p, self.options)
            srv.ingest(g.iloc[idx], cat[idx], ts[idx], end[idx])

    def finish(self) -> list[ServerDiagnosis]:
        """Verdicts for every server seen, worst first."""
        out = [srv.finish() for srv in self.servers.values()]
        return rank(out)


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
        return (d.verdict == "healthy", -d.door_events, -share, _SEVERITY.get(d.verdict, 99), d.host, d.port)

    return sorted(diagnoses, key=key)


def find(diagnoses: Iterable[ServerDiagnosis], spec: str) -> ServerDiagnosis:
    """The diagnosis of ``IP:PORT``; raise :class:`UnknownServer` if there is none."""
    host, port = parse_endpoint(spec)
    diagnoses = list(diagnoses)
    for d in diagnoses:
        if d.host == host and d.port == port:
            return d
    raise UnknownServer(spec, [d.server for d in diagnoses])


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


def _conf(ok_high: bool, ok_medium: bool) -> str:
    return "high" if ok_high else "medium" if ok_medium else "low"


def _verdict(s: _Server) -> ServerDiagnosis:
    opts = s.opts
    cc = s.cat_counts
    door = int(cc[_DOOR].sum())
    served = int(cc[SERVED])
    handshakes = s.accepted
    clients = s.clients + ([s.other] if s.other.counts.any() else [])
    ev_clients = [
        ClientEvidence(
            client=c.ip,
            served=int(c.counts[SERVED]),
            refused=int(c.counts[_ACCEPT_CLOSE].sum()),
            rejected=int(c.counts[REJECTED]),
            no_answer=int(c.counts[NO_ANSWER]),
            other=int(c.counts[[SILENT, ABORTED, MIDDLEBOX, REPLY_ONLY, WAITED]].sum()),
            first_ts=c.first,
            last_ts=c.last,
        )
        for c in clients
        if c.counts.any()
    ]
    ev_clients.sort(key=lambda c: (-(c.refused + c.rejected + c.no_answer), -c.served, c.client))
    kinds = dict(s.kinds)
    ref_hist = s.conc[REFUSED] + s.conc[RESET]
    srv_hist = s.conc[SERVED]
    d = ServerDiagnosis(
        host=s.host,
        port=s.port,
        verdict="healthy",
        confidence="high",
        summary="",
        connections=int(cc.sum()),
        door_events=door,
        served=served,
        label_counts=dict(s.labels.most_common()),
        first_ts=s.first,
        last_ts=s.last,
        refusal_kinds=kinds,
        replies=dict(s.replies.most_common()),
        clients=ev_clients,
        crash_windows=sorted(s.runs, key=lambda w: w.start),
        concurrency_refused=dict(sorted(ref_hist.items())),
        concurrency_served=dict(sorted(srv_hist.items())),
        client_concurrency_refused=dict(sorted((s.cconc[REFUSED] + s.cconc[RESET]).items())),
        client_concurrency_served=dict(sorted(s.cconc[SERVED].items())),
        resets_after_client_data=s.reset_after_data,
        concurrency_source=(
            "project Zeek log (resp_concurrent)"
            if s.zeek_conc and not s.computed_conc
            else "conn.log intervals"
            if not s.zeek_conc
            else "project Zeek log where joined, conn.log intervals elsewhere"
        ),
        timeline={
            "width": s.bin_width,
            "bins": {k: v.tolist() for k, v in sorted(s.bins.items())},
            "categories": list(CATEGORY_NAMES),
        },
        samples={
            "t": np.concatenate([s.pts_ok.t, s.pts_bad.t]).tolist(),
            "concurrency": np.concatenate([s.pts_ok.c, s.pts_bad.c]).tolist(),
            "category": [CATEGORY_NAMES[k] for k in np.concatenate([s.pts_ok.k, s.pts_bad.k])],
        },
    )
    ep = d.server
    if s.other.counts.any():
        d.notes.append(f"more than {opts.max_clients} clients: the rest are pooled as '(other clients)'")

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
        text["port_closed"] = (
            f"port closed: {r}/{door} connection attempt(s) from {_nclients(s, REJECTED)} client(s) "
            f"answered with RST, never accepted"
        )
    if handshakes == 0 and cc[NO_ANSWER]:
        n = int(cc[NO_ANSWER])
        cands["filtered"] = n
        conf["filtered"] = _conf(n >= 3 and n == door, n >= 2)
        text["filtered"] = (
            f"filtered: {n}/{door} SYN(s) from {_nclients(s, NO_ANSWER)} client(s) never answered; "
            f"no handshake ever completed"
        )
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
    denied = []
    for c in s.clients:
        n_ac = int(c.counts[_ACCEPT_CLOSE].sum())
        if c.counts[SERVED] == 0 and n_ac >= opts.min_refusals and c.amid >= 0.8 * n_ac:
            denied.append(c)
    if denied:
        lo = min(c.first_refused for c in denied) - opts.window
        hi = max(c.last_refused for c in denied) + opts.window
        names = {c.ip for c in denied}
        others = [
            c
            for c in s.clients
            if c.ip not in names and c.counts[SERVED] and c.first_served <= hi and c.last_served >= lo
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
    c_ref = s.cconc[REFUSED] + s.cconc[RESET]
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
        d.summary = f"{ep} — undetermined: {_door_txt(s, door)}; no pattern (client, concurrency, time) explains them"
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
    d.summary = f"{ep} — {d.verdict}: {_door_txt(s, door)}; " + parts
    return _keep_chosen(d)


def _keep_chosen(d: ServerDiagnosis) -> ServerDiagnosis:
    """Keep a limit estimate only when it is part of the verdict."""
    if "connection_limit" not in d.components:
        d.limit = None
    if "per_client_limit" not in d.components:
        d.client_limit = None
    if "ip_allowlist" not in d.components:
        d.allowlist = None
    return d


def _reply_only_limit(s: _Server, ref_hist: Counter, srv_hist: Counter, opts: DiagnoseOptions) -> LimitEstimate | None:
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


def _nclients(s: _Server, cat: int) -> int:
    return sum(1 for c in s.clients + [s.other] if c.counts[cat])


def _door_txt(s: _Server, door: int) -> str:
    parts = [
        f"{int(s.cat_counts[k])} {CATEGORY_NAMES[k]}"
        for k in (REFUSED, RESET, REJECTED, NO_ANSWER, SILENT, MIDDLEBOX)
        if s.cat_counts[k]
    ]
    return f"{door} door event(s) ({', '.join(parts)}) out of {int(s.cat_counts.sum())}"


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
    "parse_endpoint",
    "rank",
    "why",
]

