"""Reading real and hostile Zeek logs: every data line becomes a row, nothing is lost."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import LAB, SHARED_WILD, WILD, conn_row, tsv_header, write_generated
from zeekslam.read import (
    InputError,
    MalformedLine,
    NotAZeekLog,
    find_inputs,
    read_log,
    sniff_kind,
)


def _data_lines(path) -> int:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as f:
        return sum(1 for line in f if line.strip() and not line.startswith("#"))


def _rows(path, **kw):
    chunks = list(read_log(str(path), **kw))
    return chunks, sum(len(c) for c in chunks), sum(len(c.errors) for c in chunks)


WILD_FILES = sorted(p for p in WILD.iterdir() if p.suffix in (".log", ".gz"))


@pytest.mark.parametrize("path", WILD_FILES, ids=lambda p: p.name)
def test_wild_logs_every_line_is_a_row(path):
    chunks, rows, _ = _rows(path)
    expected = _data_lines(path)
    if path.name == "bro23-logascii-tsv-mode.log":
        expected -= 1  # its first line is the field names
    assert rows == expected > 0
    assert all(c.kind in ("conn", "conntimelast") for c in chunks)


@pytest.mark.skipif(not SHARED_WILD.is_dir(), reason="../shared/data/wild is not beside this checkout")
def test_all_24_shared_wild_logs_read_without_loss():
    files = sorted(p for p in SHARED_WILD.iterdir() if p.name != "README.md")
    assert len(files) == 24
    for path in files:
        _, rows, _ = _rows(path)
        expected = _data_lines(path) - (1 if path.name == "bro23-logascii-tsv-mode.log" else 0)
        assert rows == expected, path.name


def test_corrupted_file_keeps_bad_lines_with_file_and_line(tmp_path):
    """The shape of a real in-place overwrite (wild/bro25-corrupted-overwrite.log), GENERATED from lab rows."""
    good = conn_row("Cgood")
    lines = tsv_header() + [good, good[:60] + "1486427778.495926\t" + good, "2-0#close\t2017-02-07", "-57",
                            good.replace("1700000000.000001", "1486427778.81486427782.559419"),
                            good + "\x00\x00", "#close\t2017-02-07-13-45-57", good]
    path = write_generated(tmp_path / "conn.log", lines)
    chunks, rows, malformed = _rows(path)
    assert (rows, malformed) == (7, 5)
    errors = {c.line_numbers[i]: why for c in chunks for i, why in c.errors.items()}
    assert sorted(errors) == [10, 11, 12, 13, 14]
    assert errors[11] == "expected 21 fields, found 2"
    assert errors[12] == "expected 21 fields, found 1"
    assert errors[13] == "field 'ts': '1486427778.81486427782.559419' is not a time"
    assert errors[14] == "contains NUL bytes"
    with pytest.raises(MalformedLine, match=r"conn.log:10: expected 21 fields, found 30"):
        list(read_log(str(path), strict=True))


def test_hash_inside_a_field_is_kept(tmp_path):
    """zat's pandas reader uses read_csv(comment='#'): a '#' in a field cuts the row. Ours does not."""
    from zat.log_to_dataframe import LogToDataFrame

    row = conn_row("Chash", service="ftp#evil")
    path = write_generated(tmp_path / "conn.log", tsv_header() + [row])
    chunks, rows, malformed = _rows(path)
    assert (rows, malformed) == (1, 0)
    assert chunks[0].frame["service"].iat[0] == "ftp#evil"
    assert chunks[0].frame["history"].iat[0] == "ShAfFa"
    zat_frame = LogToDataFrame().create_dataframe(str(path))
    assert str(zat_frame["service"].iloc[0]) != "ftp#evil"  # the defect our reader guards against


def test_json_log_is_read_not_hung():
    """zat's ZeekLogReader loops on JSON logs; ours reads them (with and without _path)."""
    chunks, rows, malformed = _rows(LAB / "normal" / "json" / "conn.log")
    assert rows == _data_lines(LAB / "normal" / "json" / "conn.log") and malformed == 0
    assert chunks[0].fmt == "json" and chunks[0].kind == "conn"
    assert chunks[0].frame["ts"].dtype == "float64"


def test_gzip_and_rotated_names(tmp_path):
    """zat's header reader cannot open .gz; ours can, found by rotated archive name in a directory."""
    src = LAB / "mixed_dev" / "tsv" / "conn.log"
    day = tmp_path / "2026-11-25"
    day.mkdir()
    with open(src, "rb") as f, gzip.open(day / "conn.12:00:00-13:00:00.log.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    (day / "known_hosts.log").write_text("#path\tknown_hosts\n")
    found = find_inputs([str(tmp_path)])
    assert [p.rsplit("/", 1)[1] for p in found.conn] == ["conn.12:00:00-13:00:00.log.gz"]
    _, rows, _ = _rows(found.conn[0])
    assert rows == _data_lines(src)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    data = gzip.compress((LAB / "mixed_dev" / "tsv" / "conn.log").read_bytes())
    path = tmp_path / "conn.log.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot be read as gzip"):
        list(read_log(str(path)))


@pytest.fixture(params=["isal", "stdlib"])
def gzip_reader(request, monkeypatch):
    """Each gzip reader in turn: ISA-L's (installed with zeekslam where it has wheels) and the
    standard library's, which the reader falls back to without it."""
    import zeekslam.read as read

    if request.param == "isal":
        isal = pytest.importorskip("isal.igzip")
        assert read._GzipFile is isal.IGzipFile  # installed: the reader uses it
    else:
        monkeypatch.setattr(read, "_GzipFile", gzip.GzipFile)
    return request.param


def test_both_gzip_readers_give_every_row(tmp_path, gzip_reader):
    """A multi-member archive (two rotations concatenated, as ``cat a.gz b.gz`` makes) of a real log."""
    src = (LAB / "mixed_dev" / "tsv" / "conn.log").read_bytes()
    path = tmp_path / "conn.log.gz"
    path.write_bytes(gzip.compress(src) + gzip.compress(src, compresslevel=1))
    chunks, rows, malformed = _rows(path)
    assert rows == 2 * _data_lines(LAB / "mixed_dev" / "tsv" / "conn.log") and malformed == 0
    plain = pd.concat([c.frame for c in read_log(str(LAB / "mixed_dev" / "tsv" / "conn.log"))], ignore_index=True)
    both = pd.concat([c.frame for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(both, pd.concat([plain, plain], ignore_index=True))


def _damaged(data: bytes, how: str) -> bytes:
    if how == "cut":
        return data[: len(data) // 2]
    if how == "crc":  # the trailer's CRC-32 flipped
        return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]
    if how == "trailing_garbage":  # bytes after the last member that start no member
        return data + b"not gzip"
    # the first deflate block's header overwritten: an invalid block, whatever inflates it
    return data[:10] + b"\xff" * 64 + data[74:]


@pytest.mark.parametrize("how", ["cut", "crc", "bad_block", "trailing_garbage"])
def test_damaged_gzip_is_a_clear_error_with_either_reader(tmp_path, gzip_reader, how):
    path = tmp_path / "conn.log.gz"
    path.write_bytes(_damaged(gzip.compress((LAB / "mixed_dev" / "tsv" / "conn.log").read_bytes() * 20), how))
    with pytest.raises(InputError, match="cannot be read as gzip"):
        list(read_log(str(path)))


def test_headers_mid_file_and_before_any_header(tmp_path):
    """Shape of wild/zeek-concatenated-headerless-start.log, GENERATED: rows, then a header, then rows."""
    lines = [conn_row("Cfirst"), "#close\t2026-01-01-00-00-00"] + tsv_header() + [conn_row("Csecond")]
    path = write_generated(tmp_path / "conn.log", lines)
    chunks, rows, malformed = _rows(path)
    assert (rows, malformed) == (2, 0)
    assert "stock conn.log layout of 21 columns" in chunks[0].header.note
    assert [c.frame["uid"].iat[0] for c in chunks] == ["Cfirst", "Csecond"]


def test_separators_and_escapes(tmp_path):
    fields = ["ts", "uid", "history", "conn_state", "service"]
    lines = ["#separator ,", "#set_separator,;", "#path,conn", "#fields," + ",".join(fields),
             "#types,time,string,string,string,string", "1.5,Cesc,ShAfFa,SF,ftp\\x2cdata"]
    chunks, rows, _ = _rows(write_generated(tmp_path / "conn.log", lines))
    assert rows == 1 and chunks[0].header.separator == ","
    assert chunks[0].frame["service"].iat[0] == "ftp\\x2cdata"  # raw; writers unescape


def test_stdin(monkeypatch):
    data = (LAB / "port_closed" / "tsv" / "conn.log").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(data))))
    _, rows, _ = _rows("-")
    assert rows == 3


def test_kinds_and_wrong_logs():
    assert sniff_kind(str(LAB / "normal" / "tsv" / "ftp.log")) == "ftp"
    assert sniff_kind(str(LAB / "normal" / "json" / "conn.log")) == "conn"
    with pytest.raises(NotAZeekLog, match="known_hosts"):
        find_inputs([str(LAB / "normal" / "tsv" / "known_hosts.log")])
    with pytest.raises(InputError, match="no such file"):
        find_inputs(["/nonexistent/conn.log"])


def test_reader_prints_nothing_to_stdout(capsys):
    """zat prints to stdout ('Could not find ts...'); a pipeline's stdout must carry only output rows."""
    list(read_log(str(LAB / "normal" / "tsv" / "conn.log")))
    assert capsys.readouterr().out == ""


def test_chunks_are_bounded_and_ordered():
    path = LAB / "mixed_dev" / "tsv" / "conn.log"
    chunks = list(read_log(str(path), chunk_rows=50))
    # equal shares of a block (two writer threads build them side by side), none over chunk_rows
    assert [len(c) for c in chunks] == [39, 40, 40, 40]
    numbers = [n for c in chunks for n in c.line_numbers]
    assert numbers == sorted(numbers) and len(numbers) == 159
    whole = pd.concat([c.frame for c in chunks])
    assert whole["uid"].is_unique


def test_zat_cannot_open_gzip_but_we_can(tmp_path):
    from zat.utils.field_info import get_field_info

    path = tmp_path / "conn.log.gz"
    path.write_bytes(gzip.compress((LAB / "normal" / "tsv" / "conn.log").read_bytes()))
    with pytest.raises(Exception):  # noqa: B017 - any failure proves the guard is needed
        names, _ = get_field_info(str(path))
        assert "uid" in names
    assert _rows(path)[1] == _data_lines(LAB / "normal" / "tsv" / "conn.log")


def test_command_line_reads_a_pipe():
    src = LAB / "conn_limit_421" / "tsv" / "conn.log"
    proc = subprocess.run([sys.executable, "-m", "zeekslam", "label", "-", "--format", "json"],
                          input=src.read_bytes(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == _data_lines(src)


def test_json_iso8601_timestamps(tmp_path):
    """GENERATED: json-streaming-logs style ts (ISO 8601) next to epoch seconds."""
    path = tmp_path / "conn.log"
    path.write_text('{"_path":"conn","ts":"2026-11-25T11:40:15.099Z","uid":"C1","proto":"tcp","history":"Sr",'
                    '"conn_state":"REJ"}\n{"ts":1795606815.5,"uid":"C2","proto":"tcp","history":"S","conn_state":"S0"}\n')
    chunks, rows, malformed = _rows(path)
    assert (rows, malformed) == (2, 0)
    assert chunks[0].frame["ts"].tolist() == [1795606815.099, 1795606815.5]


def _reference_json_keys(lines):
    """The frame's columns as the reader made them before: every record's keys, first seen first."""
    import json as _json

    from zeekslam.read import _flatten

    records = []
    for line in lines:
        obj = _json.loads(line)
        records.append(_flatten(obj) if any(isinstance(v, dict) for v in obj.values()) else obj)
    return list(dict.fromkeys(k for r in records for k in r)), records


def test_json_chunks_are_small_and_keep_every_key_in_first_seen_order(tmp_path):
    """GENERATED JSON lines (not Zeek's output): key sets that change from line to line, keys in
    other orders, nested objects (flattened to dotted names), a brace inside a text that is no
    object.  Lines taken one by one come in chunks of at most LINE_CHUNK_ROWS (their Python
    objects are big), whatever ``chunk_rows`` asks."""
    import json as _json

    from zeekslam.read import LINE_CHUNK_ROWS

    lines = []
    for i in range(LINE_CHUNK_ROWS * 2 + 7):
        row = {"ts": 1.7e9 + i, "uid": f"C{i}", "id.orig_h": "10.0.0.1", "id.orig_p": 40000,
               "id.resp_h": "10.0.0.2", "id.resp_p": 21, "proto": "tcp", "history": "ShAfFa", "conn_state": "SF"}
        if i % 3 == 0:
            row = {"id": {"orig_h": "10.0.0.9", "resp_h": "10.0.0.8", "resp_p": 22}, **row}  # nested, first
        if i % 5 == 0:
            row["service"] = "say {hi}"  # a brace, no object
        if i % 7 == 0:
            row = dict(reversed(list(row.items())))
        if i == 11:
            row["late_key"] = [1, 2]
        lines.append(_json.dumps(row))
    path = write_generated(tmp_path / "conn.log", lines)
    chunks = list(read_log(str(path), chunk_rows=25_000))
    assert [len(c) for c in chunks] == [LINE_CHUNK_ROWS, LINE_CHUNK_ROWS, 7]
    for chunk, lo in zip(chunks, range(0, len(lines), LINE_CHUNK_ROWS), strict=True):
        keys, records = _reference_json_keys(lines[lo:lo + LINE_CHUNK_ROWS])
        assert list(chunk.frame.columns) == keys
        assert chunk.records == records
    first = chunks[0].frame
    assert first.loc[3, "id.resp_p"] == 21.0 and first.loc[5, "service"] == "say {hi}"
    assert first.loc[11, "late_key"] == "1,2" and first["late_key"].isna().sum() == LINE_CHUNK_ROWS - 1
    # only the columns asked for, in the order asked
    some = list(read_log(str(path), columns=["uid", "ts", "nope", "service"]))[0].frame
    assert list(some.columns) == ["uid", "ts", "service"]


JSON_EDGES = [  # GENERATED lines (not Zeek's output), each alone in a log, then all together
    '{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":4000,"id.resp_h":"10.0.0.2","id.resp_p":21,'
    '"proto":"tcp","conn_state":"SF","history":"ShAfFa"}',
    '{"uid":"C2","ts":2,"id.resp_p":21,"service":null,"history":"S","conn_state":"S0"}',  # key order, null
    '{"ts":3,"uid":"C3","orig_bytes":18446744073709551616,"resp_bytes":9007199254740993}',  # past int64, 2**53
    '{"ts":NaN,"uid":"C4","duration":1' + "0" * 400 + '}',  # what JSON has no number for
    '{"ts":5,"uid":"C5","service":5}',  # a number where text goes
    '{"ts":"2026-01-01T00:00:00Z","uid":"C6"}',  # an ISO time
    '{"ts":7,"uid":"C7","local_orig":true,"tunnel_parents":["a","b"]}',  # a bool, a list (not asked)
    '{"ts":8,"uid":"C8","uid":"C8b"}',  # a key twice
    '{"ts":9,"uid":"C\\u001b[2J","service":"a\\\\b"}',  # escapes
    '{"ts":10,"id":{"orig_h":"10.0.0.9","resp_p":22},"uid":"C10"}',  # nested
    '{"ts":11,"uid":"C11","history":"say {hi}"}',  # a brace in a text
    '[1,2]',  # no object
    '{"ts":12,"uid":"C12","duration":true}',  # a bool where a number goes
    '{"ts":13,"uid":"C13","orig_bytes":"7"}',  # a number as text
    '{"ts":14,"uid":"CNaNInfinity","service":"NaN"}',  # the letters in texts: plain
    '{"ts":15,"uid":"C15","duration": -Infinity}',  # a value JSON has no such thing for
    '{"ts":16,"uid":"C16","slam.label":"completed","history":"ShAdDaFf"}',  # slam.* of its own
    '{}',  # an object with nothing in it
    '{"ts":"2026-01-01T00:00:01.250000Z","uid":"C17"}',  # ISO times: as Zeek writes them,
    '{"ts":"1969-12-31T23:59:59.5Z","uid":"C18"}',
    '{"ts":"2026-01-01T00:00:01.123456789Z","uid":"C19"}',  # past the microsecond,
    '{"ts":"2026-01-01T02:00:01+02:00","uid":"C20"}',  # with an offset,
    '{"ts":"2026-01-01 00:00:01Z","uid":"C21"}',  # with a space,
    '{"ts":"2026-13-01T00:00:01Z","uid":"C22"}',  # no such month
]


@pytest.mark.parametrize("columns", [None, "label"])
def test_json_lines_read_by_arrow_equal_the_python_reading(tmp_path, columns):
    """Plain JSON lines go through Arrow's JSON reader; the frame, objects, labels and report
    are what the line-by-line reading gives, on the lab's and the wild's JSON logs and on
    GENERATED edge cases (the ones Arrow would read otherwise go the Python way)."""
    from zeekslam.diagnose import ServerDiagnoser, rows_of_frame, rows_of_labeled
    from zeekslam.label import label_chunks
    from zeekslam.read import LABEL_COLUMNS, parse_json
    from zeekslam.write import write

    wanted = list(LABEL_COLUMNS) if columns else None
    paths = [LAB / s / "json" / "conn.log" for s in ("mixed_dev", "normal", "acl_silent_close")]
    paths += [p for p in (WILD / "zeek3-json-zat.log",) if p.exists()]
    for i, line in enumerate(JSON_EDGES):  # after a plain conn.log line (what the kind is told by)
        paths.append(write_generated(tmp_path / f"edge{i}.log", [JSON_EDGES[0], line]))
    paths.append(write_generated(tmp_path / "edges.log", [JSON_EDGES[0]] * 3 + JSON_EDGES))
    # ISO times after an ISO one (a number and a text in one column send a chunk the Python way)
    iso_first = JSON_EDGES[0].replace('"ts":1.5', '"ts":"2026-01-01T00:00:00.500000Z"')
    isos = [line for line in JSON_EDGES if line.startswith('{"ts":"')]
    for i, line in enumerate(isos):
        paths.append(write_generated(tmp_path / f"iso{i}.log", [iso_first, line]))
    paths.append(write_generated(tmp_path / "isos.log", [iso_first] + isos[:3]))  # Zeek's own: in Arrow
    in_arrow = 0
    for path in paths:
        lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
        chunks = list(read_log(str(path), columns=wanted))
        got = [n for c in chunks for n in c.line_numbers]
        assert len(got) == len(lines)
        for chunk in chunks:
            arrow = chunk.table is not None
            in_arrow += arrow * len(chunk)
            frame, records, errors = parse_json(_chunk_lines(path, chunk), wanted)
            assert chunk.errors == errors
            pd.testing.assert_frame_equal(chunk.frame, frame)
            assert chunk.records == records
        for lab_a, lab_b in zip(label_chunks([str(path)], columns=wanted), _frame_labeled(path, wanted), strict=True):
            for name in ("slam.label", "slam.reason", "slam.closer"):
                assert list(lab_a.column(name)) == list(lab_b.column(name)), (path, name)
            if lab_a.labels is not None and not lab_a.chunk.errors:
                a, b = rows_of_labeled(lab_a), rows_of_frame(lab_b.frame)
                np.testing.assert_array_equal(a.cat, b.cat)
        for fmt in ("json", "zeek", "ecs", "csv"):  # every writer's text, each way
            fast = "\n".join(map(str, write(label_chunks([str(path)], columns=wanted), fmt)))
            slow = "\n".join(map(str, write(iter(_frame_labeled(path, wanted)), fmt)))
            if fmt == "json":  # plain lines keep the sensor's own text: the same members, in order
                assert _members(fast) == _members(slow), path
            else:
                assert _no_times(fast) == _no_times(slow), (path, fmt)
        d1, d2 = ServerDiagnoser(), ServerDiagnoser()
        for lab in label_chunks([str(path)], columns=wanted):
            d1.add(rows_of_labeled(lab))
            d2.add(rows_of_frame(lab.frame))
        assert [x.summary for x in d1.finish()] == [x.summary for x in d2.finish()]
    # every column asked (None): the lab logs' bool columns (local_orig) send their chunks the Python way
    assert in_arrow > (200 if columns else 10)
    assert next(read_log(str(tmp_path / "isos.log"), columns=wanted)).table is not None
    assert next(read_log(str(tmp_path / "iso4.log"), columns=wanted)).table is None  # (an offset: pandas reads it)


def test_iso_times_give_the_labels_and_report_of_epoch_times(tmp_path):
    """The lab's JSON logs with each ts rewritten as Zeek writes it under JSON::TS_ISO8601
    (GENERATED from real logs): read in Arrow, the same labels and the same report as the
    epoch seconds Zeek wrote."""
    import datetime

    from zeekslam.diagnose import ServerDiagnoser, rows_of_labeled
    from zeekslam.label import label_chunks
    from zeekslam.report import iter_text

    def report(labeled):
        diagnoser = ServerDiagnoser()
        for chunk in labeled:
            diagnoser.add(rows_of_labeled(chunk))
        return "".join(iter_text(diagnoser.finish()))

    def iso(match):
        micro = round(float(match.group(1)) * 1e6)
        moment = datetime.datetime.fromtimestamp(micro // 10**6, datetime.UTC)
        return f'"ts":"{moment:%Y-%m-%dT%H:%M:%S}.{micro % 10**6:06d}Z"'

    for scenario in ("mixed_dev", "crash_day", "conn_limit_421"):
        epoch = LAB / scenario / "json" / "conn.log"
        lines = [re.sub(r'"ts":([0-9.]+)', iso, line) for line in epoch.read_text().splitlines()]
        path = write_generated(tmp_path / f"{scenario}.iso.log", lines)
        assert '"ts":"20' in lines[0]
        chunks = [list(label_chunks([str(p)])) for p in (epoch, path)]
        assert all(c.chunk.table is not None for c in chunks[1])  # Arrow's lane
        assert [list(c.column("slam.label")) for c in chunks[0]] == [list(c.column("slam.label")) for c in chunks[1]]
        assert report(chunks[0]) == report(chunks[1])


def test_iso_times_out_of_pandas_nanosecond_range_do_not_crash(tmp_path):
    """GENERATED ISO times before 1677 or past 2262 (pandas' nanoseconds): the reader used to
    raise OutOfBoundsDatetime on them; now each row is read, as a time or as malformed."""
    import datetime

    from zeekslam.label import label_chunks

    row = '"uid":"C{i}","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","id.resp_p":21,"proto":"tcp","history":"Sr"'
    times = ["0999-01-01T00:00:01Z", "0999-01-01 00:00:01", "1500-06-01T12:00:00+02:00", "3000-01-01T00:00:00.5Z",
             "99999-01-01T00:00:01"]
    path = write_generated(tmp_path / "conn.log", ['{"ts":"' + t + '",' + row.format(i=i) + "}"
                                                   for i, t in enumerate(times)])
    labeled = list(label_chunks([str(path)]))
    assert sum(len(c.chunk) for c in labeled) == len(times)
    ts = np.concatenate([c.columns.numbers("ts") for c in labeled])
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    assert ts[0] == (datetime.datetime(999, 1, 1, 0, 0, 1, tzinfo=datetime.UTC) - epoch).total_seconds()
    assert ts[3] == (datetime.datetime(3000, 1, 1, tzinfo=datetime.UTC) - epoch).total_seconds() + 0.5


def _no_times(text: str) -> str:
    """Output without Zeek's #open/#close lines (the time of writing)."""
    return "\n".join(line for line in text.split("\n") if not line.startswith(("#open", "#close")))


def _members(text: str) -> list[list[tuple]]:
    """Each JSON line's (key, value) members in order, every member kept (a key twice too)."""
    return [json.loads(line, object_pairs_hook=list) for line in text.split("\n")]


def _chunk_lines(path, chunk):
    lines = path.read_text().splitlines()
    return [lines[n - 1] for n in chunk.line_numbers]


def _frame_labeled(path, wanted):
    """The same log labeled from frames the line-by-line reader made (Arrow's JSON lane off)."""
    import zeekslam.read as read
    from zeekslam.label import label_chunks

    keep = read._arrow_json
    read._arrow_json = lambda lines, columns: None  # (its tables: none)
    try:
        return list(label_chunks([str(path)], columns=wanted))
    finally:
        read._arrow_json = keep
