"""Labels: every lab connection against its ground truth, and every rule of the table."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import LAB, SCENARIOS, conn_row, four_tuple, tsv_header, write_generated
from zeekslam.label import LAYERS, LabelOptions, Pattern, decide, label_frame, label_logs


@pytest.mark.parametrize("fmt", ["tsv", "json"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lab_labels_match_ground_truth(scenario, fmt, truth_by_tuple):
    frames = list(label_logs([str(LAB / scenario / fmt)]))
    frame = pd.concat(frames)
    checked = 0
    for row in frame.itertuples(index=False):
        r = dict(zip(frame.columns, row))
        t = truth_by_tuple.get(four_tuple(r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"]))
        if t is None:
            continue
        checked += 1
        assert r["slam.label"] in t["expected_label"].split("|"), (r["history"], r["slam.reason"], t["notes"])
        assert r["slam.layer"] == LAYERS[r["slam.label"]]
        assert r["slam.confidence"] in ("high", "medium", "low")
        assert r["slam.reason"]
    truth_rows = sum(1 for t in truth_by_tuple.values() if t["pcap"] == f"{scenario}.pcap")
    assert checked == truth_rows > 0


def test_reason_names_the_evidence():
    frame = pd.concat(label_logs([str(LAB / "acl_silent_close" / "tsv" / "conn.log")]))
    slammed = frame[frame["slam.label"] == "slammed"].iloc[0]
    assert slammed["slam.reason"].startswith(f"server 127.0.0.1:{int(slammed['id.resp_p'])} closed with FIN ")
    assert "neither side sent data" in slammed["slam.reason"]


def test_udp_and_icmp_pass_through_unlabeled():
    frame = pd.DataFrame(
        {"proto": ["udp", "icmp", "tcp"], "history": ["Dd", "", "S"], "conn_state": ["SF", "OTH", "S0"]}
    )
    out = label_frame(frame)
    assert out["slam.label"].tolist() == ["", "", "no_answer"]
    assert len(out) == 3


def _p(history, state="SF", **kw) -> Pattern:
    base = dict(
        proto="tcp",
        history=history,
        state=state,
        service="",
        server_first=False,
        orig_payload=False,
        resp_size=0,
        timing="prompt",
        gaps=False,
        reply_kind="",
        refusal_kind="",
        ttl="",
        slam_closer="",
        slam_close_kind="",
    )
    base.update(kw)
    return Pattern(**base)


@pytest.mark.parametrize(
    "pattern, label",
    [
        (_p("ShAfFa"), "slammed"),
        (_p("ShAfFa", timing="long"), "idle_closed"),
        (_p("ShAdfFa", resp_size=1), "refused_with_reply"),
        (_p("ShAdfFa", resp_size=1, reply_kind="refusal", refusal_kind="conn_limit"), "refused_with_reply"),
        (_p("ShAdfFa", resp_size=1, reply_kind="welcome", timing="long"), "idle_closed"),
        (_p("ShAdfFa", resp_size=2), "completed"),
        (_p("ShAdfFa", resp_size=1, service="ftp-data"), "completed"),
        (_p("ShAr", "RSTR"), "reset_after_accept"),
        (_p("ShADar", "RSTR", orig_payload=True), "reset_after_accept"),
        (_p("ShAdDr", "RSTR", ttl="differs"), "reset_by_middlebox"),
        (_p("ShAdDr", "RSTR"), "reset_by_responder"),
        (_p("ShAdDaR", "RSTO"), "reset_by_originator"),
        (_p("Sr", "REJ"), "rejected"),
        (_p("S", "S0"), "no_answer"),
        (_p("SR", "RSTOS0"), "attempt_aborted"),
        (_p("Sh", "S1"), "attempt_aborted"),
        (_p("ShR", "REJ"), "attempt_aborted"),
        (_p("ShAFa", "SF"), "client_closed_silent"),
        (_p("ShAR", "RSTO"), "client_closed_silent"),
        (_p("ShAFa", "S2", timing="long", server_first=True), "server_silent"),
        (_p("ShAdDaFf"), "completed"),
        (_p("ShADad", "S1"), "completed"),
        (_p("hADad", "OTH"), "midstream"),
        (_p("^hADad", "OTH"), "midstream"),
    ],
)
def test_every_label_rule(pattern, label):
    verdict = decide(pattern)
    assert verdict.label == label, verdict.reason
    assert verdict.layer == LAYERS[label]


def test_every_label_of_the_table_is_reachable():
    reached = {decide(p).label for p, _ in test_every_label_rule.pytestmark[0].args[1]}
    assert reached == set(LAYERS) - {"malformed"}


def test_refusal_kind_comes_from_the_reply():
    v = decide(_p("ShAdfFa", resp_size=1, reply_kind="refusal", refusal_kind="per_ip_limit"))
    assert (v.refusal_kind, v.confidence) == ("per_ip_limit", "high")
    assert decide(_p("ShAdfFa", resp_size=1)).confidence == "medium"  # no reply text: ambiguous


def test_gaps_and_flips_lower_confidence():
    assert decide(_p("ShAfFa")).confidence == "high"
    assert decide(_p("ShAfFa", gaps=True)).confidence == "medium"
    assert "content gaps" in decide(_p("ShAfFa", gaps=True)).reason


def test_bad_history_falls_back_on_state_with_low_confidence():
    v = decide(_p("ShAZZ", "REJ"))
    assert (v.label, v.confidence) == ("rejected", "low")
    assert "letters Zeek never writes" in v.reason


def test_thresholds_are_options():
    slow = pd.DataFrame({"proto": ["tcp"], "history": ["ShAfFa"], "conn_state": ["SF"], "duration": [30.0]})
    assert label_frame(slow)["slam.label"].iat[0] == "slammed"
    assert label_frame(slow, LabelOptions(prompt=5, long_wait=20))["slam.label"].iat[0] == "idle_closed"


SLAM_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "history",
    "conn_state",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "closer",
    "close_kind",
    "close_delay",
    "ftp_reply_code",
    "ftp_reply_msg",
    "ftp_last_reply_code",
    "ftp_last_reply_msg",
    "resp_concurrent",
    "orig_concurrent",
    "resp_ttl_synack",
    "resp_ttl_close",
]
SLAM_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "string",
    "interval",
    "count",
    "string",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
]


def _slam_row(uid, history, state, code, msg, last_code="-", last_msg="-", ttl=("-", "-"), rb="60"):
    return "\t".join(
        [
            "1700000000.000001",
            uid,
            "10.0.0.2",
            "40000",
            "10.0.0.5",
            "21",
            "tcp",
            history,
            state,
            "0.003",
            "0",
            rb,
            "resp",
            "FIN",
            "0.002",
            code,
            msg,
            last_code,
            last_msg,
            "2",
            "0",
            *ttl,
        ]
    )


def test_slam_log_facts_refine_the_label(tmp_path):
    """conn.log alone cannot tell a 421 refusal from a greeting then timeout; slam.log can.

    The slam.log here is GENERATED by this test (no Zeek runs on this machine), in the
    layout zeek_scripts/main.zeek declares.
    """
    conn = write_generated(
        tmp_path / "conn.log",
        tsv_header()
        + [
            conn_row("Cref", rb="60", history="ShAdfFa"),
            conn_row("Cidle", rb="20", history="ShAdfFa", duration="300.2"),
            conn_row("Cmbox", rb="20", ob="10", history="ShAdDr", state="RSTR"),
        ],
    )
    slam = write_generated(
        tmp_path / "slam.log",
        tsv_header(SLAM_FIELDS, SLAM_TYPES, "slam")
        + [
            _slam_row("Cref", "ShAdfFa", "SF", "421", "Too many connections (2) from this IP"),
            _slam_row("Cidle", "ShAdfFa", "SF", "220", "(vsFTPd 3.0.3)", "421", "Timeout."),
            _slam_row("Cmbox", "ShAdDr", "RSTR", "220", "(vsFTPd 3.0.3)", ttl=("63", "64")),
        ],
    )
    alone = pd.concat(label_logs([str(conn)])).set_index("uid")
    both = pd.concat(label_logs([str(conn), str(slam)])).set_index("uid")
    assert alone.loc["Cref", "slam.label"] == "refused_with_reply"
    assert alone.loc["Cref", "slam.refusal_kind"] == ""
    assert (both.loc["Cref", "slam.label"], both.loc["Cref", "slam.refusal_kind"]) == (
        "refused_with_reply",
        "per_ip_limit",
    )
    assert both.loc["Cref", "slam.reply"] == "421 Too many connections (2) from this IP"
    assert alone.loc["Cidle", "slam.label"] == "idle_closed"  # long wait alone already says timeout
    assert both.loc["Cidle", "slam.label"] == "idle_closed" and both.loc["Cidle", "slam.confidence"] == "high"
    assert alone.loc["Cmbox", "slam.label"] == "reset_by_responder"
    assert both.loc["Cmbox", "slam.label"] == "reset_by_middlebox"
    alone_slam = pd.concat(label_logs([str(slam)])).set_index("uid")  # slam.log by itself works too
    assert alone_slam.loc["Cref", "slam.refusal_kind"] == "per_ip_limit"


def test_greeting_only_421_gets_conn_limit_from_the_reply(tmp_path):
    conn = write_generated(tmp_path / "conn.log", tsv_header() + [conn_row("C421", rb="59", history="ShAdfFa")])
    slam = write_generated(
        tmp_path / "slam.log",
        tsv_header(SLAM_FIELDS, SLAM_TYPES, "slam")
        + [_slam_row("C421", "ShAdfFa", "SF", "421", "There are too many connected users, please try later.")],
    )
    row = pd.concat(label_logs([str(conn), str(slam)])).iloc[0]
    assert (row["slam.label"], row["slam.refusal_kind"], row["slam.confidence"]) == (
        "refused_with_reply",
        "conn_limit",
        "high",
    )


def test_braces_in_log_text_are_quoted_as_they_are():
    """A hostile log: braces in history or conn_state (str.format raised KeyError/ValueError on them)."""
    frame = pd.DataFrame({"proto": ["tcp"] * 3, "history": ["S{x}", "S{server}{", "^dA"],
                          "conn_state": ["SF", "{0}", "{server}}{{"], "id.resp_h": ["10.0.0.1"] * 3,
                          "id.orig_h": ["10.0.0.2"] * 3, "id.resp_p": [21.0] * 3})
    reasons = label_frame(frame)["slam.reason"].tolist()
    assert reasons[0].startswith("history 'S{x}' holds letters Zeek never writes")
    assert reasons[1].startswith("history 'S{server}{' holds") and "conn_state {0} alone" in reasons[1]
    assert "(history ^dA, state {server}}{{)" in reasons[2]


def test_a_reply_code_that_is_no_number_is_no_reply():
    # GENERATED frame: slam.log facts whose reply code parsed as infinity ("1e400" in the log)
    frame = pd.DataFrame({"ts": [1.0, 2.0], "id.orig_h": ["10.0.0.2"] * 2, "id.resp_h": ["10.0.0.5"] * 2,
                          "id.orig_p": [40000.0] * 2, "id.resp_p": [21.0, float("inf")], "proto": ["tcp"] * 2,
                          "history": ["ShAdfFa"] * 2, "conn_state": ["SF"] * 2, "duration": [0.01] * 2,
                          "orig_bytes": [0.0] * 2, "resp_bytes": [30.0, float("inf")],
                          "ftp_reply_code": [float("inf"), 421.0], "ftp_reply_msg": ["too many", "too many"]})
    out = label_frame(frame)
    assert out["slam.reply"].tolist() == ["", "421 too many"]
    assert out["slam.reason"].iloc[1].startswith("server 10.0.0.5:? refused client 10.0.0.2 with '421 too many'")


def test_a_day_of_rotated_archives_reads_as_one_log_in_order(tmp_path):
    """Hourly archives (a real lab log cut in 6, each gzipped with its header, as Zeek rotates
    them) go through one pipeline: every row once, in file then line order, each chunk naming
    its own file; a consumer that stops early leaves no reading thread behind."""
    import gzip
    import threading

    from zeekslam.label import label_chunks
    from zeekslam.read import find_inputs

    src = (LAB / "mixed_dev" / "tsv" / "conn.log").read_text(encoding="utf-8").splitlines()
    head = [line for line in src if line.startswith("#") and not line.startswith("#close")]
    rows = [line for line in src if line and not line.startswith("#")]
    day = tmp_path / "2026-11-25"
    day.mkdir()
    per = len(rows) // 6 + 1
    for h in range(6):
        name = day / f"conn.{h:02d}:00:00-{h + 1:02d}:00:00.log.gz"
        name.write_bytes(gzip.compress("\n".join(head + rows[h * per:(h + 1) * per]).encode() + b"\n"))
    inputs = find_inputs([str(tmp_path)])
    assert len(inputs.conn) == 6
    chunks = list(label_chunks(inputs, chunk_rows=7))
    got = [(c.chunk.source.rsplit("/", 1)[1], n) for c in chunks for n in c.chunk.line_numbers]
    want = [(f"conn.{h:02d}:00:00-{h + 1:02d}:00:00.log.gz", len(head) + 1 + i)
            for h in range(6) for i in range(len(rows[h * per:(h + 1) * per]))]
    assert got == want and len(got) == len(rows)
    uids = [u for c in chunks for u in c.frame["uid"].tolist()]
    assert uids == [r.split("\t")[1] for r in rows]

    before = threading.active_count()
    it = label_chunks(inputs, chunk_rows=7)
    next(it)
    it.close()
    for t in threading.enumerate():
        if t.name == "zeekslam-ahead":
            t.join(timeout=10)
    assert threading.active_count() <= before
