"""Generate a large, realistic, *synthetic* Zeek 8 conn.log for benchmarks.

The output is GENERATED, not captured: it says so in a ``#generated`` header
line (Zeek readers, zeek-cut, zat and zeekslam all skip unknown ``#`` lines),
while every other header line is exactly what Zeek 8.0.10 writes for conn.log
(copied from ``tests/data/lab/normal/tsv/conn.log``: 22 columns, ``ip_proto``
last).

The traffic mix is drawn from the real lab logs (``tests/data/lab``) and the
public logs in ``../shared/data/wild`` plus typical sensor traffic: mostly
completed TCP (HTTP, TLS, SSH, FTP, SMTP), UDP DNS and NTP, some ICMP, SYN
scans (S0), closed ports (REJ ``Sr``), and the door events zeekslam is about
(``ShAfFa`` slammed, ``ShAdfFa`` refusals, ``ShAr`` resets after accept,
silent servers).  Servers are ~10k distinct hosts with Zipf-like popularity.

Everything is vectorised with numpy 2 string arrays (``numpy.strings``) and
written in large blocks, so 2M rows take a few seconds and memory stays
bounded by ``--block-rows``.

    python benchmarks/generate.py --rows 2000000 -o benchmarks/out/conn.generated-2M.log
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass

import numpy as np
from numpy.dtypes import StringDType

S = StringDType()

HEADER = (
    "#separator \\x09\n"
    "#set_separator\t,\n"
    "#empty_field\t(empty)\n"
    "#unset_field\t-\n"
    "#path\tconn\n"
    "#open\t{open}\n"
    "#generated\tSYNTHETIC conn.log written by zeekslam benchmarks/generate.py "
    "(rows={rows}, seed={seed}); not real traffic\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes"
    "\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes"
    "\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool"
    "\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount\n"
)


@dataclass(frozen=True)
class Template:
    """One kind of connection: weight, wire facts, and value distributions."""

    weight: float
    proto: str
    service: str
    state: str
    history: str
    kind: str  # which server pool / port family it goes to
    dur: tuple[float, float]  # lognormal (median seconds, sigma); median 0 means unset
    orig: tuple[float, float]  # lognormal (median bytes, sigma); 0 means 0 bytes
    resp: tuple[float, float]
    unset_share: float = 0.0  # share of rows with duration/bytes unset (single packet)
    missed: bool = False


# Weights are relative; they sum to about 1.
TEMPLATES = [
    # Completed TCP (the bulk of a sensor's day).
    Template(0.150, "tcp", "ssl", "SF", "ShADadFf", "https", (0.8, 1.6), (900, 1.0), (6000, 1.5)),
    Template(0.060, "tcp", "ssl", "SF", "ShADadfF", "https", (2.0, 1.6), (1200, 1.0), (20000, 1.5)),
    Template(0.050, "tcp", "ssl", "RSTO", "ShADadR", "https", (15.0, 1.5), (2000, 1.2), (9000, 1.5)),
    Template(0.010, "tcp", "ssl", "SF", "ShADadFfR", "https", (5.0, 1.5), (1500, 1.0), (8000, 1.5)),
    Template(0.090, "tcp", "http", "SF", "ShADadFf", "http", (0.3, 1.5), (500, 0.8), (4000, 1.8)),
    Template(0.040, "tcp", "http", "SF", "ShADadfF", "http", (0.5, 1.5), (450, 0.8), (15000, 1.8)),
    Template(0.015, "tcp", "http", "RSTO", "ShADaR", "http", (0.2, 1.2), (400, 0.6), (0, 0)),
    Template(0.003, "tcp", "http", "SF", "ShADadcgFf", "http", (1.0, 1.0), (600, 0.8), (40000, 1.0),
             missed=True),
    Template(0.015, "tcp", "-", "S1", "ShADad", "http", (30.0, 1.0), (300, 1.0), (900, 1.0)),
    Template(0.012, "tcp", "ssh", "SF", "ShAdDaFf", "ssh", (40.0, 2.0), (3000, 1.5), (4000, 1.5)),
    Template(0.004, "tcp", "ftp", "SF", "ShAdDafF", "ftp", (2.0, 1.0), (60, 0.3), (300, 0.5)),
    Template(0.004, "tcp", "ftp", "SF", "ShAdDaFf", "ftp", (1.0, 1.0), (50, 0.3), (125, 0.3)),
    Template(0.004, "tcp", "ftp-data", "SF", "ShAdfFa", "ftpdata", (0.05, 1.5), (0, 0), (20000, 2.0)),
    Template(0.010, "tcp", "smtp", "SF", "ShAdDaFf", "smtp", (1.5, 1.0), (4000, 1.5), (600, 0.5)),
    Template(0.010, "tcp", "-", "SF", "ShADadFf", "other", (1.0, 2.0), (300, 1.5), (1000, 1.5)),
    Template(0.010, "tcp", "-", "RSTR", "ShADadr", "other", (3.0, 1.5), (200, 1.0), (500, 1.0)),
    Template(0.010, "tcp", "-", "RSTO", "ShADadR", "other", (3.0, 1.5), (200, 1.0), (500, 1.0)),
    # Health checks and silent clients.
    Template(0.010, "tcp", "-", "SF", "ShAFf", "http", (0.002, 1.0), (0, 0), (0, 0)),
    Template(0.004, "tcp", "-", "RSTO", "ShAR", "other", (0.001, 1.0), (0, 0), (0, 0)),
    # UDP and ICMP (pass through unlabeled).
    Template(0.230, "udp", "dns", "SF", "Dd", "dns", (0.02, 1.2), (40, 0.3), (120, 0.6)),
    Template(0.025, "udp", "dns", "S0", "D", "dns", (0.0, 0.0), (40, 0.3), (0, 0), unset_share=1.0),
    Template(0.020, "udp", "-", "SF", "Dd", "ntp", (0.01, 1.0), (48, 0.0), (48, 0.0)),
    Template(0.010, "icmp", "-", "OTH", "-", "icmp", (1.0, 1.5), (64, 0.5), (64, 0.5)),
    # Scans, closed ports, filtering.
    Template(0.070, "tcp", "-", "S0", "S", "scan", (3.0, 0.5), (0, 0), (0, 0), unset_share=0.6),
    Template(0.060, "tcp", "-", "REJ", "Sr", "scan", (0.0005, 1.0), (0, 0), (0, 0)),
    Template(0.008, "tcp", "-", "RSTO", "ShR", "scan", (0.0005, 1.0), (0, 0), (0, 0)),
    Template(0.004, "tcp", "-", "RSTOS0", "SR", "scan", (0.001, 1.0), (0, 0), (0, 0)),
    Template(0.008, "tcp", "-", "OTH", "^dADaFf", "other", (2.0, 1.5), (300, 1.0), (600, 1.0)),
    Template(0.003, "tcp", "-", "SH", "DcAF", "other", (0.3, 1.0), (1100, 0.5), (0, 0)),
    # Door events.
    Template(0.006, "tcp", "-", "SF", "ShAfFa", "door", (0.003, 1.5), (0, 0), (0, 0)),
    Template(0.002, "tcp", "-", "SF", "ShAfFa", "door", (5.0, 0.05), (0, 0), (0, 0)),
    Template(0.004, "tcp", "-", "SF", "ShAdfFa", "door", (0.002, 1.0), (0, 0), (65, 0.2)),
    Template(0.003, "tcp", "-", "RSTR", "ShAr", "door", (0.3, 2.0), (0, 0), (0, 0)),
    Template(0.002, "tcp", "-", "RSTR", "ShADar", "door", (0.3, 2.0), (16, 0.5), (0, 0)),
    Template(0.002, "tcp", "-", "RSTR", "ShAfDr", "door", (0.002, 1.0), (6, 0.2), (0, 0)),
    Template(0.001, "tcp", "-", "S2", "ShAFa", "door", (75.0, 0.2), (0, 0), (0, 0)),
    Template(0.003, "tcp", "smtp", "SF", "ShAdDaFf", "smtp", (0.05, 1.0), (20, 0.3), (80, 0.2)),
]

#: Server ports by pool kind; "door" servers are FTP/SMTP/SSH/app ports.
PORTS = {
    "https": [443, 8443], "http": [80, 8080, 8000], "ssh": [22], "ftp": [21, 2121], "smtp": [25, 587],
    "dns": [53], "ntp": [123], "other": [3306, 5432, 6379, 9200, 445, 3389, 1433],
    "door": [21, 22, 25, 2121, 3306, 110, 143],
}


def _ips(prefixes: list[tuple[int, int]], count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct dotted-quad strings under the given (/16 network, weight) prefixes."""
    nets = np.array([p for p, _ in prefixes], dtype=np.int64)
    w = np.array([w for _, w in prefixes], dtype=float)
    seen: set[int] = set()
    values = []
    while len(values) < count:
        net = nets[rng.choice(len(nets), size=count, p=w / w.sum())]
        host = rng.integers(0, 256, size=count) * 256 + rng.integers(1, 255, size=count)
        for v in (net << 16) | host:
            if v not in seen:
                seen.add(int(v))
                values.append(int(v))
                if len(values) == count:
                    break
    v = np.array(values, dtype=np.int64)
    parts = [((v >> s) & 255).astype(S) for s in (24, 16, 8, 0)]
    return (parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3]).astype("S15")


def _ip(a: int, b: int) -> int:
    return (a << 8) | b


class Generator:
    """Draws rows block by block; the pools are made once per run (seeded)."""

    def __init__(self, seed: int = 42, servers: int = 10_000, clients: int = 60_000):
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        self.weights = np.array([t.weight for t in TEMPLATES])
        self.weights /= self.weights.sum()
        # Servers: mostly the monitored networks, some on the internet.
        self.server_ips = _ips([(_ip(10, 1), 4), (_ip(10, 20), 3), (_ip(172, 16), 2), (_ip(93, 184), 1),
                                (_ip(151, 101), 1), (_ip(104, 16), 1)], servers, rng)
        self.client_ips = _ips([(_ip(192, 168), 5), (_ip(10, 8), 3), (_ip(10, 9), 2), (_ip(185, 220), 1)],
                               clients, rng)
        self.scanner_ips = _ips([(_ip(45, 155), 1), (_ip(89, 248), 1), (_ip(162, 142), 1)], 40, rng)
        # Each server belongs to one pool; Zipf-like popularity inside it.
        kinds = list(PORTS) + ["ftpdata", "icmp"]
        share = np.array([0.30, 0.25, 0.05, 0.03, 0.03, 0.02, 0.02, 0.15, 0.05, 0.03, 0.07])
        pool_of = rng.choice(len(kinds), size=servers, p=share / share.sum())
        self.pools: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for k, kind in enumerate(kinds):
            members = np.flatnonzero(pool_of == k)
            if len(members) == 0:
                members = rng.integers(0, servers, size=1)
            pop = 1.0 / np.arange(1, len(members) + 1) ** 0.9
            self.pools[kind] = (members, np.cumsum(pop) / pop.sum())
        self.t_middle = np.array([f"{t.proto}\t{t.service}".encode() for t in TEMPLATES])
        self.t_state = np.array([t.state.encode() for t in TEMPLATES])
        self.t_history = np.array([t.history.encode() for t in TEMPLATES])
        self.t_proto_code = np.array([("tcp", "udp", "icmp").index(t.proto) for t in TEMPLATES])
        self.t_hist_len = np.array([len(t.history) for t in TEMPLATES])
        self.t_s0 = np.array([t.state == "S0" for t in TEMPLATES])
        self.uid_alphabet = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                                          dtype=np.uint8)

    def _servers(self, kind: str, n: int) -> np.ndarray:
        members, cdf = self.pools[kind]
        return members[np.searchsorted(cdf, self.rng.random(n))]

    def block(self, n: int, t0: float, t1: float) -> bytes:
        """``n`` data lines (joined, newline-terminated) with ts in [t0, t1)."""
        rng = self.rng
        tpl = rng.choice(len(TEMPLATES), size=n, p=self.weights)
        ts = np.sort(rng.uniform(t0, t1, size=n))
        # uid: 'C' + 17 base62 characters.
        chars = np.empty((n, 18), dtype=np.uint8)
        chars[:, 0] = ord("C")
        chars[:, 1:] = self.uid_alphabet[rng.integers(0, 62, size=(n, 17))]
        uid = chars.view("S18").ravel()

        proto_code = self.t_proto_code[tpl]  # 0 tcp, 1 udp, 2 icmp
        server = np.zeros(n, dtype=np.int64)
        resp_p = np.zeros(n, dtype=np.int64)
        duration = np.zeros(n)
        orig_b = np.zeros(n, dtype=np.int64)
        resp_b = np.zeros(n, dtype=np.int64)
        unset = np.zeros(n, dtype=bool)
        missed = np.zeros(n, dtype=np.int64)
        client_ip = self.client_ips[np.minimum(rng.zipf(1.3, size=n) - 1, len(self.client_ips) - 1)]
        orig_p = rng.integers(32768, 61000, size=n)
        for k, t in enumerate(TEMPLATES):
            rows = np.flatnonzero(tpl == k)
            m = len(rows)
            if not m:
                continue
            if t.kind == "scan":
                server[rows] = rng.integers(0, len(self.server_ips), size=m)
                resp_p[rows] = np.where(rng.random(m) < 0.5, rng.integers(1, 1024, size=m),
                                        rng.integers(1024, 65536, size=m))
                client_ip[rows] = self.scanner_ips[rng.integers(0, len(self.scanner_ips), size=m)]
            elif t.kind == "ftpdata":
                server[rows] = self._servers("ftp", m)
                resp_p[rows] = rng.integers(30000, 31000, size=m)
            elif t.kind == "icmp":
                server[rows] = self._servers("icmp", m)
                orig_p[rows], resp_p[rows] = 8, 0
            else:
                server[rows] = self._servers(t.kind, m)
                ports = PORTS[t.kind]
                resp_p[rows] = np.asarray(ports)[server[rows] % len(ports)]
            med, sig = t.dur
            duration[rows] = med * rng.lognormal(0.0, sig, size=m) if med else 0.0
            for arr, (bmed, bsig) in ((orig_b, t.orig), (resp_b, t.resp)):
                if bmed:
                    arr[rows] = np.maximum(1, (bmed * rng.lognormal(0.0, bsig, size=m)).astype(np.int64))
            if t.unset_share:
                unset[rows] = rng.random(m) < t.unset_share
            if t.missed:
                missed[rows] = rng.integers(1, 9000, size=m)

        tcp = proto_code == 0
        hist_len = self.t_hist_len[tpl]
        orig_pkts = np.where(tcp, (hist_len + 1) // 2 + 1, 1) + orig_b // 1400
        resp_pkts = np.where(self.t_s0[tpl], 0, np.where(tcp, hist_len // 2 + 1, 1)) + resp_b // 1400
        header = np.where(tcp, 52, 28)
        ip_proto = np.array([6, 17, 1])[proto_code]
        orig_ipb = orig_b + orig_pkts * header
        resp_ipb = resp_b + resp_pkts * header
        orig_pkts = np.where(unset, 1, orig_pkts)
        orig_ipb = np.where(unset, header, orig_ipb)

        server_ip = self.server_ips[server]
        local = np.where(np.strings.startswith(client_ip, b"10.") | np.strings.startswith(client_ip, b"192.168."),
                         b"T", b"F")
        local_resp = np.where(np.strings.startswith(server_ip, b"10."), b"T", b"F")
        micros = np.round(duration * 1e6).astype(np.int64)
        ts_us = np.round((ts - t0) * 1e6).astype(np.int64)  # precise: small numbers
        ts_sec = int(t0) + ts_us // 1_000_000 + int(round((t0 - int(t0)) * 1e6) // 1_000_000)
        ts_us = ts_us % 1_000_000 + int(round((t0 - int(t0)) * 1e6))
        ts_sec, ts_us = ts_sec + ts_us // 1_000_000, ts_us % 1_000_000
        return _assemble([
            (_num(ts_sec), b"."), (_frac6(ts_us), b"\t"), (uid, b"\t"), (client_ip, b"\t"),
            (_num(orig_p), b"\t"), (server_ip, b"\t"), (_num(resp_p), b"\t"),
            (self.t_middle[tpl], b"\t"),
            (_unset(_num(micros // 1_000_000), unset, b"-"), b""),
            (_unset(_frac6(micros % 1_000_000, b"."), unset, b""), b"\t"),
            (_unset(_num(orig_b), unset, b"-"), b"\t"), (_unset(_num(resp_b), unset, b"-"), b"\t"),
            (self.t_state[tpl], b"\t"), (local, b"\t"), (local_resp, b"\t"), (_num(missed), b"\t"),
            (self.t_history[tpl], b"\t"), (_num(orig_pkts), b"\t"), (_num(orig_ipb), b"\t"),
            (_num(resp_pkts), b"\t"), (_num(resp_ipb), b"\t"), (np.full(n, b"-"), b"\t"),
            (_num(ip_proto), b"\n"),
        ])


# Text is built as (rows, width) uint8 matrices padded with NUL bytes (on either side):
# the NULs are squeezed out at the end, so no per-row string is ever made.

def _num(x: np.ndarray) -> np.ndarray:
    """Non-negative integers as ASCII digits, NUL-padded on the left."""
    width = len(str(int(x.max()))) if len(x) else 1
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    chars = ((x[:, None] // powers) % 10 + 48).astype(np.uint8)
    chars[(x[:, None] < powers) & (powers > 1)] = 0
    return chars


def _frac6(x: np.ndarray, prefix: bytes = b"") -> np.ndarray:
    """Integers 0..999999 as exactly six ASCII digits (after ``prefix``)."""
    powers = 10 ** np.arange(5, -1, -1, dtype=np.int64)
    digits = ((x[:, None] // powers) % 10 + 48).astype(np.uint8)
    if not prefix:
        return digits
    return np.hstack([np.broadcast_to(np.frombuffer(prefix, np.uint8), (len(x), len(prefix))), digits])


def _unset(chars: np.ndarray, mask: np.ndarray, text: bytes) -> np.ndarray:
    """``text`` instead of the value where ``mask`` (Zeek's unset field)."""
    row = np.zeros(chars.shape[1], dtype=np.uint8)
    if text:
        row[-len(text):] = np.frombuffer(text, np.uint8)
    return np.where(mask[:, None], row, chars)


def _assemble(pieces: list[tuple[np.ndarray, bytes]]) -> bytes:
    """Lay the pieces side by side, each followed by its separator, and squeeze out the NULs."""
    mats = [p if p.dtype == np.uint8 else np.ascontiguousarray(p).view(np.uint8).reshape(len(p), p.dtype.itemsize)
            for p, _ in pieces]
    n = len(mats[0])
    out = np.zeros((n, sum(m.shape[1] + len(sep) for m, (_, sep) in zip(mats, pieces, strict=True))),
                   dtype=np.uint8)
    off = 0
    for m, (_, sep) in zip(mats, pieces, strict=True):
        out[:, off:off + m.shape[1]] = m
        off += m.shape[1]
        if sep:
            out[:, off] = sep[0]
            off += 1
    flat = out.ravel()
    return flat[flat != 0].tobytes()


def generate(path: str, rows: int, seed: int = 42, block_rows: int = 250_000, quiet: bool = False) -> str:
    """Write ``rows`` rows to ``path`` (created with its directories); returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    gen = Generator(seed)
    start = time.perf_counter()
    t_start = 1795600000.0  # same epoch as the lab captures
    span = 86400.0 * max(1.0, rows / 2_000_000)  # a sensor day per 2M rows
    tmp = path + ".tmp"
    with open(tmp, "wb", buffering=1 << 22) as out:
        out.write(HEADER.format(open=time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(t_start)),
                                rows=rows, seed=seed).encode())
        done = 0
        while done < rows:
            n = min(block_rows, rows - done)
            t0 = t_start + span * done / rows
            t1 = t_start + span * (done + n) / rows
            out.write(gen.block(n, t0, t1))
            done += n
        out.write(f"#close\t{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime(t_start + span))}\n".encode())
    os.replace(tmp, path)
    if not quiet:
        size = os.path.getsize(path)
        print(f"generated {rows:,} rows, {size / 1e6:,.0f} MB in {time.perf_counter() - start:.1f} s: {path}",
              flush=True)
    return path


SLAM_HEADER = (
    "#separator \\x09\n"
    "#set_separator\t,\n"
    "#empty_field\t(empty)\n"
    "#unset_field\t-\n"
    "#path\tslam\n"
    "#open\t{open}\n"
    "#generated\tSYNTHETIC slam.log written by zeekslam benchmarks/generate.py from {source}; not Zeek output\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\thistory\tconn_state\tduration"
    "\torig_bytes\tresp_bytes\tservice\tcloser\tclose_kind\tclose_delay\tftp_reply_code\tftp_reply_msg\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tinterval\tcount\tcount\tstring"
    "\tstring\tstring\tinterval\tcount\tstring\n"
)
_FTP_PORTS = {"21", "2121"}


def _closer(history: str) -> tuple[str, str]:
    """Who sent the first FIN or RST, and which (Zeek's history letters: upper case the originator)."""
    for letter in history:
        if letter in "FfRr":
            return ("orig" if letter.isupper() else "resp"), ("FIN" if letter in "Ff" else "RST")
    return "-", "-"


def generate_slam(conn_path: str, path: str) -> str:
    """Write the project's slam.log for the door events of a generated conn.log: TCP connections
    whose handshake completed and in which a side sent no payload, or which ended with a reset
    (the script's default).  The facts are made up from the conn.log row (who closed from the
    history's first F/R, the close delay from the duration, FTP replies on 21 and 2121), so this
    is GENERATED data for timing the slam.log join, not what Zeek would write."""
    start = time.perf_counter()
    rows = 0
    tmp = path + ".tmp"
    with open(conn_path, encoding="ascii") as conn, open(tmp, "w", encoding="ascii", buffering=1 << 22) as out:
        out.write(SLAM_HEADER.format(open=time.strftime("%Y-%m-%d-%H-%M-%S"), source=os.path.basename(conn_path)))
        for line in conn:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            history, orig_bytes, resp_bytes = f[15], f[9], f[10]
            if f[6] != "tcp" or "h" not in history:
                continue
            if orig_bytes not in ("0", "-") and resp_bytes not in ("0", "-") and "r" not in history.lower():
                continue
            closer, kind = _closer(history)
            code, msg = "-", "-"
            if f[5] in _FTP_PORTS and resp_bytes not in ("0", "-"):
                code, msg = ("421", "Too many connections (8) from this IP") if orig_bytes in ("0", "-") else (
                    "220", "FTP server ready")
            delay = f[8] if f[8] != "-" else "0.000010"
            fields = [*f[:7], history, f[11], f[8], orig_bytes, resp_bytes, f[7], closer, kind, delay, code, msg]
            out.write("\t".join(fields) + "\n")
            rows += 1
        out.write(f"#close\t{time.strftime('%Y-%m-%d-%H-%M-%S')}\n")
    os.replace(tmp, path)
    print(f"generated {rows:,} slam.log rows in {time.perf_counter() - start:.1f} s: {path}", flush=True)
    return path


def generate_json(conn_path: str, path: str, iso_times: bool = False) -> str:
    """Write the rows of a generated conn.log as Zeek writes JSON logs (``LogAscii::use_json``):
    one object a line, unset fields left out, numbers as numbers, T/F as true/false, sets as
    arrays; with ``iso_times``, times as ``LogAscii::json_timestamps = JSON::TS_ISO8601`` writes
    them (2026-11-25T09:46:40.051403Z).  The same GENERATED rows (the file's name says so: JSON
    logs have no header)."""
    start = time.perf_counter()
    tmp = path + ".tmp"
    with open(conn_path, encoding="ascii") as conn, open(tmp, "w", encoding="ascii", buffering=1 << 22) as out:
        fields: list[str] = []
        types: list[str] = []
        rows = 0
        for line in conn:
            if line.startswith("#fields\t"):
                fields = line.rstrip("\n").split("\t")[1:]
            elif line.startswith("#types\t"):
                types = line.rstrip("\n").split("\t")[1:]
            if line.startswith("#"):
                continue
            members = []
            for name, ztype, value in zip(fields, types, line.rstrip("\n").split("\t"), strict=True):
                if value == "-":
                    continue
                if ztype == "time" and iso_times:
                    whole, _, fraction = value.partition(".")
                    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(whole)))
                    text = f'"{moment}.{(fraction + "000000")[:6]}Z"'
                elif ztype in ("count", "int", "port", "double", "time", "interval"):
                    text = value
                elif ztype == "bool":
                    text = "true" if value == "T" else "false"
                elif ztype.startswith(("set[", "vector[")):
                    text = json.dumps([] if value == "(empty)" else value.split(","))
                else:
                    text = json.dumps(value)
                members.append(f'"{name}":{text}')
            out.write("{" + ",".join(members) + "}\n")
            rows += 1
    os.replace(tmp, path)
    print(f"wrote {rows:,} rows as JSON in {time.perf_counter() - start:.1f} s: {path}", flush=True)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--block-rows", type=int, default=250_000)
    ap.add_argument("-o", "--output", default=None, help="default: benchmarks/out/conn.generated-<rows>.log")
    args = ap.parse_args(argv)
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out",
                                      f"conn.generated-{args.rows}.log")
    generate(out, args.rows, args.seed, args.block_rows)


if __name__ == "__main__":
    main()
