"""Per-server diagnosis on the real lab logs (stock conn.log only, labeled by label_logs)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import conn_row, tsv_header, write_generated
from zeekslam.diagnose import (
    BadServerSpec,
    MissingColumns,
    ServerDiagnoser,
    TextEntry,
    UnknownServer,
    diagnose,
    find,
    format_time,
    format_times,
    parse_endpoint,
    rows_of_frame,
    why,
)
from zeekslam.diagnose import _open_counts as open_counts
from zeekslam.label import label_logs
from zeekslam.report import render_json, render_text, render_why, sanitize

LAB = Path(__file__).parent / "data" / "lab"
TRUTH = pd.read_csv(LAB / "truth.csv")


def conn_log(scenario: str, fmt: str = "json") -> str:
    return str(LAB / scenario / fmt / "conn.log")


def frames(scenario: str, fmt: str = "json", chunk_rows: int = 100_000) -> list[pd.DataFrame]:
    return list(label_logs([conn_log(scenario, fmt)], chunk_rows=chunk_rows))


def by_server(diagnoses) -> dict[str, object]:
    return {d.server: d for d in diagnoses}


def truth_rows(pcap: str, port: int) -> pd.DataFrame:
    return TRUTH[(TRUTH.pcap == f"{pcap}.pcap") & (TRUTH.resp_p == port)]


def crash_epochs() -> dict[str, float]:
    notes = truth_rows("crash_day", 2200).notes.iloc[0]
    return {k: float(v) for k, v in re.findall(r"(\w+_epoch)=([0-9.]+)", notes)}


@pytest.fixture(scope="module")
def mixed():
    return by_server(diagnose(frames("mixed_dev")))


# ---------------------------------------------------------------------------
# mixed_dev: allow-list, connection limit, healthy


def test_mixed_dev_ranks_and_servers(mixed):
    # ftp-data connections (high PASV ports) are not servers with a door
    assert set(mixed) == {"127.0.0.1:2191", "127.0.0.1:2192", "127.0.0.1:2193"}
    ranked = diagnose(frames("mixed_dev"))
    assert [d.server for d in ranked] == ["127.0.0.1:2192", "127.0.0.1:2191", "127.0.0.1:2193"]


def test_mixed_dev_2191_is_an_ip_allowlist_naming_the_denied_client(mixed):
    d = mixed["127.0.0.1:2191"]
    truth = truth_rows("mixed_dev", 2191)
    denied = truth[truth.expected_label == "slammed"]
    assert set(denied.orig_h) == {"127.0.0.5"}
    assert d.verdict == "ip_allowlist"
    assert d.confidence == "high"
    assert d.allowlist.denied == ["127.0.0.5"]
    assert d.allowlist.denied_refused == len(denied) == 15
    assert d.allowlist.denied_attempts == 15
    others = truth[truth.orig_h != "127.0.0.5"]
    assert d.allowlist.other_clients == others.orig_h.nunique() == 3
    assert d.allowlist.other_served == len(others) == 21
    assert d.label_counts == {"completed": 21, "slammed": 15}
    assert d.limit is None and d.crash_windows == []
    assert d.summary == (
        "127.0.0.1:2191 — IP allow-list: 127.0.0.5 refused 15/15 times, "
        "3 other client(s) served 21/21 in the same window"
    )


def test_mixed_dev_2192_is_a_connection_limit_of_two(mixed):
    d = mixed["127.0.0.1:2192"]
    assert d.verdict == "connection_limit"
    assert d.limit.k == 2
    # every refusal came while two sessions were open, every success below two
    assert d.limit.refusals_at_or_above == d.limit.refusals == d.label_counts["refused_with_reply"]
    assert d.limit.served_below == d.limit.served == d.label_counts["completed"]
    assert set(d.concurrency_refused) == {2}
    assert max(d.concurrency_served) == 1
    # the refusals the client closed first (ShAdFf) also sit at the ceiling
    assert d.limit.reply_only_at_or_above == d.label_counts.get("client_closed_silent", 0) > 0
    assert d.door_events == d.label_counts["refused_with_reply"]
    truth = truth_rows("mixed_dev", 2192)
    assert d.connections == len(truth)
    assert d.allowlist is None


def test_mixed_dev_2193_is_healthy(mixed):
    d = mixed["127.0.0.1:2193"]
    assert d.verdict == "healthy"
    assert d.door_events == 0
    assert d.served == len(truth_rows("mixed_dev", 2193)) == 14


def test_verdicts_hold_with_tsv_conn_log_and_small_chunks(mixed):
    """Stock conn.log alone (no slam.log anywhere), TSV, streamed 7 rows at a time."""
    small = by_server(diagnose(frames("mixed_dev", "tsv", chunk_rows=7)))
    for server, d in mixed.items():
        s = small[server]
        assert (s.verdict, s.label_counts, s.concurrency_refused, s.concurrency_served) == (
            d.verdict,
            d.label_counts,
            d.concurrency_refused,
            d.concurrency_served,
        )
        assert s.concurrency_source == "conn.log intervals"
    assert small["127.0.0.1:2192"].limit.k == 2


# ---------------------------------------------------------------------------
# crash_day, conn_limit_421, port_closed, filtered


def test_crash_day_finds_the_crash_window():
    epochs = crash_epochs()
    kill, restart, hang = epochs["kill_epoch"], epochs["restart_epoch"], epochs["hang_epoch"]
    (d,) = diagnose(frames("crash_day"))
    assert d.server == "127.0.0.1:2200"
    assert d.verdict == "service_crash"
    assert len(d.crash_windows) == 1
    w = d.crash_windows[0]
    assert w.start <= restart and w.end >= kill  # overlaps [kill, restart]
    assert kill - 0.01 <= w.start <= kill + 0.01  # the in-flight resets came with the kill
    assert w.end <= restart and w.recovered_at >= restart
    assert abs(w.first_affected - hang) < 0.01  # accepted by the hung process, never served
    assert w.preceded_by_success
    refused = truth_rows("crash_day", 2200)
    assert w.kinds["rejected"] == (refused.expected_label == "rejected").sum() == 16
    assert w.clients >= 2


@pytest.mark.parametrize("port", [2127, 2128])
def test_conn_limit_421_servers_have_limit_two(port):
    d = by_server(diagnose(frames("conn_limit_421")))[f"127.0.0.1:{port}"]
    assert d.verdict == "connection_limit"
    assert d.limit.k == 2
    refused = truth_rows("conn_limit_421", port)
    assert d.limit.refusals == (refused.expected_label == "refused_with_reply").sum() == 3


def test_port_closed():
    (d,) = diagnose(frames("port_closed"))
    assert (d.server, d.verdict, d.confidence) == ("127.0.0.1:2150", "port_closed", "high")
    assert d.door_events == len(truth_rows("port_closed", 2150)) == 3


def test_filtered():
    (d,) = diagnose(frames("filtered"))
    assert (d.server, d.verdict) == ("127.0.0.1:2160", "filtered")
    assert d.label_counts == {"no_answer": 2}


def test_backlog_overflow_is_an_unresponsive_application():
    (d,) = diagnose(frames("backlog_overflow"))
    assert d.verdict == "unresponsive_application"


def test_smtp_refusal_is_mixed_deny_list_and_limit():
    (d,) = diagnose(frames("smtp_refusal"))
    assert d.verdict == "mixed"
    assert set(d.components) == {"ip_allowlist", "connection_limit"}
    assert d.allowlist.denied == ["127.0.0.3"]  # the 554 client
    assert d.limit.k == 2


def test_crash_window_survives_tiny_chunks_and_horizon():
    """Rows finalized a few at a time, long sessions logged after the crash: one window."""
    epochs = crash_epochs()
    (whole,) = diagnose(frames("crash_day"))
    (small,) = diagnose(frames("crash_day", chunk_rows=3), horizon=0.5)
    assert [(w.start, w.end, w.events) for w in small.crash_windows] == [
        (w.start, w.end, w.events) for w in whole.crash_windows
    ]
    assert small.crash_windows[0].start <= epochs["restart_epoch"]


def test_a_limit_victim_is_not_called_denied():
    """Read twice, conn_limit_421's once-refused clients are refused twice, only at the ceiling."""
    twice = frames("conn_limit_421") * 2
    for d in diagnose(twice):
        assert d.verdict == "connection_limit", d.summary
        assert d.allowlist is None


def test_open_counts_matches_brute_force():
    rng = np.random.default_rng(7)
    g_w = rng.integers(0, 5, 400)
    s_w = 1.7e9 + rng.uniform(0, 100, 400)
    e_w = s_w + rng.exponential(5, 400)
    g_q = rng.integers(0, 6, 300)
    t_q = 1.7e9 + rng.uniform(-5, 110, 300)
    t_q[:20] = s_w[:20]  # an interval's own start is not "open"
    g_q[:20] = g_w[:20]
    t_q[20:40] = e_w[20:40]  # nor its end
    g_q[20:40] = g_w[20:40]
    want = [int(((g_w == g) & (s_w < t) & (t < e_w)).sum()) for g, t in zip(g_q, t_q, strict=True)]
    assert open_counts(g_w, s_w, e_w, g_q, t_q).astype(int).tolist() == want


def test_concurrency_histograms_match_brute_force():
    """Served sessions on two servers from four clients, times and durations GENERATED over real
    lab rows: the histograms of concurrency at accept (all clients, and the same client) are the
    counts of that server's sessions open at each accept (some accepts find none open)."""
    rng = np.random.default_rng(11)
    row = pd.concat(frames("normal"), ignore_index=True)
    row = row[(row["slam.label"] == "completed") & (row["service"] != "ftp-data")].iloc[:1]
    n = 400
    fr = pd.concat([row] * n, ignore_index=True)
    fr["ts"] = 1.7e9 + np.sort(rng.uniform(0, 120, n))
    fr["duration"] = rng.exponential(0.4, n)
    fr.loc[rng.random(n) < 0.1, "duration"] = 6.0  # a few long ones: several open at once
    fr["id.resp_p"] = rng.choice([2100.0, 2101.0], n)
    fr["id.orig_h"] = rng.choice(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"], n)
    start, end = fr.ts.to_numpy(), (fr.ts + fr.duration).to_numpy()
    port, client = fr["id.resp_p"].to_numpy(), fr["id.orig_h"].to_numpy()
    for batch_rows in (64, 65_536):
        diag = ServerDiagnoser(batch_rows=batch_rows)
        diag.add(fr)
        out = by_server(diag.finish())
        for p in (2100.0, 2101.0):
            d = out[f"{row['id.resp_h'].iloc[0]}:{int(p)}"]
            mine = np.flatnonzero(port == p)
            total, same = {}, {}
            for i in mine.tolist():
                open_ = (port == p) & (start < start[i]) & (start[i] < end)
                for hist, k in ((total, int(open_.sum())), (same, int((open_ & (client == client[i])).sum()))):
                    hist[k] = hist.get(k, 0) + 1
            assert d.concurrency_served == total
            assert d.client_concurrency_served == same
            assert total.get(0, 0) >= 20 and max(total) >= 2  # both paths taken
            assert max(same) >= 1


def test_format_time_matches_the_spelt_out_format():
    from datetime import UTC, datetime

    def spelt_out(ts: float) -> str:  # the format, field by field (years not padded)
        dt = datetime.fromtimestamp(ts, tz=UTC)
        return (f"{dt.year}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}."
                f"{dt.microsecond // 1000:03d}Z")

    rng = np.random.default_rng(3)
    stamps = np.concatenate([rng.uniform(1.7e9, 1.8e9, 2000), rng.uniform(-6.1e10, 2.5e11, 2000),
                             [0.0, -0.0005, 1764000000.9999, -30610224000.5, -40000000000.0]])
    for ts in stamps.tolist():
        assert format_time(ts) == spelt_out(ts), ts
    assert format_time(-40000000000.0).startswith("702-")  # a year before 1000: not padded
    assert format_time(1764065415.0999) == "2025-11-25T10:10:15.099Z"  # truncated, not rounded
    assert format_time(float("nan")) == format_time(None) == "-"
    assert format_time(1e300) == "epoch 1e+300"


def test_format_times_is_format_time_in_bulk():
    rng = np.random.default_rng(4)
    # the rounding edges: half a microsecond either side of zero, of a whole second, of year 1000
    # and 10000; stamps on a half microsecond (round half to even); years numpy spells otherwise
    on_half = np.round(rng.uniform(-1e9, 1.8e9, 3000) * 1e6) / 1e6 + 5e-7
    stamps = np.concatenate([rng.uniform(1.7e9, 1.8e9, 3000), rng.uniform(-6.2e10, 2.6e11, 3000), on_half,
                             [0.0, -0.0, -5e-7, 5e-7, -1.5e-6, 1.5e-6, 1764000000.9999995, -30610224000.0,
                              -30610224000.0000005, -30610224000.5, 253402300799.9999, 253402300799.9999995,
                              253402300800.0, -40000000000.0, 1e300, -1e300, np.inf, -np.inf, np.nan]])
    values = stamps.tolist() + [None]
    assert format_times(values) == [format_time(t) for t in values]
    assert format_times([]) == []


# ---------------------------------------------------------------------------
# the seed's hypotheses


def test_why_on_the_allowlist_server(mixed):
    hyps = {h.name: h for h in why(mixed["127.0.0.1:2191"])}
    assert hyps["client_ip_not_allowed"].status == "supported"
    assert hyps["faulty_handshake_ack"].status == "ruled out"
    assert "FIN" in hyps["faulty_handshake_ack"].evidence
    assert hyps["application_crash"].status == "ruled out"
    assert hyps["connection_limit"].status == "ruled out"
    assert hyps["middlebox"].status == "ruled out"


def test_why_on_limit_and_crash(mixed):
    hyps = {h.name: h for h in why(mixed["127.0.0.1:2192"])}
    assert hyps["connection_limit"].status == "supported"
    assert "Zeek script" in hyps["connection_limit"].settle  # no reply text known from conn.log
    assert hyps["client_ip_not_allowed"].status == "ruled out"
    (crash,) = diagnose(frames("crash_day"))
    hyps = {h.name: h for h in why(crash)}
    assert hyps["application_crash"].status == "supported"
    assert hyps["connection_limit"].status == "ruled out"
    text = render_why(crash)
    assert "The application crashed: SUPPORTED" in text


# ---------------------------------------------------------------------------
# inputs, streaming state, safety


def test_resp_concurrent_column_is_used_when_present():
    """Synthetic values in the column the project's slam.log join provides (not Zeek output)."""
    fr = pd.concat(frames("mixed_dev"), ignore_index=True)
    fr["resp_concurrent"] = (fr["slam.label"] == "refused_with_reply").map({True: 7.0, False: 0.0})
    d = by_server(diagnose([fr]))["127.0.0.1:2192"]
    assert d.limit.k == 7
    assert d.concurrency_source.startswith("project Zeek log")


def test_state_stays_bounded_on_a_long_stream():
    base = pd.concat(frames("mixed_dev"), ignore_index=True)
    span = base.ts.max() - base.ts.min() + 30
    # a batch a chunk (its rows about a server's door), so that the state is checked after every fold
    diag = ServerDiagnoser(max_pending=500, max_window=300, horizon=20, sample_points=40, sample_served=20, max_bins=50,
                           batch_rows=len(rows_of_frame(base)))
    for i in range(60):
        chunk = base.copy()
        chunk["ts"] = chunk["ts"] + i * span
        diag.add(chunk)
        size = diag.state_size()
        assert size["servers"] == 3
        assert size["held"] == 0
        assert size["pending"] <= 500 + len(base)
        assert size["window"] <= 300
        assert size["samples"] <= 3 * (40 + 20)
    out = by_server(diag.finish())
    assert out["127.0.0.1:2191"].verdict == "ip_allowlist"
    assert out["127.0.0.1:2192"].verdict == "connection_limit" and out["127.0.0.1:2192"].limit.k == 2
    assert out["127.0.0.1:2192"].connections == 60 * 86
    assert len(out["127.0.0.1:2192"].timeline["served"]) <= 50


def test_scan_targets_are_folded_per_host():
    """Endpoints that never accept are folded beyond max_probe_servers; real servers stay."""
    fr = pd.concat(frames("port_closed"), ignore_index=True)
    rows = []
    for port in range(3000, 3040):  # the same real rejected rows, as if sent to 40 closed ports
        rows.append(fr.assign(**{"id.resp_p": float(port)}))
    diag = ServerDiagnoser(max_probe_servers=8)
    for chunk in [*frames("mixed_dev"), *rows]:
        diag.add(chunk)
    assert diag.state_size()["servers"] <= 3 + 8
    out = by_server(diag.finish())
    assert out["127.0.0.1:2191"].verdict == "ip_allowlist"
    folded = out["127.0.0.1:*"]
    assert folded.verdict == "port_closed"
    assert folded.ports_folded + sum(1 for k in out if k.startswith("127.0.0.1:30")) == 40
    assert folded.door_events == 3 * folded.ports_folded
    # the first eight ports folded are named, in the order they were folded (least recent first)
    assert folded.folded_ports == list(range(3000, 3008))
    assert "(3000, 3001, 3002, 3003, 3004, 3005, 3006, 3007, ...)" in folded.summary


def test_hostile_reply_text_is_escaped_in_text_and_json():
    fr = pd.concat(frames("conn_limit_421"), ignore_index=True)
    evil = "421 \x1b[2J\x1b]0;pwned\x07 too many \u202eevil\udc9b"
    fr["slam.reply"] = fr["slam.reply"].astype(object)  # arrow strings cannot hold undecodable bytes
    fr.loc[fr["slam.label"] == "refused_with_reply", "slam.reply"] = evil
    ds = diagnose([fr])
    text = render_text(ds)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[2J" in text and "\\u202e" in text and "\\x9b" in text
    doc = json.loads(render_json(ds))
    assert doc["servers"][0]["replies"] == {evil: 3}
    assert sanitize("a\tb\nc\x9b") == "a\\x09b\\x0ac\\x9b"


def test_sanitize_passes_printable_text_and_escapes_every_unsafe_character():
    # sanitize returns printable text as it is (the em dash of every summary, an IDN reply):
    # that is only right if no character its pattern escapes is printable, checked here for
    # every code point
    from zeekslam.report import _UNSAFE

    unsafe = [chr(c) for c in range(0x110000) if _UNSAFE.match(chr(c))]
    assert len(unsafe) > 2000 and not any(c.isprintable() for c in unsafe)
    printable = "127.0.0.1:21 \u2014 caf\u00e9 \u00bb r\u00e9ponse"
    assert sanitize(printable) is printable
    assert sanitize("ok \u2014 \u200bhidden\u2028") == "ok \u2014 \\u200bhidden\\u2028"


def test_json_document_is_complete(mixed):
    doc = json.loads(render_json(list(mixed.values())))
    assert doc["servers_total"] == 3
    s = {x["server"]: x for x in doc["servers"]}
    assert s["127.0.0.1:2191"]["allowlist"]["denied"] == ["127.0.0.5"]
    assert s["127.0.0.1:2192"]["limit"]["k"] == 2
    assert {h["name"] for h in s["127.0.0.1:2191"]["why"]} == {
        "faulty_handshake_ack",
        "connection_limit",
        "application_crash",
        "client_ip_not_allowed",
        "middlebox",
    }
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in s["127.0.0.1:2193"].values())


def test_endpoints_and_errors(mixed):
    assert parse_endpoint("127.0.0.1:2191") == ("127.0.0.1", 2191)
    assert parse_endpoint("[::1]:21") == ("::1", 21)
    with pytest.raises(BadServerSpec):
        parse_endpoint("127.0.0.1")
    with pytest.raises(UnknownServer):
        find(mixed.values(), "127.0.0.1:9")
    with pytest.raises(MissingColumns):
        ServerDiagnoser().add(pd.read_json(conn_log("mixed_dev"), lines=True))


def test_empty_and_non_tcp_input():
    assert diagnose([]) == []
    fr = frames("port_closed")[0].assign(proto="udp")
    d = ServerDiagnoser()
    d.add(fr)
    assert d.finish() == [] and d.skipped == len(fr)
    assert "no TCP connections" in render_text([])


# --------------------------------------------------------------------------------------
# The vectorised streaming pieces against simple references


def _rebin_reference(bins, start, width, lo, hi, nb):
    """The one-server rebinning the columns replace (kept here as the reference)."""
    old = bins.copy()
    used = np.flatnonzero(old.sum(axis=1))
    lo = min(lo, start + width * used.min()) if len(used) else lo
    hi = max(hi, start + width * (used.max() + 1)) if len(used) else hi
    w = width
    while True:
        new_start = math.floor(lo / w) * w
        if hi < new_start + w * nb:
            break
        w *= 2
    out = np.zeros_like(old)
    if len(used):
        centers = start + (used + 0.5) * width
        nidx = np.clip(np.floor((centers - new_start) / w).astype(np.int64), 0, nb - 1)
        np.add.at(out, nidx, old[used])
    return out, new_start, w


def test_rebin_matches_the_one_server_reference():
    rng = np.random.default_rng(5)
    nb = 12
    diag = ServerDiagnoser(max_bins=nb)
    k = 40
    diag._bins = rng.integers(0, 3, (k, nb, 2)).astype(np.int32) * (rng.random((k, nb, 1)) < 0.3)
    diag._bins[::7] = 0  # some timelines still empty
    diag._bin_start = np.floor(rng.uniform(1e9, 1e9 + 100, k))
    diag._bin_width = 2.0 ** rng.integers(0, 4, k)
    lo = diag._bin_start + rng.uniform(-500, 50, k)
    hi = lo + rng.uniform(0, 3000, k)
    want = [
        _rebin_reference(diag._bins[i], diag._bin_start[i], diag._bin_width[i], lo[i], hi[i], nb) for i in range(k)
    ]
    diag._rebin(np.arange(k), lo, hi)
    for i, (bins, start, width) in enumerate(want):
        assert np.array_equal(diag._bins[i], bins), i
        assert (diag._bin_start[i], diag._bin_width[i]) == (start, width)


def test_text_codes_merge_missing_and_equal_texts():
    from zeekslam.diagnose import _text_codes

    col = pd.Series(["a", None, "", "b", "a", float("nan"), "\udcff"], dtype=object)
    codes, texts = _text_codes(col)
    assert [texts[c] if c >= 0 else None for c in codes] == ["a", None, None, "b", "a", None, "\udcff"]
    codes, texts = _text_codes(pd.Series(["x", 5, "5", None], dtype=object), np.array([0, 1, 2, 3]))
    assert codes[1] == codes[2] >= 0 and texts[codes[1]] == "5" and codes[3] == -1


def test_undecodable_client_address_is_counted_not_a_crash():
    o = lambda v: pd.Series(v, dtype=object)  # noqa: E731 - arrow strings cannot hold undecodable bytes
    chunk = pd.DataFrame({
        "ts": [1.0, 2.0, 3.0, 4.0],
        "id.orig_h": o(["\udcff", "10.0.0.1", "\ud800x", "\udcff"]),
        "id.resp_h": o(["10.0.0.9"] * 4),
        "id.resp_p": [80.0] * 4,
        "slam.label": o(["completed", "completed", "rejected", "rejected"]),
        "proto": o(["tcp"] * 4),
    })
    (d,) = diagnose([chunk])
    assert d.connections == 4 and d.label_counts == {"completed": 2, "rejected": 2}


def test_probe_path_gives_the_general_verdict():
    """The short path for never-accepted endpoints says exactly what _verdict says."""
    from zeekslam.diagnose import (
        _EMPTY,
        _NO_CONC,
        NCAT,
        NEUTRAL,
        NO_ANSWER,
        REJECTED,
        DiagnoseOptions,
        _probe_verdict,
        _verdict,
        _View,
    )

    for opts in (DiagnoseOptions(), DiagnoseOptions(explained=0.5)):
        for rej, noans, neutral, nseen, zc, cc_ in [
            (3, 0, 0, 1, 0, 3), (0, 5, 1, 9, 0, 6), (2, 2, 0, 2, 4, 0), (1, 3, 0, 8, 2, 2),
            (0, 0, 2, 1, 0, 0), (7, 1, 0, 3, 0, 8), (1, 0, 0, 1, 0, 1),
        ]:
            cats = np.zeros(NCAT, np.int64)
            cats[[REJECTED, NO_ANSWER, NEUTRAL]] = rej, noans, neutral
            labels = {k: v for k, v in (("rejected", rej), ("no_answer", noans), ("midstream", neutral)) if v}
            tl = {"start": math.nan, "width": 1.0, "served": np.zeros(0), "turned_away": np.zeros(0)}
            view = _View(
                host="10.1.2.3", port=445, opts=opts, cat_counts=cats, labels=labels, kinds=_EMPTY, replies=_EMPTY,
                first=5.0, last=9.0, accepted=0, reset_after_data=0, zeek_conc=zc, computed_conc=cc_, clients=[],
                other=None, conc=_NO_CONC, cconc=_NO_CONC, runs=[], nclients=nseen, timeline=tl, samples={},
            )
            fast = _probe_verdict("10.1.2.3", 445, cats.tolist(), labels, 5.0, 9.0, nseen, 0, zc, cc_, tl, {}, opts)
            assert fast == _verdict(view)


def test_healthy_path_gives_the_general_verdict():
    """The short path for servers without door events says exactly what _verdict says."""
    from collections import Counter

    from zeekslam.diagnose import (
        _EMPTY,
        _NO_CONC,
        ABORTED,
        NCAT,
        NEUTRAL,
        REPLY_ONLY,
        SERVED,
        WAITED,
        CrashWindow,
        DiagnoseOptions,
        _healthy_verdict,
        _verdict,
        _View,
    )

    run = CrashWindow(start=7.0, end=8.0, events=3, door_events=0, clients=2, kinds={"aborted": 3},
                      preceded_by_success=True, recovered_at=None, first_affected=7.0)
    for served, aborted, neutral, reply_only, waited, replies, runs in [
        (5, 0, 0, 0, 0, _EMPTY, []), (0, 0, 2, 1, 0, _EMPTY, []), (3, 3, 1, 0, 2, Counter({"220 hi": 3}), [run]),
        (0, 0, 0, 0, 0, _EMPTY, []), (9, 1, 0, 1, 1, Counter({"b": 1, "a": 2}), [run, run]),
    ]:
        cats = np.zeros(NCAT, np.int64)
        cats[[SERVED, ABORTED, NEUTRAL, REPLY_ONLY, WAITED]] = served, aborted, neutral, reply_only, waited
        labels = {"completed": served} if served else {}
        conc, cconc = list(_NO_CONC), list(_NO_CONC)
        conc[SERVED], cconc[SERVED] = Counter({2: served, 0: 1}), Counter({1: served})
        tl = {"start": math.nan, "width": 1.0, "served": np.zeros(0), "turned_away": np.zeros(0)}
        view = _View(
            host="10.1.2.3", port=443, opts=DiagnoseOptions(), cat_counts=cats, labels=labels, kinds=_EMPTY,
            replies=replies, first=5.0, last=9.0, accepted=int(cats.sum()), reset_after_data=0, zeek_conc=1,
            computed_conc=4, clients=[], other=None, conc=conc, cconc=cconc, runs=list(runs), nclients=2, timeline=tl,
            samples={},
        )
        fast = _healthy_verdict("10.1.2.3", 443, cats.tolist(), labels, 5.0, 9.0, replies, runs, conc[SERVED],
                                cconc[SERVED], 0, 1, 4, tl, {})
        assert fast == _verdict(view) and fast.verdict == "healthy"


def _healthy_with_a_crash_window(tmp_path: Path) -> list[pd.DataFrame]:
    """GENERATED: a healthy server (no door events) whose sessions were reset mid-session by it
    six times in a row, from three clients: a crash window of its own in its text."""
    rows = []
    for i in range(30):
        history, state = ("ShADadr", "RSTR") if 10 <= i < 16 else ("ShADadFf", "SF")
        rows.append(conn_row(uid=f"C{i}", orig=f"10.0.0.{2 + i % 3}", resp="10.0.0.9", resp_p=443,
                             ts=f"{1700000000 + 2 * i}.000001", history=history, state=state, ob="100", rb="200",
                             duration="1.0"))
    return list(label_logs([str(write_generated(tmp_path / "conn.log", tsv_header() + rows))]))


@pytest.mark.parametrize("scenario", ["mixed_dev", "crash_day", "normal", "port_closed", "scan", "crash_window"])
def test_text_only_entries_give_the_same_text(scenario, tmp_path):
    """finish(text_only=True) makes healthy servers and host:* entries as TextEntry records
    for the text report: the text is the full verdicts' text, line for line."""
    def fed() -> ServerDiagnoser:
        diag = ServerDiagnoser(max_probe_servers=8)
        if scenario == "scan":  # the port_closed rows, as if sent to 40 closed ports: host:* entries
            fr = pd.concat(frames("port_closed"), ignore_index=True)
            chunks = [*frames("mixed_dev"), *(fr.assign(**{"id.resp_p": float(p)}) for p in range(3000, 3040))]
        elif scenario == "crash_window":
            chunks = _healthy_with_a_crash_window(tmp_path)
        else:
            chunks = frames(scenario)
        for chunk in chunks:
            diag.add(chunk)
        return diag

    full, light = fed().finish(), fed().finish(text_only=True)
    assert render_text(light) == render_text(full)
    assert render_text(light, include_healthy=False) == render_text(full, include_healthy=False)
    if scenario == "crash_window":  # a healthy server with a crash window keeps its full verdict
        assert "crash window" in render_text(full) and not isinstance(light[0], TextEntry)
    else:
        kinds = {type(d).__name__ for d in light}
        assert "TextEntry" in kinds or not any(d.verdict == "healthy" or d.ports_folded for d in full)
    if scenario == "scan":
        assert isinstance(by_server(light)["127.0.0.1:*"], TextEntry)
    assert {type(d).__name__ for d in full} == {"ServerDiagnosis"}


def test_folded_hosts_count_distinct_clients_up_to_eight():
    fr = pd.concat(frames("port_closed"), ignore_index=True).iloc[:1]
    rows = []
    for i, port in enumerate(range(4000, 4060)):  # 60 closed ports, clients cycling through 5 then 12 addresses
        n = 5 if port < 4030 else 12
        rows.append(fr.assign(**{"id.resp_p": float(port), "id.orig_h": f"10.9.0.{i % n}", "ts": fr.ts + i}))
    diag = ServerDiagnoser(max_probe_servers=4)
    for r in rows[:30]:
        diag.add(r)
    out = by_server(diag.finish())
    host = fr["id.resp_h"].iloc[0]
    assert "from 5 client(s)" in out[f"{host}:*"].summary
    diag = ServerDiagnoser(max_probe_servers=4)
    for r in rows:
        diag.add(r)
    out = by_server(diag.finish())
    assert "from 8+ client(s)" in out[f"{host}:*"].summary


def test_a_host_folded_before_keeps_its_entry_when_the_entries_are_full():
    """A host whose targets were all folded (so its id was given up) and that comes back after
    ``max_folded_hosts`` entries exist: its new targets join its own entry, not "(other hosts)"."""
    one = pd.concat(frames("port_closed"), ignore_index=True).iloc[:1]
    t0 = float(one.ts.iloc[0])
    seq = [("10.9.1.1", 1), ("10.9.1.1", 2)] + [("10.9.2.2", p) for p in range(1, 6)]
    seq += [("10.9.3.3", p) for p in range(1, 6)] + [("10.9.1.1", 10)] + [("10.9.4.4", p) for p in range(1, 6)]
    diag = ServerDiagnoser(max_probe_servers=4, max_folded_hosts=2, batch_rows=1)
    for i, (host, port) in enumerate(seq):
        diag.add(one.assign(**{"id.resp_h": host, "id.resp_p": float(port), "ts": t0 + i}))
    out = by_server(diag.finish())
    assert out["10.9.1.1:*"].ports_folded == 3  # ports 1, 2 and, after it came back, 10
    assert out["10.9.2.2:*"].ports_folded == 5
    assert out["(other hosts):*"].ports_folded > 0  # 10.9.3.3 and 10.9.4.4: past the cap
    assert sum(d.ports_folded or 1 for d in out.values()) == len(seq)


def test_one_off_targets_of_a_scanned_host_are_listed_under_the_host():
    """A port tried once is a scan's footprint: with another such port on its host it is
    reported in the host's ``IP:*`` entry; a port tried twice, or a host's only one, keeps its own."""
    one = pd.concat(frames("port_closed"), ignore_index=True).iloc[:1]
    t0 = float(one.ts.iloc[0])
    seq = [("10.9.5.5", 1), ("10.9.5.5", 2), ("10.9.5.5", 3), ("10.9.5.5", 3), ("10.9.6.6", 445)]
    diag = ServerDiagnoser()
    for i, (host, port) in enumerate(seq):
        diag.add(one.assign(**{"id.resp_h": host, "id.resp_p": float(port), "ts": t0 + i}))
    out = by_server(diag.finish())
    assert sorted(out) == ["10.9.5.5:*", "10.9.5.5:3", "10.9.6.6:445"]
    assert (out["10.9.5.5:*"].ports_folded, out["10.9.5.5:*"].door_events) == (2, 2)
    assert out["10.9.5.5:*"].folded_ports == [1, 2]
    assert "2 rarely contacted port(s) (1, 2):" in out["10.9.5.5:*"].summary
    assert out["10.9.5.5:3"].door_events == 2 and out["10.9.6.6:445"].verdict == "port_closed"
    # --why finds a folded port in its host's entry, and says where the others may be
    assert find(list(out.values()), "10.9.5.5:2") is out["10.9.5.5:*"]
    with pytest.raises(UnknownServer, match=r"10\.9\.5\.5:\* holds ports of that host"):
        find(list(out.values()), "10.9.5.5:0")


def test_a_scan_target_that_completes_a_handshake_becomes_a_server_with_its_attempts():
    """Rejected attempts (real lab rows) before an endpoint's first handshake are counted on the
    server it becomes, and make a crash run that its first success ends."""
    rejected = pd.concat(frames("port_closed"), ignore_index=True)
    served = pd.concat(frames("normal"), ignore_index=True)
    served = served[(served["slam.label"] == "completed") & (served["service"] != "ftp-data")].iloc[:1]
    host, port = rejected["id.resp_h"].iloc[0], float(rejected["id.resp_p"].iloc[0])
    later = float(rejected.ts.max()) + 10
    served = served.assign(**{"id.resp_h": host, "id.resp_p": port, "id.orig_h": rejected["id.orig_h"].iloc[0],
                              "ts": later})
    diag = ServerDiagnoser(batch_rows=1)
    diag.add(rejected)
    assert diag.state_size()["probe_targets"] == 1 and diag.state_size()["servers"] == 0
    diag.add(served)
    assert diag.state_size()["probe_targets"] == 0 and diag.state_size()["servers"] == 1
    (d,) = diag.finish()
    assert d.label_counts == {"rejected": 3, "completed": 1}
    assert d.first_ts == float(rejected.ts.min())
    (w,) = d.crash_windows
    assert (w.events, w.recovered_at, w.preceded_by_success) == (3, later, False)
    assert (w.start, w.end) == (float(rejected.ts.min()), float(rejected.ts.max()))


def test_report_does_not_depend_on_the_client_hash_key(monkeypatch):
    """Client hashes are keyed at random per process, so nothing shown may depend on their values.
    GENERATED: real lab rows (one success, one rejected SYN) re-aimed at one server from 150
    made-up clients, a crash run with more clients in a fold batch than a crash window keeps."""
    from zeekslam import hashing

    served = pd.concat(frames("normal"), ignore_index=True)
    served = served[(served["slam.label"] == "completed") & (served["service"] != "ftp-data")].iloc[:1]
    rejected = pd.concat(frames("port_closed"), ignore_index=True).iloc[:1]
    host, port = served["id.resp_h"].iloc[0], float(served["id.resp_p"].iloc[0])
    rng = np.random.default_rng(5)
    clients = np.array([f"10.9.{i // 100}.{i % 100}" for i in range(150)], dtype=object)
    ok = pd.concat([served] * 170, ignore_index=True).assign(
        ts=1.7e9 + np.arange(170) * 0.1, **{"id.orig_h": rng.choice(clients[:20], 170)})
    bad = pd.concat([rejected] * 600, ignore_index=True).assign(
        ts=1.7e9 + 17 + np.arange(600) * 0.1, **{"id.resp_h": host, "id.resp_p": port,
                                                 "id.orig_h": rng.choice(clients, 600)})
    stream = pd.concat([ok, bad], ignore_index=True)
    texts = set()
    for key in (b"k" * 16, b"\x01" * 16, hashing.PANDAS_KEY):
        monkeypatch.setattr(hashing, "_KEY", key)
        diag = ServerDiagnoser(batch_rows=200, horizon=1.0)  # the run starts late in the first batch
        diag.add(stream)
        out = diag.finish()
        texts.add(render_text(out) + render_json(out))
    assert len(texts) == 1
    (d,) = out
    (w,) = d.crash_windows
    assert w.events == 600 and 64 < w.clients < 150  # more than one batch's 64 first, fewer than all


def _scan_stream() -> list[pd.DataFrame]:
    """Real lab rows (mixed_dev's servers, port_closed's rejected SYNs re-aimed at 40 closed ports,
    shifted in time): enough endpoints for folding to happen many times."""
    closed = pd.concat(frames("port_closed"), ignore_index=True)
    parts = [*frames("mixed_dev")]
    for i, port in enumerate(range(3000, 3040)):
        parts.append(closed.assign(**{"id.resp_p": float(port), "ts": closed.ts + i}))
    return [pd.concat(parts, ignore_index=True)]


@pytest.mark.parametrize("batch_rows", [7, 100, 100_000])
def test_report_does_not_depend_on_how_the_input_was_cut(batch_rows):
    whole = _scan_stream()[0]
    texts = set()
    for cut in (1, 13, 250, len(whole)):
        diag = ServerDiagnoser(max_probe_servers=8, batch_rows=batch_rows)
        for start in range(0, len(whole), cut):
            diag.add(whole.iloc[start:start + cut].reset_index(drop=True))
        assert diag.rows == len(whole)
        assert diag.state_size()["held"] < batch_rows
        out = diag.finish()
        texts.add(render_text(out) + render_json(out))
    assert len(texts) == 1
    # and folding did happen: the closed ports are (partly) one host:* entry
    assert "127.0.0.1:*" in next(iter(texts))


def test_server_rows_concat_gives_each_address_one_code():
    from zeekslam.diagnose import ServerRows

    a = rows_of_frame(frames("mixed_dev")[0])
    b = rows_of_frame(frames("crash_day")[0])
    both = ServerRows.concat([a.slice(0, 10), b, a.slice(10, len(a))])
    assert len(both) == len(a) + len(b)
    assert len(set(both.otext.tolist())) == len(both.otext)  # distinct texts, one code each
    assert both.otext[both.ocode].tolist() == (a.otext[a.ocode[:10]].tolist() + b.otext[b.ocode].tolist()
                                               + a.otext[a.ocode[10:]].tolist())
    np.testing.assert_array_equal(both.ts, np.concatenate([a.ts[:10], b.ts, a.ts[10:]]))


def test_endpoint_port_is_ascii_digits():
    with pytest.raises(BadServerSpec):
        parse_endpoint("10.0.0.1:\u0662\u0661")
    assert parse_endpoint("10.0.0.1:21") == ("10.0.0.1", 21)
