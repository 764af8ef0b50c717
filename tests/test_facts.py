"""slam.log facts in bounded memory: past a number of rows they move to SQLite, and every
lookup gives what the in-memory frame gives.  The logs here are GENERATED (not Zeek output)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

import zeekslam.facts as facts_module
from conftest import conn_row, tsv_header, write_generated
from zeekslam.cli import cli
from zeekslam.columns import FrameColumns
from zeekslam.facts import SlamFacts
from zeekslam.label import SLAM_FACT_COLUMNS

FIELDS = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "closer", "close_kind",
          "close_delay", "ftp_reply_code", "ftp_reply_msg"]
TYPES = ["time", "string", "addr", "port", "addr", "port", "enum", "string", "string", "interval", "count",
         "string"]


def _logs(tmp_path):
    conn, slam, more = [], [], []
    for i in range(300):
        conn.append(conn_row(uid=f"C{i}", orig=f"10.0.0.{i % 9}", resp_p=21, history="ShAfFa" if i % 2 else "ShAdfFa",
                             rb="0" if i % 2 else "60"))
        if i % 3:  # a third of the connections have no slam row
            code, reply = (("421", "Too many connections"), ("530", "Not allowed \udcff\udcfe"), ("-", "-"),
                           ("220", "ok"))[i % 4]
            slam.append("\t".join(["1700000000.0", f"C{i}", "10.0.0.1", "40000", "10.0.0.5", "21", "tcp",
                                   "resp" if i % 2 else "orig", "FIN", ("0.001", "1e400", "-")[i % 3],
                                   code, reply]))
    slam.append("\t".join(["1700000000.0", "C4", "10.0.0.1", "40000", "10.0.0.5", "21", "tcp", "orig", "RST",
                           "9.5", "421", "the last row of a uid wins"]))
    slam.append("\t".join(["1700000000.0", "Cnone", "10.0.0.1", "40000", "10.0.0.5", "21", "tcp", "orig", "RST",
                           "1", "-", "-"]))  # no conn row of its own
    # a second slam log that has one more column (orig_concurrent), for other uids
    more_fields = [*FIELDS, "orig_concurrent"]
    for i in range(300, 320):
        conn.append(conn_row(uid=f"C{i}", resp_p=21))
        more.append("\t".join(["1700000000.0", f"C{i}", "10.0.0.1", "40000", "10.0.0.5", "21", "tcp", "resp", "FIN",
                               "0.002", "421", "busy", str(i % 4)]))
    c = write_generated(tmp_path / "conn.log", tsv_header() + conn)
    s1 = write_generated(tmp_path / "slam.log", tsv_header(FIELDS, TYPES, "slam") + slam)
    s2 = write_generated(tmp_path / "slam.2.log", tsv_header(more_fields, [*TYPES, "count"], "slam") + more)
    return c, [str(s1), str(s2)]


def _same_reading(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The same numbers and texts, as the labeler reads them (NaN and None are both unset)."""
    assert sorted(a.columns) == sorted(b.columns)
    ca, cb = FrameColumns(a.reset_index(drop=True)), FrameColumns(b.reset_index(drop=True))
    rows = np.arange(len(a))
    for name in a.columns:
        assert np.array_equal(ca.numbers(name), cb.numbers(name), equal_nan=True), name
        assert ca.texts(name, rows).tolist() == cb.texts(name, rows).tolist(), name


def test_facts_in_sqlite_read_as_the_frame_does(tmp_path):
    _, slam = _logs(tmp_path)
    memory = SlamFacts.load(slam, SLAM_FACT_COLUMNS)
    spilled = SlamFacts.load(slam, SLAM_FACT_COLUMNS, memory_rows=50)
    try:
        assert not memory.spilled and spilled.spilled
        assert len(memory) == len(spilled) == 200 + 1 + 20  # C4 once; Cnone has facts too
        uids = np.array([f"C{i}" for i in range(320)] + ["Cnone", "nobody", None], dtype=object)
        a, b = memory.reindex(uids), spilled.reindex(uids)
        _same_reading(a, b)
        # columns_for (the join's lookup, a dict in memory) gives the frame's own reindex
        quick = memory.columns_for(uids)
        assert list(quick) == list(a.columns)
        for name, column in quick.items():
            assert column.dtype == a[name].dtype
            assert pd.Series(column, dtype=column.dtype).equals(a[name].reset_index(drop=True)), name
        at = {u: i for i, u in enumerate(uids.tolist())}
        assert b["ftp_reply_msg"].iloc[at["C4"]] == "the last row of a uid wins"
        odd = b["ftp_reply_msg"].iloc[at["C1"]]  # undecodable bytes, as the reader keeps them
        assert odd == a["ftp_reply_msg"].iloc[at["C1"]] and odd.startswith("Not allowed ") and odd != "Not allowed "
        assert np.isinf(b["close_delay"].iloc[at["C1"]]) and np.isnan(b["close_delay"].iloc[at["C5"]])
        assert b["orig_concurrent"].iloc[at["C301"]] == 1 and np.isnan(b["orig_concurrent"].iloc[at["C1"]])
        assert b.iloc[at["nobody"]].isna().all() and b.iloc[at["C3"]].isna().all()  # C3: no slam row
    finally:
        path = spilled._path
        spilled.close()
    assert path is not None and not __import__("os").path.exists(path)  # the SQLite file is gone


def test_labels_with_spilled_facts_equal_labels_with_facts_in_memory(tmp_path, monkeypatch):
    conn, slam = _logs(tmp_path)
    runs = {}
    for rows in (facts_module.MEMORY_ROWS, 50):
        monkeypatch.setattr(facts_module, "MEMORY_ROWS", rows)
        out = CliRunner().invoke(cli, ["label", str(conn), *slam, "-f", "json"], catch_exceptions=False)
        assert out.exit_code == 0
        runs[rows] = [json.loads(line) for line in out.stdout.splitlines()]
    memory, spilled = runs.values()
    assert memory == spilled and len(memory) == 320
    by_uid = {r["uid"]: r for r in spilled}
    assert by_uid["C4"]["slam.reply"] == "421 the last row of a uid wins"
    assert by_uid["C4"]["slam.label"] == "refused_with_reply" and by_uid["C300"]["slam.reply"] == "421 busy"


def test_hostile_texts_and_uids_go_through_sqlite_unchanged():
    odd = ["\udcff\udcfe lone surrogates", "'; DROP TABLE facts; --", "tab\there", "ünï", ""]
    frame = pd.DataFrame({"uid": pd.Series(["u\udc80", "x'); --", "C1", "C2", "C3"], dtype=object),
                          "ftp_reply_msg": pd.Series(odd, dtype=object),  # as the reader makes them
                          "close_delay": [1.5, np.inf, -np.inf, np.nan, 0.0]})
    facts = SlamFacts(SLAM_FACT_COLUMNS, memory_rows=0)
    try:
        facts.add(frame)
        facts.done()
        assert facts.spilled and len(facts) == 5
        got = facts.reindex(np.array(["C3", "x'); --", "u\udc80", "C1", "missing", "C2"], dtype=object))
        assert got["ftp_reply_msg"].tolist()[:4] == ["", "'; DROP TABLE facts; --", odd[0], "tab\there"]
        assert np.isnan(got["ftp_reply_msg"].iloc[4])
        assert got["close_delay"].tolist()[:4] == [0.0, np.inf, 1.5, -np.inf]
        assert np.isnan(got["close_delay"].iloc[4]) and np.isnan(got["close_delay"].iloc[5])
    finally:
        facts.close()


def test_joined_chunks_stay_arrow_and_their_frames_carry_the_facts(tmp_path, monkeypatch):
    # the facts join as a small frame of their own: no pandas frame of the chunk is made for the
    # labels, and a frame asked for later (JSON, ECS and CSV writers, label_logs) holds the facts
    import zeekslam.label as label_module
    from zeekslam.columns import ArrowColumns, JoinedColumns
    from zeekslam.label import label_chunks
    from zeekslam.read import CHUNK_ROWS, FRAME_CHUNK_ROWS

    conn, slam = _logs(tmp_path)
    asked: list[int] = []
    real = label_module.read_log

    def spy(*args, **kwargs):
        asked.append(kwargs["chunk_rows"])
        return real(*args, **kwargs)

    monkeypatch.setattr(label_module, "read_log", spy)
    alone = list(label_chunks([str(conn)]))
    joined = list(label_chunks([str(conn), *slam]))
    assert asked == [CHUNK_ROWS, FRAME_CHUNK_ROWS]  # each joined chunk carries a frame of its facts
    assert sum(len(c.chunk) for c in alone) == 320
    assert [type(c.columns.base) for c in joined] == [ArrowColumns]  # type: ignore[attr-defined]
    assert isinstance(joined[0].columns, JoinedColumns) and joined[0].chunk._frame is None
    row = {uid: i for i, uid in enumerate(joined[0].chunk.texts_as_parsed("uid").tolist())}
    assert len(row) == 320
    frame = joined[0].frame
    assert frame["ftp_reply_msg"].iloc[row["C4"]] == "the last row of a uid wins"
    assert frame["slam.reply"].iloc[row["C4"]] == "421 the last row of a uid wins"
    assert frame["orig_concurrent"].iloc[row["C301"]] == 1
    assert np.isnan(frame["close_delay"].iloc[row["C3"]]) and np.isnan(frame["orig_concurrent"].iloc[row["C1"]])


def test_facts_joined_to_arrow_columns_label_as_the_joined_frame_does(tmp_path):
    # the Dask engine joins facts to whole pandas frames (join_slam_facts): the same labels
    from zeekslam.label import LABEL_FIELDS, join_slam_facts, label_chunks, label_frame, load_slam_facts
    from zeekslam.read import read_log

    conn, slam = _logs(tmp_path)
    (chunk,) = read_log(str(conn), columns=None)
    expected = label_frame(join_slam_facts(chunk.frame, load_slam_facts(slam)))
    (labeled,) = label_chunks([str(conn), *slam])
    for name in LABEL_FIELDS:
        assert labeled.column(name).tolist() == expected[name].tolist(), name
    assert (expected["slam.label"] == "refused_with_reply").sum() > 50  # the facts made a difference


def test_uid_filter_never_misses_a_uid_with_facts():
    # a Bloom filter: every uid put in must answer "may have facts"; most others must not
    from zeekslam.facts import _UidFilter

    held = [f"C{i:x}" for i in range(0, 300_000, 3)] + ["u\udc80", "'; DROP TABLE facts; --", "", "ünï"]
    others = [f"C{i:x}" for i in range(1, 300_000, 3)]
    uid_filter = _UidFilter()
    uid_filter.add(held)
    assert uid_filter.might_hold(held).all()
    assert uid_filter.might_hold(others).mean() < 0.001  # false "may": a wasted lookup, nothing worse
    assert not uid_filter.might_hold([None, "nobody"]).any()


def test_facts_join_a_chunk_that_is_not_clean_ascii(tmp_path):
    # a line with a byte Zeek would not write sends its chunk down the frame path: the uids then
    # come from the frame, and the facts still join (JSON out, as an analyst's jq reads it)
    conn, slam = _logs(tmp_path)
    lines = conn.read_text().splitlines()
    odd = next(i for i, line in enumerate(lines) if line.startswith("1700000000") and "\tC7\t" in line)
    lines[odd] = lines[odd].replace("\t-\t", "\tftp\u00e9\t", 1)  # the service column, not ASCII
    conn.write_text("\n".join(lines) + "\n")
    out = CliRunner().invoke(cli, ["label", str(conn), *slam, "-f", "json"], catch_exceptions=False)
    assert out.exit_code == 0
    by_uid = {r["uid"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert len(by_uid) == 320 and by_uid["C7"]["service"] == "ftp\u00e9"
    assert by_uid["C4"]["slam.reply"] == "421 the last row of a uid wins"
    assert by_uid["C7"]["slam.reply"] == "220 ok" and by_uid["C8"]["slam.reply"] == "421 Too many connections"
    from zeekslam.columns import FrameColumns as Frame
    from zeekslam.label import label_chunks

    chunks = list(label_chunks([str(conn), *slam]))
    assert sum(len(c.chunk) for c in chunks) == 320
    assert any(isinstance(c.columns.base, Frame) for c in chunks)  # type: ignore[attr-defined] - joined


def test_facts_read_ahead_in_log_order_and_looked_up_out_of_it():
    # SQLite facts are read ahead in the logs' common order, and looked up by uid where the
    # order differs (reversed here, and a uid's later row that wins): the same as in memory
    uids = [f"C{i}" for i in range(3000)]
    frame = pd.DataFrame({"uid": pd.Series(uids + uids[::7], dtype=object),
                          "close_delay": np.arange(3000 + len(uids[::7]), dtype=float),
                          "closer": pd.Series(["resp", "orig", None] * 1000 + ["late"] * len(uids[::7]), dtype=object)})
    memory = SlamFacts(SLAM_FACT_COLUMNS)
    memory.add(frame)
    memory.done()
    asked = np.array([f"C{i}" for i in range(-50, 3050)], dtype=object)  # some with no facts at all
    for order in (asked, asked[::-1]):
        spilled = SlamFacts(SLAM_FACT_COLUMNS, memory_rows=0)
        try:
            spilled.add(frame)
            spilled.done()
            assert len(spilled) == 3000
            for lo in range(0, len(order), 250):  # a chunk at a time, as label_chunks asks
                part = order[lo : lo + 250]
                _same_reading(memory.reindex(part), spilled.reindex(part))
            got = spilled.reindex(np.array(["C7", "C10"], dtype=object))
            assert got["closer"].tolist() == ["late", "orig"] and got["close_delay"].iloc[0] == 3001
        finally:
            spilled.close()
