"""Label every TCP connection: who slammed the door, at which layer, and why.

The rules are those of the project's label table (README, "Labels").  A
decision is made once per distinct *pattern* — history, state, which sides
sent payload, timing class, port class, reply meaning, TTL class — and then
spread to every row of that pattern, because a sensor's millions of rows hold
only a few hundred patterns.  Only the ``reason`` sentence is filled per row,
and only for door events and rare kinds (the rows an analyst reads); common
labels name no per-row evidence, which the row's own columns hold anyway.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from . import replies
from .ahead import ahead
from .columns import Columns, FrameColumns, JoinedColumns, first_seen, first_seen_texts
from .facts import SlamFacts
from .history import HistoryError, decode
from .read import (
    CHUNK_ROWS,
    CONN,
    FRAME_CHUNK_ROWS,
    LABEL_COLUMNS,
    SLAM,
    Inputs,
    LogChunk,
    NotAZeekLog,
    find_inputs,
    read_log,
)

if TYPE_CHECKING:
    import pandas as pd

#: The columns zeekslam adds to every row, in output order.
LABEL_FIELDS = ["slam.label", "slam.layer", "slam.closer", "slam.confidence",
                "slam.refusal_kind", "slam.reply", "slam.reason"]

#: The fields a verdict holds for every row of its pattern: LABEL_FIELDS before the reply and reason.
VERDICT_FIELDS = ("label", "layer", "closer", "confidence", "refusal_kind")

#: Each label's layer (README table).
LAYERS = {
    "slammed": "application", "refused_with_reply": "application", "server_silent": "application",
    "idle_closed": "application", "reset_after_accept": "tcp_stack", "rejected": "tcp_stack",
    "reset_by_responder": "tcp_stack", "no_answer": "network", "reset_by_middlebox": "network",
    "client_closed_silent": "client", "reset_by_originator": "client", "attempt_aborted": "client",
    "completed": "none", "midstream": "unknown", "malformed": "unknown",
}
#: Labels that mean the server turned a client away (the door events).
DOOR_LABELS = frozenset({"slammed", "refused_with_reply", "reset_after_accept", "rejected",
                         "no_answer", "server_silent", "reset_by_middlebox"})

#: Protocols in which the server speaks first, by port and by Zeek service name.
SERVER_FIRST_PORTS = frozenset({21, 22, 23, 25, 110, 143, 587, 2121, 3306, 5900})
SERVER_FIRST_SERVICES = frozenset({"ftp", "smtp", "pop3", "imap", "ssh", "mysql", "vnc", "rfb"})

#: Text columns only reason sentences (and frames) read: parsed when asked, not for every row.
TEXT_FOR_REASONS = ("uid", "id.orig_h", "id.resp_h")

#: Columns of the project's slam.log that refine a label, joined on uid.
SLAM_FACT_COLUMNS = [
    "closer", "close_kind", "close_delay", "orig_data_delay", "resp_data_delay",
    "ftp_reply_code", "ftp_reply_msg", "ftp_last_reply_code", "ftp_last_reply_msg",
    "smtp_reply_code", "smtp_reply_msg", "resp_concurrent", "orig_concurrent",
    "resp_ttl_synack", "resp_ttl_close",
]


@dataclass(frozen=True)
class LabelOptions:
    """Thresholds of the labeler; every one is a CLI option too."""

    #: A close this soon after the handshake (s) is "prompt": the door was slammed.
    prompt: float = 10.0
    #: A silence this long (s) before a close is a "long wait" (idle timeout, silent server).
    long_wait: float = 60.0
    #: A responder-only message larger than this (bytes) is a transfer, not a refusal.
    short_reply_max: int = 1024
    #: Ports on which the server speaks first (FTP, SMTP, SSH ...).
    server_first_ports: frozenset[int] = field(default=SERVER_FIRST_PORTS)


class Pattern(NamedTuple):
    """Everything a label depends on, for one distinct kind of row."""

    proto: str
    history: str
    state: str
    service: str  # "ftp-data", "server_first", "other" or ""
    server_first: bool
    orig_payload: bool
    resp_size: int  # 0 none, 1 short message, 2 large transfer
    timing: str  # "prompt", "mid", "long" or "" (unknown)
    gaps: bool
    reply_kind: str  # replies.WELCOME / REFUSAL / TIMEOUT / OTHER, or "" (unknown)
    refusal_kind: str
    ttl: str  # "same", "differs" or ""
    slam_closer: str
    slam_close_kind: str


@dataclass(frozen=True)
class Verdict:
    label: str
    closer: str
    confidence: str
    refusal_kind: str
    reason: str  # may hold {server} {client} {delay} {resp_bytes} {orig_bytes} {reply}

    @property
    def layer(self) -> str:
        return LAYERS.get(self.label, "")


_LOWER = {"high": "medium", "medium": "low", "low": "low"}


def decide(p: Pattern) -> Verdict:
    """Label one pattern.  Pure; the table in the README is its specification."""
    if p.proto != "tcp":
        return Verdict("", "", "", "", "")
    try:
        h = decode(p.history)
    except HistoryError:
        return _state_only(p, f"history {_lit(repr(p.history))} holds letters Zeek never writes; ")
    if not p.history:
        return _state_only(p, "no history in this log; ")
    v = _decide_history(p, h)
    confidence = v.confidence
    caveats = []
    if p.gaps or h.gaps:
        caveats.append("content gaps (packet loss)")
    if h.flipped:
        caveats.append("Zeek flipped the direction")
    if h.partial:
        caveats.append("Zeek analysed it only in part")
    for _ in caveats:
        confidence = _LOWER[confidence]
    reason = v.reason + (f" Caveat: {', '.join(caveats)}." if caveats else "")
    return Verdict(v.label, v.closer, confidence, v.refusal_kind, reason)


def _state_only(p: Pattern, why: str) -> Verdict:
    """Fall back on conn_state when the history cannot be used."""
    by_state = {
        "REJ": ("rejected", "resp", "SYN answered by RST"),
        "S0": ("no_answer", "", "SYN with no reply"),
        "RSTOS0": ("attempt_aborted", "orig", "originator sent SYN then RST"),
        "SF": ("completed", "", "closed normally"),
        "S1": ("completed", "", "established, still open"),
        "RSTO": ("reset_by_originator", "orig", "originator reset"),
        "RSTR": ("reset_by_responder", "resp", "responder reset"),
    }
    label, closer, text = by_state.get(p.state, ("midstream", "", "not enough evidence"))
    return Verdict(label, closer, "low", "", f"{why}judged from conn_state {_lit(p.state) or '-'} alone: {text}.")


def _decide_history(p: Pattern, h) -> Verdict:  # noqa: PLR0911, PLR0912 - one branch per table row
    if h.midstream:
        return Verdict("midstream", h.closer, "low", "",
                       f"no SYN from the originator was seen (history {_lit(p.history)}, state {_lit(p.state)}): "
                       "the capture started mid-connection or saw one direction only.")
    # Scans make these by the million: their sentences name no per-row evidence (the row's own
    # columns hold the addresses), so they are made once per pattern.
    if not h.synack:
        if h.closer == "resp" and h.close_kind == "RST":
            return Verdict("rejected", "resp", "high", "",
                           "the server answered the client's SYN with RST: nothing listens on the port, "
                           "or a firewall rejects it.")
        if h.closer == "orig" and h.close_kind == "RST":
            return Verdict("attempt_aborted", "orig", "high", "",
                           "the client sent SYN then RST with no SYN-ACK seen: the client gave up (or a scan).")
        return Verdict("no_answer", "", "high" if p.state == "S0" else "medium", "",
                       "the client's SYN got no reply: filtered, host down, "
                       "or the SYN was dropped (listen queue full).")
    if not h.handshake:
        return Verdict("attempt_aborted", h.closer or "orig", "high" if h.orig_rst else "medium", "",
                       "the server answered with SYN-ACK but the client never acknowledged it"
                       + (" and reset instead (a SYN scan or an aborted connect)." if h.orig_rst else "."))
    closer = h.closer or p.slam_closer
    kind = h.close_kind or p.slam_close_kind
    orig_spoke = h.orig_data_before_close or (p.orig_payload and not h.closer)
    resp_spoke = h.resp_data_before_close or (p.resp_size > 0 and not h.closer)
    if p.service == "ftp-data" and (h.orig_data or h.resp_data):
        return Verdict("completed", closer, "high", "", "an FTP data transfer, closed after the transfer.")
    if not closer:
        if h.orig_data or h.resp_data:
            return Verdict("completed", "", "medium", "",
                           "data was exchanged and no close was seen (still open at the end of the log).")
        return Verdict("completed", "", "low", "",
                       "handshake completed, no payload and no close seen (still open, state "
                       f"{_lit(p.state)}).")
    if closer == "resp" and kind == "RST":
        if p.ttl == "differs":
            return Verdict("reset_by_middlebox", "resp", "high", "",
                           "a reset 'from' {server} arrived with a TTL unlike the server's SYN-ACK: "
                           "a firewall, IPS or router forged it.")
        if not resp_spoke:
            unread = (" {client} had already sent data, so even a deliberate close() by the application "
                      "becomes an RST on Linux (RFC 2525 2.17).") if orig_spoke else ""
            return Verdict("reset_after_accept", "resp", "high" if not orig_spoke else "medium", "",
                           "{server} accepted the handshake from {client}, sent nothing and reset "
                           "{delay} after the start: an abortive close (crash or kill, SO_LINGER 0, "
                           "accept-queue abort)." + unread)
        return Verdict("reset_by_responder", "resp", "high", "",
                       "the server reset the connection after data was exchanged.")
    if closer == "orig" and kind == "RST":
        if orig_spoke or resp_spoke:
            if p.reply_kind == replies.REFUSAL and not orig_spoke:
                return _refused(p, "resp")
            return Verdict("reset_by_originator", "orig", "high", "",
                           "the client reset the connection after data was exchanged.")
        return _client_silent(p, "RST")
    if closer == "resp":  # FIN from the server first
        if p.reply_kind == replies.REFUSAL:
            return _refused(p, "resp")
        if orig_spoke:
            if not resp_spoke:
                return Verdict("slammed", "resp", "medium", "",
                               "{server} closed with FIN {delay} after the start without a byte in reply "
                               "to the {orig_bytes} bytes {client} sent.")
            return Verdict("completed", "resp", "high", "", "data exchanged both ways; the server closed first.")
        if not resp_spoke:
            if p.timing == "long":
                return Verdict("idle_closed", "resp", "medium", "",
                               "{server} closed with FIN after a long silence ({delay}); neither side sent "
                               "data: a server idle timeout.")
            return Verdict("slammed", "resp", "high" if p.timing == "prompt" else "medium", "",
                           "{server} closed with FIN {delay} after the handshake; neither side sent data: "
                           "the application accepted, then closed at once (IP allow-list, tcpwrappers, "
                           "a silent connection limit).")
        # The server spoke, the client did not, the server closed.
        if p.resp_size == 2:
            return Verdict("completed", "resp", "medium", "", "a one-way transfer from the server, then FIN.")
        if p.reply_kind in (replies.WELCOME, replies.TIMEOUT):
            return Verdict("idle_closed", "resp", "high", "",
                           "{server} greeted {client} ({reply}), the client never spoke, and the server "
                           "closed {delay} after the start: an idle timeout, not a refusal.")
        if p.timing == "long":
            return Verdict("idle_closed", "resp", "medium", "",
                           "{server} sent {resp_bytes} bytes, the client never spoke, and the server "
                           "closed {delay} after the start: most likely a greeting then an idle timeout.")
        return Verdict("refused_with_reply", "resp", "medium" if not p.reply_kind else "high", "",
                       "{server} sent one short message ({resp_bytes} bytes) and closed with FIN {delay} "
                       "after the start; {client} sent nothing: a polite refusal (without the reply "
                       "text a greeting followed by a timeout looks the same; the project's Zeek script "
                       "records it).")
    # The client closed first with FIN.
    if orig_spoke:
        return Verdict("completed", "orig", "high", "", "data exchanged; the client closed first.")
    if resp_spoke:
        if p.reply_kind == replies.REFUSAL:
            return _refused(p, "orig")
        if p.service == "ftp-data" or p.resp_size == 2:
            return Verdict("completed", "orig", "medium", "", "a one-way transfer from the server.")
        return Verdict("client_closed_silent", "orig", "medium", "",
                       "the client read a short message from the server and closed first without "
                       "sending anything.")
    return _client_silent(p, "FIN")


#: The timing class in words, for sentences made once per pattern (no per-row delay).
_WHEN = {"prompt": " soon after the start", "mid": " a while after the start", "long": " after a long wait", "": ""}


def _refused(p: Pattern, closer: str) -> Verdict:
    kind = p.refusal_kind or replies.UNAVAILABLE
    return Verdict("refused_with_reply", closer, "high", kind,
                   "{server} refused {client} with '{reply}' and the connection closed {delay} after the "
                   f"start: a polite refusal ({kind}).")


def _client_silent(p: Pattern, how: str) -> Verdict:
    if p.timing == "long" and p.server_first:
        return Verdict("server_silent", "orig", "medium", "",
                       "{client} waited {delay} for {server} to greet it on a server-speaks-first port, "
                       f"heard nothing and closed with {how}: a hung or overloaded application.")
    return Verdict("client_closed_silent", "orig", "high" if p.timing == "prompt" else "medium", "",
                   f"the client closed first with {how}{_WHEN[p.timing]}; neither side sent data "
                   "(a health check, connect() scan or preconnect).")


# ---------------------------------------------------------------------------
# Vectorised application to a chunk's columns


def _pattern_ids(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct combinations of the key columns 0, 1, ... in order of first appearance;
    and the first row of each."""
    combined = np.zeros(len(keys[0]), dtype=np.int64)
    span = 1
    for key in keys:
        key = np.asarray(key, dtype=np.int64)
        size = int(key.max()) + 1 if len(key) else 1
        if size == 1:  # all zero (an absent column): adds nothing
            continue
        if span * size >= 2**62:  # too many combinations for one int64: renumber what we have so far
            combined = np.unique(combined, return_inverse=True)[1].astype(np.int64)
            span = int(combined.max()) + 1 if len(combined) else 1
        combined += key * span
        span *= size
    ids, _ = first_seen(combined)  # a hash table, not a sort
    # Codes are numbered by first appearance: a pattern's first row is where the running maximum grows.
    running = np.maximum.accumulate(ids)
    first = np.flatnonzero(np.concatenate(([True], running[1:] > running[:-1])))
    return ids, first


def _reply_columns(cols: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The server's first reply per row, from slam.log facts: (code, text code, distinct texts)."""
    n = len(cols)
    if not cols.has("ftp_reply_code") and not cols.has("smtp_reply_code"):
        return np.full(n, np.nan), np.zeros(n, np.intp), np.array([""], dtype=object)  # stock conn.log
    code = _finite(cols.numbers("ftp_reply_code"))
    msg_codes, msg_u = cols.codes("ftp_reply_msg")
    smtp_code = _finite(cols.numbers("smtp_reply_code"))
    use_smtp = np.isnan(code) & ~np.isnan(smtp_code)
    if use_smtp.any():
        code = np.where(use_smtp, smtp_code, code)
        smtp_codes, smtp_u = cols.codes("smtp_reply_msg")
        msg_codes = np.where(use_smtp, smtp_codes + len(msg_u), msg_codes)
        msg_u = np.concatenate([msg_u, smtp_u])
    return code, msg_codes, msg_u


def _finite(values: np.ndarray) -> np.ndarray:
    """NaN for what is no usable number: a log's "1e400" parses as infinity."""
    return np.where(np.isfinite(values), values, np.nan)


def _is_server_first_port(port: np.ndarray, ports: frozenset[int]) -> np.ndarray:
    """Which rows' server port is one where the server speaks first (a lookup table, not np.isin)."""
    table = np.zeros(65536, dtype=bool)
    table[[p for p in ports if 0 <= p < 65536]] = True
    valid = (port >= 0) & (port < 65536)  # NaN and a hostile 1e99 are no port
    return table[np.where(valid, port, 0).astype(np.intp)] & valid


def _empty_texts(n: int) -> np.ndarray:
    """n empty strings (an object array; np.full is 4x slower at filling objects)."""
    texts = np.empty(n, dtype=object)
    texts[:] = ""
    return texts


def _fmt_seconds(value: float) -> str:
    if value is None or math.isnan(value):
        return "an unknown time"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.1f} s"


@dataclass(frozen=True)
class PatternIndex:
    """Which pattern each row of a labeled chunk has, so writers can work per pattern.

    ``first[p]`` is a row of pattern ``p``; ``row_specific`` marks the rows whose
    ``slam.*`` values are their own (a reason naming the row's evidence, a reply,
    a malformed line) rather than their pattern's.
    """

    ids: np.ndarray
    first: np.ndarray
    row_specific: np.ndarray


@dataclass
class Labels:
    """The ``slam.*`` values of a chunk's rows, held per pattern where they are the pattern's.

    Writers that work per pattern read ``verdicts`` and ``patterns``; :meth:`column`
    gives any one field per row, and :meth:`frame` all of them as a pandas frame.
    """

    verdicts: list[Verdict]
    patterns: PatternIndex
    reply: np.ndarray  # per row, '' when there is no reply text
    make_reason: Callable[[], np.ndarray]  # see ``reason``
    errors: dict[int, str]  # row -> "file:line: malformed line: what"
    replied: bool = True  # False: every row's reply is '' (no slam.log facts), nothing to look at

    @functools.cached_property
    def reason(self) -> np.ndarray:
        """Per row, the pattern's sentence filled with the row's evidence (made on first use)."""
        return self.make_reason()

    def __len__(self) -> int:
        return len(self.patterns.ids)

    def pattern_values(self, name: str) -> np.ndarray:
        """One field's value for each pattern (not for the rows)."""
        attr = name.split(".", 1)[1]
        return np.array([getattr(v, attr) for v in self.verdicts], dtype=object)

    def column(self, name: str) -> np.ndarray:
        """One ``slam.*`` field for every row (an object array)."""
        if name == "slam.reply":
            values = self.reply.copy()
        elif name == "slam.reason":
            values = self.reason.copy()
        else:
            values = self.pattern_values(name)[self.patterns.ids]
        if self.errors:
            rows = np.fromiter(self.errors, dtype=np.int64)
            if name == "slam.reason":
                values[rows] = list(self.errors.values())
            else:
                values[rows] = {"slam.label": "malformed", "slam.layer": "unknown"}.get(name, "")
        return values

    def distinct(self) -> tuple[list[list[str]], np.ndarray]:
        """The ``slam.*`` values as (distinct value lists in LABEL_FIELDS order, which one each row
        has): one list per pattern, and one per row whose values are its own (a reason naming its
        evidence, a reply, a malformed line).  Writers format each list once."""
        ids, first = self.patterns.ids, self.patterns.first
        per_pattern = [[getattr(v, name) for name in VERDICT_FIELDS] for v in self.verdicts]
        values = [[*row, reply, reason] for row, reply, reason in
                  zip(per_pattern, self.reply[first].tolist(), self.reason[first].tolist())]
        rows = np.flatnonzero(self.patterns.row_specific)
        if not len(rows):
            return values, ids
        for row, pattern, reply, reason in zip(rows.tolist(), ids[rows].tolist(), self.reply[rows].tolist(),
                                               self.reason[rows].tolist()):
            if row in self.errors:
                values.append(["malformed", "unknown", "", "", "", "", self.errors[row]])
            else:
                values.append([*per_pattern[pattern], reply, reason])
        index = ids.copy()
        index[rows] = len(values) - len(rows) + np.arange(len(rows))
        return values, index

    def counts(self) -> dict[str, int]:
        """How many rows have each label."""
        ids = self.patterns.ids
        if self.errors:  # malformed rows count as such, not as their pattern
            ids = ids.copy()
            ids[np.fromiter(self.errors, dtype=np.int64)] = len(self.verdicts)
        per_pattern = np.bincount(ids, minlength=len(self.verdicts) + 1).tolist()
        counts: dict[str, int] = {}
        for verdict, count in zip(self.verdicts, per_pattern):
            if count:
                counts[verdict.label] = counts.get(verdict.label, 0) + count
        if per_pattern[-1]:
            counts["malformed"] = counts.get("malformed", 0) + per_pattern[-1]
        return counts

    def frame(self, index=None) -> pd.DataFrame:
        import pandas as pd

        # Explicit object dtype: pandas 3 would otherwise convert every string column to Arrow.
        return pd.DataFrame({name: pd.Series(self.column(name), index=index, dtype=object)
                             for name in LABEL_FIELDS})


def label_frame(frame: pd.DataFrame, options: LabelOptions | None = None,
                errors: dict[int, str] | None = None, where: Sequence[str] | None = None) -> pd.DataFrame:
    """Return ``frame`` with the ``slam.*`` columns added (a new frame).

    ``errors`` maps row positions to what is wrong with them: those rows get
    the label ``malformed`` and a reason naming ``where[pos]`` (file:line).
    """
    return label_with_patterns(frame, options, errors, where)[0]


def label_with_patterns(frame: pd.DataFrame, options: LabelOptions | None = None, errors: dict[int, str] | None = None,
                        where: Sequence[str] | None = None) -> tuple[pd.DataFrame, PatternIndex | None]:
    """:func:`label_frame`, and the pattern of each row."""
    import pandas as pd

    if len(frame) == 0:
        out = frame.copy()
        for name in LABEL_FIELDS:
            out[name] = pd.Series(dtype=object)
        return out, None
    labels = label_columns(FrameColumns(frame), options, errors, where)
    return pd.concat([frame, labels.frame(frame.index)], axis=1), labels.patterns


def label_columns(cols: Columns, options: LabelOptions | None = None, errors: dict[int, str] | None = None,
                  where: Sequence[str] | None = None) -> Labels:
    """Label the rows of one chunk's columns (at least one row)."""
    opts = options or LabelOptions()
    n = len(cols)
    proto_codes, proto_u = cols.codes("proto")
    hist_codes, hist_u = cols.codes("history")
    state_codes, state_u = cols.codes("conn_state")
    serv_codes, serv_u = cols.codes("service")
    serv_class = np.array([service_class(s) for s in serv_u], dtype=object)
    resp_p = cols.numbers("id.resp_p")
    server_first_port = _is_server_first_port(resp_p, opts.server_first_ports)
    orig_bytes = cols.numbers("orig_bytes")
    resp_bytes = cols.numbers("resp_bytes")
    resp_size = np.where(resp_bytes > opts.short_reply_max, 2, np.where(resp_bytes > 0, 1, 0))
    delay = cols.numbers("duration")
    if cols.has("close_delay"):  # slam.log's, where it has one
        close_delay = cols.numbers("close_delay")
        delay = np.where(np.isnan(close_delay), delay, close_delay)
    # 0 unknown, 1 prompt, 3 long, 2 between (as np.select would pick: the first that holds)
    timing = np.full(n, 2, dtype=np.int8)
    timing[delay >= opts.long_wait] = 3
    timing[delay <= opts.prompt] = 1
    timing[np.isnan(delay)] = 0
    gaps = cols.numbers("missed_bytes") > 0  # NaN (unset) compares False
    reply_code, msg_codes, msg_u = _reply_columns(cols)
    has_reply = ~np.isnan(reply_code)
    if has_reply.any():
        # each distinct (code, text) once: its key and reply text made once, not once per row
        code_ids = first_seen(reply_code.view(np.int64))[0]  # _finite: one NaN, the same bits
        combo, combo_first = _pattern_ids([code_ids, msg_codes])
        combo_code = reply_code[combo_first].tolist()
        combo_msg = msg_u[msg_codes[combo_first]].tolist()
        keys = [f"{int(c) if c == c else -1}\x00{m}" for c, m in zip(combo_code, combo_msg, strict=True)]
        key_codes, reply_u = first_seen_texts(np.array(keys, dtype=object))
        reply_codes = key_codes[combo]
        combo_reply = np.array([_reply_text(c, m) if c == c else ""
                                for c, m in zip(combo_code, combo_msg, strict=True)], dtype=object)
    else:  # stock conn.log: no reply facts, one (empty) reply for every row
        reply_codes, reply_u = np.zeros(n, dtype=np.intp), np.array([""], dtype=object)
    if cols.has("resp_ttl_synack") and cols.has("resp_ttl_close"):
        ttl_a, ttl_b = cols.numbers("resp_ttl_synack"), cols.numbers("resp_ttl_close")
        ttl = np.where(np.isnan(ttl_a) | np.isnan(ttl_b), 0, np.where(ttl_a != ttl_b, 2, 1))
    else:  # stock conn.log
        ttl = np.zeros(n, dtype=np.int8)
    sc_codes, sc_u = cols.codes("closer")
    sk_codes, sk_u = cols.codes("close_kind")

    orig_payload = orig_bytes > 0
    # the small facts as one number (of 2 * 2 * 3 * 4 * 2 * 3 values), so the key has fewer parts
    small = (server_first_port + 2 * orig_payload + 4 * resp_size.astype(np.int16) + 12 * timing.astype(np.int16)
             + 48 * gaps + 96 * ttl.astype(np.int16))
    ids, first = _pattern_ids([proto_codes, hist_codes, state_codes, serv_codes, small, reply_codes, sc_codes,
                               sk_codes])
    timing_names = ("", "prompt", "mid", "long")
    ttl_names = ("", "same", "differs")
    # each pattern's fields read at its first row, a column at a time (not a numpy scalar each)
    columns = zip(proto_u[proto_codes[first]].tolist(), hist_u[hist_codes[first]].tolist(),
                  state_u[state_codes[first]].tolist(), serv_class[serv_codes[first]].tolist(),
                  server_first_port[first].tolist(), orig_payload[first].tolist(), resp_size[first].tolist(),
                  timing[first].tolist(), gaps[first].tolist(), reply_u[reply_codes[first]].tolist(),
                  ttl[first].tolist(), sc_u[sc_codes[first]].tolist(), sk_u[sk_codes[first]].tolist(), strict=True)
    verdicts: list[Verdict] = []
    for proto, history, state, service, sfp, payload, size, when, gap, reply_text, same_ttl, closer, close_kind \
            in columns:
        if reply_text and not reply_text.startswith("-1\x00"):
            code_text, _, msg_text = reply_text.partition("\x00")
            meaning = replies.classify(int(code_text), msg_text)
            rkind, rrefusal = meaning.kind, meaning.refusal_kind
        else:
            rkind = rrefusal = ""
        pattern = Pattern(
            proto=str(proto).lower(),
            history=str(history),
            state=str(state),
            service=service,
            server_first=sfp or service == "server_first",
            orig_payload=payload,
            resp_size=size,
            timing=timing_names[when],
            gaps=gap,
            reply_kind=rkind,
            refusal_kind=rrefusal,
            ttl=ttl_names[same_ttl],
            slam_closer=str(closer),
            slam_close_kind=str(close_kind),
        )
        verdicts.append(_decide_cached(pattern))

    reply = _empty_texts(n)
    if has_reply.any():
        reply[has_reply] = combo_reply[combo[has_reply]]
    sentences = [v.reason for v in verdicts]
    names_evidence = np.array([_NAMES_EVIDENCE.search(s) is not None for s in sentences], dtype=bool)
    row_specific = names_evidence[ids]
    # Per-row evidence only where the sentence names it; made when first asked for (by the
    # writer, a thread of its own), not here.
    def make_reason() -> np.ndarray:
        if not any("{" in s or "}" in s for s in sentences):
            return np.array(sentences, dtype=object)[ids]
        # The addresses of the rows that name them, fetched in one go (not per pattern).
        need = np.flatnonzero(names_evidence[ids])
        at = np.zeros(n, dtype=np.intp)
        at[need] = np.arange(len(need))
        server_h = cols.texts("id.resp_h", need)
        client = cols.texts("id.orig_h", need)
        evidence = {
            "server": lambda rows: [f"server {h}:{int(p) if math.isfinite(p) else '?'}"
                                    for h, p in zip(server_h[at[rows]], resp_p[rows].tolist())],
            "client": lambda rows: [f"client {c}" for c in client[at[rows]]],
            "delay": lambda rows: [_fmt_seconds(v) for v in delay[rows].tolist()],
            "resp_bytes": lambda rows: [_fmt_count(v) for v in resp_bytes[rows].tolist()],
            "orig_bytes": lambda rows: [_fmt_count(v) for v in orig_bytes[rows].tolist()],
            "reply": lambda rows: [r or "no reply text" for r in reply[rows]],
        }
        return _fill_reasons(sentences, ids, evidence)

    row_specific |= has_reply
    malformed: dict[int, str] = {}
    for pos, what in (errors or {}).items():
        place = where[pos] if where is not None else f"row {pos + 1}"
        malformed[pos] = f"{place}: malformed line: {what}"
    if malformed:
        row_specific[np.fromiter(malformed, dtype=np.int64)] = True
    return Labels(verdicts, PatternIndex(ids, first, row_specific), reply, make_reason, malformed,
                  replied=bool(has_reply.any()))


_decide_cache: dict[Pattern, Verdict] = {}


def _decide_cached(pattern: Pattern) -> Verdict:
    """:func:`decide`, remembered: the same patterns come back in every chunk."""
    verdict = _decide_cache.get(pattern)
    if verdict is None:
        if len(_decide_cache) > 100_000:  # hostile input can make endless patterns: stay bounded
            _decide_cache.clear()
        verdict = _decide_cache[pattern] = decide(pattern)
    return verdict


#: The per-row evidence a reason sentence may name, and its doubled (literal) braces.
_NAMES_EVIDENCE = re.compile(r"\{(server|client|delay|resp_bytes|orig_bytes|reply)\}")
_PLACEHOLDER = re.compile(r"\{(server|client|delay|resp_bytes|orig_bytes|reply)\}|(\{\{|\}\})")


def _lit(text: str) -> str:
    """Log text (a history, a state) quoted in a reason sentence: its braces are literal."""
    return text.replace("{", "{{").replace("}", "}}")


def _fill_reasons(sentences: list[str], ids: np.ndarray, evidence: dict) -> np.ndarray:
    """Each row's reason: its pattern's sentence with the row's own evidence in place.

    Sentences follow ``str.format``'s rules ({server} is evidence, {{ a
    literal brace), but only the placeholders a sentence names are computed,
    for its rows only, a column at a time; and an unknown {field} (log text
    that slipped in) stays as it is instead of raising.
    """
    reason = np.array(sentences, dtype=object)[ids]
    # Group the rows of the sentences that have braces, by pattern (only those rows: fewer to sort).
    braced = np.array([("{" in s or "}" in s) for s in sentences], dtype=bool)
    rows_braced = np.flatnonzero(braced[ids])
    order = rows_braced[np.argsort(ids[rows_braced], kind="stable")]
    bounds = np.searchsorted(ids[order], np.arange(len(sentences) + 1))
    for group, sentence in enumerate(sentences):
        if "{" not in sentence and "}" not in sentence:
            continue
        # literal, name, doubled brace, literal, ...: names and doubled braces alternate with literals
        split = _PLACEHOLDER.split(sentence)
        parts: list = []
        for k in range(0, len(split), 3):
            parts.append(split[k])
            if k + 1 < len(split):
                parts.append(split[k + 1] or split[k + 2][0])
        rows = order[bounds[group]:bounds[group + 1]]
        if len(parts) == 1 or all(p in "{}" for p in parts[1::2]):
            reason[rows] = "".join(parts)
            continue
        columns = [itertools.repeat(part) if k % 2 == 0 or part in "{}" else evidence[part](rows)
                   for k, part in enumerate(parts)]
        filled = np.empty(len(rows), dtype=object)
        filled[:] = list(map("".join, zip(*columns)))
        reason[rows] = filled
    return reason


def _fmt_count(value: float) -> str:
    return str(int(value)) if math.isfinite(value) else "an unknown number of"


def _reply_text(code: float, msg: str) -> str:
    if math.isnan(code):
        return ""
    return f"{int(code)} {msg}".strip()


def service_class(service: object) -> str:
    names = {s.strip().lower() for s in str(service or "").split(",") if s.strip()}
    if "ftp-data" in names:
        return "ftp-data"
    if names & SERVER_FIRST_SERVICES:
        return "server_first"
    return "other" if names else ""


# ---------------------------------------------------------------------------
# From files to labeled chunks


class LabeledChunk:
    """A chunk as read (for lossless writing) and its labels.

    ``frame`` (the chunk's parsed columns with the ``slam.*`` columns added) is
    made only when asked for: the Zeek TSV writer works from ``labels`` and the
    lines as read, and never needs it.
    """

    def __init__(self, chunk: LogChunk, frame: pd.DataFrame | None = None, patterns: PatternIndex | None = None,
                 labels: Labels | None = None, columns: Columns | None = None):
        self.chunk = chunk
        self.labels = labels
        self._columns = columns
        self._frame = frame
        self._patterns = patterns if labels is None else labels.patterns
        #: Output text a writer built ahead, by format (see ``write.made_ahead``).
        self.made: dict[str, object] = {}

    @property
    def patterns(self) -> PatternIndex | None:
        """Which pattern each row has (None for a frame labeled elsewhere)."""
        return self._patterns

    @property
    def columns(self) -> Columns:
        """The columns the labels were made from (slam.log facts joined, when there were any)."""
        return self._columns if self._columns is not None else self.chunk.columns

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            import pandas as pd

            base = self.chunk.frame
            if isinstance(self._columns, JoinedColumns):  # slam.log facts: part of the frame, as read
                for name, values in self._columns.facts.frame.items():
                    base[name] = values.to_numpy()
            assert self.labels is not None
            # an input's own slam.* columns (a labeled log labeled again) give way to this labeling's,
            # as in every writer: two columns of one name would break whatever reads the frame
            own = [name for name in LABEL_FIELDS if name in base.columns]
            if own:
                base = base.drop(columns=own)
            self._frame = pd.concat([base, self.labels.frame(base.index)], axis=1)
        return self._frame

    def column(self, name: str) -> np.ndarray:
        """One ``slam.*`` field of every row, as an object array."""
        if self.labels is not None and self._frame is None:
            return self.labels.column(name)
        return self.frame[name].to_numpy(dtype=object)

    def counts(self) -> dict[str, int]:
        """Rows per label."""
        if self.labels is not None:
            return self.labels.counts()
        return {str(k): int(v) for k, v in self.frame["slam.label"].value_counts().items()}


def load_slam_facts(paths: Sequence[str], strict: bool = False) -> pd.DataFrame:
    """The project's slam.log facts, one row per uid, for joining to conn.log: all in one frame
    (the Dask engine sends it to its workers; ``label_chunks`` holds them in bounded memory)."""
    return SlamFacts.load(paths, SLAM_FACT_COLUMNS, strict, memory_rows=sys.maxsize).frame


def join_slam_facts(frame: pd.DataFrame, facts: pd.DataFrame | SlamFacts | None) -> pd.DataFrame:
    """Add slam.log's facts (from :func:`load_slam_facts`, or a :class:`SlamFacts`) to conn.log
    rows, by uid; in place."""
    if facts is not None and len(facts) and "uid" in frame.columns:
        joined = facts_of(frame["uid"].to_numpy(), facts)
        for col in joined.columns:
            frame[col] = joined[col].to_numpy()
    return frame


def facts_of(uids: np.ndarray, facts: pd.DataFrame | SlamFacts) -> pd.DataFrame:
    """slam.log's facts for each uid, a row each (NaN where a uid has none): the columns
    :func:`join_slam_facts` adds, with their values."""
    import pandas as pd

    if isinstance(facts, SlamFacts):
        joined = facts.columns_for(uids)
    else:
        frame = facts.reindex(uids)
        joined = {col: frame[col].to_numpy() for col in frame.columns}
    # dtypes as they are: a column of texts stays object (pandas would make it its own string
    # type, a copy of every text), read the same by FrameColumns
    return pd.DataFrame({col: pd.Series(joined[col], dtype=joined[col].dtype, copy=False)
                         for col in SLAM_FACT_COLUMNS if col in joined}, index=pd.RangeIndex(len(uids)))


def primary_and_facts(found: Inputs, strict: bool = False, *,
                      bounded: bool = False) -> tuple[list[str], pd.DataFrame | SlamFacts | None]:
    """The logs whose rows come out, and the slam.log facts to join to them (if any): one frame
    (for the Dask engine's workers), or with ``bounded`` a :class:`SlamFacts` in bounded memory.

    conn logs are the rows and slam logs add facts by uid; slam logs alone are the rows.
    """
    if found.conn and found.slam:
        if bounded:
            return found.conn, SlamFacts.load(found.slam, SLAM_FACT_COLUMNS, strict)
        return found.conn, load_slam_facts(found.slam, strict)
    return (found.conn or found.slam), None


def label_chunks(inputs: Inputs | Sequence[str], options: LabelOptions | None = None, *,
                 chunk_rows: int = CHUNK_ROWS, strict: bool = False,
                 columns: Sequence[str] | None = LABEL_COLUMNS, with_frames: bool = False,
                 deferred: Sequence[str] | None = None, threads: bool = True) -> Iterator[LabeledChunk]:
    """Read and label every row of the given logs, chunk by chunk, in input order.

    With conn logs and slam logs together, slam facts are joined on ``uid``;
    with slam logs alone, the slam rows are labeled themselves.  ``columns``
    limits what is parsed (``None`` parses every column, as JSON output needs).
    Reading and labeling run in a background thread a chunk or two ahead; with
    ``with_frames`` so does making each chunk's pandas ``frame``.  Text columns named in
    ``deferred`` (by default those only reasons read, unless frames are made) are cut from
    the lines when asked for instead of parsed for every row.  With ``threads`` false every
    stage runs in the caller's thread: for a caller that runs the whole of it in one thread
    of its own (``report``, whose main thread is busy with Python work: more threads would
    only take turns at the GIL).
    """
    if deferred is None:
        deferred = () if with_frames else TEXT_FOR_REASONS
    found = inputs if isinstance(inputs, Inputs) else find_inputs(inputs)
    # slam facts in bounded memory: past SlamFacts' memory_rows they are looked up in SQLite
    primary, facts = primary_and_facts(found, strict, bounded=True)
    join = facts is not None and len(facts) > 0
    if join:
        # each chunk carries a frame of its facts, and the join reads every row's uid: smaller
        # chunks keep peak RSS well under 300 MB (measured at 2M rows with 90k facts: label
        # 262-293 -> ~215 MB, 2.5 -> 3.2 s; report 313 -> 291 MB)
        chunk_rows = min(chunk_rows, FRAME_CHUNK_ROWS)
        deferred = [c for c in deferred if c != "uid"]
    wanted = None if columns is None else list(dict.fromkeys([*columns, *SLAM_FACT_COLUMNS]))

    def labeled() -> Iterator[LabeledChunk]:
        try:
            yield from each_labeled()
        finally:
            if isinstance(facts, SlamFacts):
                facts.close()

    def each_chunk() -> Iterator[LogChunk]:
        for path in primary:
            yield from read_log(path, columns=wanted, chunk_rows=chunk_rows, strict=strict, later=deferred,
                                threads=threads)

    def each_labeled() -> Iterator[LabeledChunk]:
        # Stages, each a thread (with threads): read and scan | parse (read_log) | label (here) | the caller's.
        # One parse stage for all the logs: at the end of one, the next one's first chunks are
        # parsed while the last ones are labeled (hourly archives: a pipeline restarted per file
        # cost ~15 ms a file)
        for chunk in ahead(each_chunk(), thread=threads):
            cols = chunk.columns
            if chunk.kind not in (CONN, SLAM, "open_conn") and chunk.kind != "unknown" and not (
                    cols.has("history") and (cols.codes("history")[1] != "").any()):
                raise NotAZeekLog(chunk.source, f"a Zeek {chunk.kind!r} log, not a conn log")
            if join and cols.has("uid"):
                # the facts as a small frame of their own: the chunk's columns stay Arrow's
                cols = JoinedColumns(cols, facts_of(chunk.texts_as_parsed("uid"), facts))
            if not len(chunk):
                continue
            where = [f"{chunk.source}:{n}" for n in chunk.line_numbers] if chunk.errors else None
            labeled = LabeledChunk(chunk, labels=label_columns(cols, options, chunk.errors, where), columns=cols)
            if with_frames:
                labeled.frame  # noqa: B018 - made here, in the background thread
            yield labeled

    return ahead(labeled(), thread=threads)


def label_logs(paths: Inputs | Sequence[str], *, options: LabelOptions | None = None, chunk_rows: int = CHUNK_ROWS,
               strict: bool = False, columns: Sequence[str] | None = LABEL_COLUMNS) -> Iterator[pd.DataFrame]:
    """Labeled frames of the given logs (files, directories or '-'), in input order.

    ``columns`` as for :func:`label_chunks` (a consumer that needs fewer saves
    making their Python strings: ``uid`` alone is one new string per row).
    """
    for labeled in label_chunks(paths, options, chunk_rows=chunk_rows, strict=strict, columns=columns,
                                with_frames=True):
        yield labeled.frame


__all__ = ["LABEL_FIELDS", "LabelOptions", "LabeledChunk", "Pattern", "Verdict", "decide",
           "join_slam_facts", "label_chunks", "label_frame", "label_logs", "load_slam_facts",
           "primary_and_facts", "SLAM"]
