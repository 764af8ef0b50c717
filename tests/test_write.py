"""Writers: output that zeek-cut/zat, jq and spreadsheets accept, whatever the log says."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from zat.log_to_dataframe import LogToDataFrame

from conftest import LAB, WILD, conn_row, tsv_header, write_generated
from zeekslam.label import LABEL_FIELDS, label_chunks
from zeekslam.read import LABEL_COLUMNS, read_log
from zeekslam.write import csv_cell, write, zeek_escape


def _out(paths, fmt, columns=None):
    return "\n".join(write(label_chunks([str(p) for p in paths], columns=columns), fmt)).split("\n")


def test_zeek_output_keeps_every_input_line_and_reads_back(tmp_path):
    src = LAB / "mixed_dev" / "tsv" / "conn.log"
    lines = _out([src], "zeek")
    data = [line for line in lines if not line.startswith("#")]
    original = [line for line in src.read_text().splitlines() if not line.startswith("#")]
    assert [d.split("\t")[:22] for d in data] == [o.split("\t") for o in original]
    out = tmp_path / "labeled.log"
    out.write_text("\n".join(lines) + "\n")
    back = pd.concat(c.frame for c in read_log(str(out)))
    assert back["slam.label"].notna().all() and len(back) == len(original)
    zat_frame = LogToDataFrame().create_dataframe(str(out))  # an independent Zeek TSV reader
    assert list(zat_frame.columns[-len(LABEL_FIELDS):]) == LABEL_FIELDS
    assert (zat_frame["slam.label"].astype(str) == "slammed").sum() == 15


def test_json_output_is_one_valid_object_per_row():
    lines = _out([LAB / "crash_day" / "tsv" / "conn.log"], "json", columns=None)
    objs = [json.loads(line) for line in lines]
    assert len(objs) == 85 + sum(1 for o in objs if o.get("proto") != "tcp")
    first = objs[0]
    assert isinstance(first["id.resp_p"], int) and isinstance(first["ts"], float)
    assert {o["slam.label"] for o in objs} >= {"rejected", "completed", "reset_after_accept"}


def test_hostile_fields_cannot_break_framing_or_terminals(tmp_path):
    """GENERATED: a banner-like service value with escapes, a tab, a newline and a formula."""
    evil = "\\x1b]0;pwned\\x07\\x09=cmd|' /C calc'!A0\\x0a#"
    path = write_generated(tmp_path / "conn.log", tsv_header() + [conn_row("Cevil", service=evil)])
    tsv = _out([path], "zeek")
    row = [line for line in tsv if not line.startswith("#")][0]
    assert row.count("\t") == 20 + len(LABEL_FIELDS) and "\x1b" not in row and "\n" not in row
    obj = json.loads(_out([path], "json", columns=None)[0])
    assert "\x1b" not in json.dumps(obj, ensure_ascii=False).replace("\\u001b", "")
    assert obj["service"].startswith("\\x1b]0;pwned\\x07\\x09=cmd")
    text = "\n".join(_out([path], "csv", columns=None))
    cells = list(csv.reader(io.StringIO(text)))
    assert len(cells) == 2 and len(cells[0]) == len(cells[1])
    service = cells[1][cells[0].index("service")]
    assert service.startswith("\\x1b") and "\x1b" not in text


def test_csv_neutralises_formulas():
    assert csv_cell("=1+1") == "'=1+1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("-2+3") == "'-2+3"
    assert csv_cell(-2.5) == "-2.5"  # numbers stay numbers
    assert csv_cell("plain") == "plain"


def test_zeek_escape_matches_zeek_conventions():
    assert zeek_escape("a\tb") == "a\\x09b"
    assert zeek_escape("-") == "\\x2d"
    assert zeek_escape("(empty)") == "\\x28\\x65\\x6d\\x70\\x74\\x79\\x29"
    assert zeek_escape("") == "(empty)"
    assert zeek_escape("back\\slash") == "back\\x5cslash"


def test_malformed_rows_are_written_not_dropped(tmp_path):
    path = write_generated(tmp_path / "conn.log", tsv_header() + [conn_row("Cok"), "garbage\tline"])
    tsv = [line for line in _out([path], "zeek") if not line.startswith("#")]
    assert len(tsv) == 2
    bad = tsv[1].split("\t")
    assert len(bad) == 21 + len(LABEL_FIELDS)
    assert bad[21] == "malformed"
    assert f"{path}:10: malformed line: expected 21 fields, found 2; raw line: garbage\\x09line" == bad[-1]
    objs = [json.loads(line) for line in _out([path], "json", columns=None)]
    assert objs[1]["_raw"] == "garbage\\x09line" and objs[1]["_line"] == 10


def test_json_input_to_zeek_output(tmp_path):
    lines = _out([LAB / "port_closed" / "json" / "conn.log"], "zeek", columns=None)
    fields = next(line for line in lines if line.startswith("#fields")).split("\t")[1:]
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    assert fields[-len(LABEL_FIELDS):] == LABEL_FIELDS
    assert all(len(r) == len(fields) for r in rows)
    assert {r[fields.index("slam.label")] for r in rows} == {"rejected"}


def test_control_characters_in_raw_lines_are_spelled_out(tmp_path):
    """GENERATED: a raw ESC/BEL/CR inside a TSV field (Zeek never writes one) is \\xNN in the output."""
    row = conn_row("Craw", service="a\x1b[2Jb\x07c\rd")
    path = write_generated(tmp_path / "conn.log", tsv_header() + [row] + [conn_row(f"C{i}") for i in range(3)])
    data = [line for line in _out([path], "zeek") if not line.startswith("#")]
    assert len(data) == 4
    assert data[0].split("\t")[7] == "a\\x1b[2Jb\\x07c\\x0dd"
    assert data[1].split("\t")[:21] == conn_row("C0").split("\t")


def test_invalid_utf8_is_read_as_zeek_escapes(tmp_path):
    path = tmp_path / "conn.log"
    header = "\n".join(tsv_header()) + "\n"
    path.write_bytes(header.encode() + conn_row("Cbin", service="X").replace("\tX\t", "\tbad\xff\xfe\t").encode(
        "latin-1") + b"\n")
    data = [line for line in _out([path], "zeek") if not line.startswith("#")]
    assert data[0].split("\t")[7] == "bad\\xff\\xfe"
    obj = json.loads(_out([path], "json")[0])
    assert obj["service"] == "bad\\xff\\xfe"


def test_a_new_header_block_when_the_columns_change(tmp_path):
    """Two logs with different columns (Bro 2.3 and Zeek 8) in one output, as a concatenated Zeek log."""
    from conftest import WILD

    first, second = WILD / "bro23-teredo-tunnel-parents.log", LAB / "port_closed" / "tsv" / "conn.log"
    lines = _out([first, second], "zeek")
    fields = [line for line in lines if line.startswith("#fields")]
    assert len(fields) == 2 and fields[0] != fields[1]
    assert sum(1 for line in lines if line.startswith("#close")) == 2
    out = tmp_path / "both.log"
    out.write_text("\n".join(lines) + "\n")
    back = pd.concat(c.frame for c in read_log(str(out)))
    assert len(back) == 21 + 3
    assert back.loc[back["proto"] == "tcp", "slam.label"].notna().all()  # non-TCP rows: unset (-)


# ---- the column-at-a-time row dicts and the templated ECS lines, against the row-by-row reference


def _reference_rows(labeled):
    """rows_as_dicts as it was written first: one row at a time, every field through _typed."""
    import numpy as np

    from zeekslam.write import _typed, raw_line, safe_text

    chunk, header = labeled.chunk, labeled.chunk.header
    values = np.column_stack([labeled.column(name) for name in LABEL_FIELDS])
    labels = [["" if v is None or v != v else v for v in row] for row in values.tolist()]
    for i in range(len(chunk)):
        extra = {k: safe_text(str(v)) for k, v in zip(LABEL_FIELDS, labels[i]) if v != "" or k == "slam.label"}
        if i in chunk.errors:
            row = {"_source": chunk.source, "_line": chunk.line_numbers[i], "_raw": safe_text(raw_line(labeled, i))}
        elif chunk.raw is not None and header is not None:
            row = {}
            for name, ztype, raw in zip(header.fields, header.types, chunk.raw[i].split(header.separator)):
                value = _typed(raw, ztype, header)
                if value is not None:
                    row[name] = value
        else:
            continue  # JSON records: one code path, not compared here
        row.update(extra)
        yield row


def _lab_and_wild_tsv():
    from conftest import SCENARIOS, WILD

    paths = [LAB / s / "tsv" / "conn.log" for s in SCENARIOS if (LAB / s / "tsv" / "conn.log").exists()]
    return paths + sorted(p for p in WILD.iterdir() if p.suffix == ".log" and "json" not in p.name)


def _hostile_log(tmp_path):
    rows = [conn_row(uid=f"C{i}", history=h, state=s, service=svc, duration=d, ob=ob)
            for i, (h, s, svc, d, ob) in enumerate([
                ("ShAfFa", "SF", "ftp", "0.2", "0"), ("S", "S0", "-", "-", "-"),
                ("ShAdDaFf", "SF", "=cmd|' /C calc'!A0", "nan", "12"), ("ShAr", "RSTR", "(empty)", "inf", "1e400"),
                ("ShA\\x1b[2J", "SF", "http,ftp", "1.5", "7"), ("Sh\tA", "SF", "x", "1", "2"),
            ])]
    return write_generated(tmp_path / "conn.log", tsv_header() + rows)


def test_row_dicts_equal_the_row_by_row_reference(tmp_path):
    from zeekslam.write import rows_as_dicts

    checked = 0
    for path in [*_lab_and_wild_tsv(), _hostile_log(tmp_path)]:
        for labeled in label_chunks([str(path)], columns=None):
            if labeled.chunk.raw is None or labeled.chunk.header is None:
                continue
            fast = list(rows_as_dicts(labeled))
            slow = list(_reference_rows(labeled))
            assert [list(r.items()) for r in fast] == [list(r.items()) for r in slow], path
            checked += len(fast)
    assert checked > 1000


def test_ecs_lines_equal_json_dumps_of_the_documents(tmp_path):
    from zeekslam.write import ecs_document, ecs_lines, rows_as_dicts

    checked = 0
    for path in [*_lab_and_wild_tsv(), _hostile_log(tmp_path), LAB / "mixed_dev" / "json" / "conn.log"]:
        for labeled in label_chunks([str(path)], columns=None):
            rows = list(rows_as_dicts(labeled))
            assert list(ecs_lines(rows)) == [json.dumps(ecs_document(r), ensure_ascii=True, allow_nan=False)
                                              for r in rows], path
            checked += len(rows)
    assert checked > 1000
    # the types json.dumps handles, through the templates too
    odd = [{"ts": 1.5, "slam.label": "completed", "uid": None, "history": ["a", 1], "service": "x,y",
            "missed_bytes": True, "id.orig_p": 2**70, "duration": 0.25}]
    assert list(ecs_lines(odd)) == [json.dumps(ecs_document(odd[0]), ensure_ascii=True, allow_nan=False)]


def _odd_values_log(tmp_path):
    """Clean lines (the column-at-a-time writers take them) holding what those writers must not
    take as plain: formulas, empty and unset marks, escapes, quotes, leading zeros, sets."""
    return write_generated(tmp_path / "odd.log", tsv_header() + [
        conn_row(uid="C1", service="=SUM(A1)", ob="007", rb="0", history="ShAdDaFf"),
        conn_row(uid="+C2", service="(empty)", ob="-", rb="10", history="S"),
        conn_row(uid="C\\x09", service="a,b", duration="1.500000", history="ShAr", state="RSTR"),
        conn_row(uid='C"4\\x5c', service="ftp,ssh", duration="1.500000", history="ShAr", state="RSTR"),
        conn_row(uid='C"5', service="-x", duration="0.000727"),
        conn_row(uid="C6", service="-", duration="-", history="-", state="-"),
        conn_row(uid='C"7', service='say "hi"', history="ShAdDaFf"),
    ])


def test_csv_cells_a_column_at_a_time_equal_the_row_by_row_cells(tmp_path):
    from zeekslam.write import _csv_arrow, _csv_columns, _csv_rows, rows_as_dicts

    checked = in_arrow = 0
    for path in [*_lab_and_wild_tsv(), _hostile_log(tmp_path), _odd_values_log(tmp_path), _odd_times_log(tmp_path)]:
        for parsed in (None, LABEL_COLUMNS):  # (the CLI parses only the label columns)
            for labeled in label_chunks([str(path)], columns=parsed):
                columns = _csv_columns(labeled)
                slow = [tuple(csv_cell(row.get(c)) for c in columns) + ("",) for row in rows_as_dicts(labeled)]
                fast = _csv_rows(labeled, columns + ["not_in_this_chunk"])
                assert fast is None or list(fast) == slow, path
                arrow = _csv_arrow(labeled, columns + ["not_in_this_chunk"])
                if arrow is not None:  # the csv writer's text of the same cells
                    text = io.StringIO()
                    csv.writer(text, lineterminator="\n").writerows(slow)
                    assert bytes(arrow).decode("utf-8", "surrogateescape") == text.getvalue()[:-1], path
                    in_arrow += len(slow)
                checked += len(slow)
    assert checked > 2000 and in_arrow > 1000


def test_ecs_a_column_at_a_time_equals_the_row_by_row_lines(tmp_path):
    from zeekslam.write import _ecs_arrow, _ecs_chunk, ecs_lines, rows_as_dicts

    checked = in_arrow = 0
    for path in [*_lab_and_wild_tsv(), _hostile_log(tmp_path), _odd_values_log(tmp_path), _odd_times_log(tmp_path)]:
        for columns in (None, LABEL_COLUMNS):  # (the CLI parses only the label columns)
            for labeled in label_chunks([str(path)], columns=columns):
                slow = list(ecs_lines(rows_as_dicts(labeled)))
                fast = _ecs_chunk(labeled)
                assert fast is None or fast == slow, path
                arrow = _ecs_arrow(labeled)
                if arrow is not None:
                    assert bytes(arrow).decode("ascii").split("\n") == slow, path
                    in_arrow += len(slow)
                checked += len(slow)
    assert checked > 2000 and in_arrow > 1000


def _odd_times_log(tmp_path):
    """Clean lines whose times and durations sit on the edges Arrow's lane must spell as Python
    does, or leave to the row-by-row way: years 999, 1000, 9999 and 10000, negative and
    fractional seconds, durations past int64 in nanoseconds, unset ones, -0.0."""
    return write_generated(tmp_path / "times.log", tsv_header() + [
        conn_row(uid="T1", ts="-30610224000.000001", duration="-0.0"),
        conn_row(uid="T2", ts="-30610224000.5", duration="9223372036.854775807"),
        conn_row(uid="T3", ts="253402300799.999999", duration="1e-9"),
        conn_row(uid="T4", ts="-1.25", duration="0.0000005"),
        conn_row(uid="T5", ts="0", duration="-"),
        conn_row(uid="T6", ts="1795600002.000000", duration="92233720368.6"),
        conn_row(uid="T7", ts="-", duration="1"),
        conn_row(uid="T8", ts="1.7e9", duration="2E+2"),
    ] + [conn_row(uid=f"T9{i}", ts=f"{1.7e9 + i / 7:.6f}", duration=f"{i / 3:.9f}") for i in range(30)]
      + [conn_row(uid="T10", ts="253402300800.0")])


def test_ecs_arrow_lane_on_edge_times(tmp_path):
    """Each odd time alone in its log: Arrow's lane spells it as Python does, or declines."""
    from zeekslam.write import _ecs_arrow, ecs_lines, rows_as_dicts

    declined = 0
    for i, line in enumerate(_odd_times_log(tmp_path).read_text().splitlines()[len(tsv_header()):]):
        path = write_generated(tmp_path / f"t{i}.log", tsv_header() + [line])
        for labeled in label_chunks([str(path)], columns=LABEL_COLUMNS):
            arrow = _ecs_arrow(labeled)
            slow = list(ecs_lines(rows_as_dicts(labeled)))
            if arrow is None:
                declined += 1
            else:
                assert bytes(arrow).decode("ascii").split("\n") == slow, line
    assert 0 < declined < 10  # year 999 and 10000, past int64: declined; the rest in Arrow


def test_odd_whole_numbers_stay_valid_json_in_every_lane(tmp_path):
    """A count written "007" (clean ASCII: the Arrow lane) or "٣" (not ASCII: line by line) is
    not a JSON number as it stands; every writer gives the value _typed reads, 7 or 3."""
    from zeekslam.cli import cli

    fields = tsv_header()[6].split("\t")[1:]
    clean = conn_row(uid="C1").split("\t")
    clean[fields.index("orig_pkts")] = "007"
    odd = conn_row(uid="C2").split("\t")
    odd[fields.index("orig_pkts")] = "\u0663"
    for rows, want in ((["\t".join(clean)], 7), (["\t".join(odd)], 3)):
        path = write_generated(tmp_path / f"n{want}.log", tsv_header() + rows)
        out = CliRunner().invoke(cli, ["label", str(path), "--format", "json"]).stdout.splitlines()
        assert json.loads(out[-1])["orig_pkts"] == want
        ecs = CliRunner().invoke(cli, ["label", str(path), "--format", "ecs"]).stdout.splitlines()
        assert json.loads(ecs[-1])["source"]["packets"] == want
        cells = list(csv.reader(io.StringIO(CliRunner().invoke(cli, ["label", str(path), "--format", "csv"]).stdout)))
        assert cells[-1][cells[0].index("orig_pkts")] == str(want)


def test_a_header_repeating_a_name_goes_row_by_row(tmp_path):
    # A row dict keeps one value per name (the last one set): only the row-by-row writers know which.
    from conftest import CONN_FIELDS, CONN_TYPES
    from zeekslam.write import _csv_columns, _csv_rows, _ecs_chunk

    fields = [*CONN_FIELDS, "service"]
    path = write_generated(tmp_path / "dup.log", tsv_header(fields, [*CONN_TYPES, "string"])
                           + [conn_row(service="ftp") + "\t-"])
    for labeled in label_chunks([str(path)], columns=None):
        assert _csv_rows(labeled, _csv_columns(labeled)) is None
        assert _ecs_chunk(labeled) is None
    r = CliRunner().invoke(cli_main(), ["label", str(path), "--format", "csv"])
    cells = list(csv.reader(io.StringIO(r.stdout)))
    assert cells[-1][cells[0].index("service")] == "ftp"


def cli_main():
    from zeekslam.cli import cli

    return cli


def test_an_empty_number_is_text_in_json(tmp_path):
    # GENERATED: an empty ts (no Zeek writes one) on the only line: not '"ts": ,'.
    values = conn_row().split("\t")
    values[0] = ""
    path = write_generated(tmp_path / "empty-ts.log", tsv_header() + ["\t".join(values)])
    for fmt in ("json", "ecs"):
        out = CliRunner().invoke(cli_main(), ["label", str(path), "--format", fmt]).stdout.splitlines()
        doc = json.loads(out[-1])
        assert doc.get("ts", "") == ""


def test_plain_json_lines_are_carried_through_as_written(tmp_path):
    """GENERATED JSON lines, each as a sensor might write it: the output line is the input's own
    text with the slam.* members put before its closing brace, in the line's separator style;
    read back, it has the members the row-by-row way gives.  A line whose text says "slam."
    goes that way itself (its own slam.* keys must not be written twice)."""
    lines = [
        '{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":4000,"id.resp_h":"10.0.0.2",'
        '"id.resp_p":21,"proto":"tcp","conn_state":"REJ","history":"Sr","duration":0.000001}',
        '{"ts": 2, "uid": "C2", "id.resp_h": "10.0.0.2", "id.resp_p": 21, "proto": "tcp", "orig_bytes": 1E5,'
        ' "resp_bytes": -0, "conn_state": "S0", "history": "S"}',
        '{"ts":3 , "uid":"C3","id.resp_h":"10.0.0.3","id.resp_p":80,"history":"ShAdDaFf","conn_state":"SF" }  ',
        '{"ts":4,"uid":"C4","service":"slam.label","history":"Sr","conn_state":"REJ"}',
    ]
    path = write_generated(tmp_path / "conn.log", lines)
    out = "".join(map(str, write(label_chunks([str(path)], columns=list(LABEL_COLUMNS)), "json"))).split("\n")
    assert len(out) == 4
    for line, written in zip(lines[:3], out, strict=False):
        body = line.strip()
        assert written.startswith(body[:-1]) and written.endswith("}")
        tail = written[len(body) - 1:]
        assert tail.startswith(", " if '": ' in body else ",") and '"slam.label":' in tail.replace(" ", "")
    assert ',"slam.label":"rejected",' in out[0] and out[2].startswith('{"ts":3 , "uid":"C3",')
    assert ' "slam.label": ' in out[1] and '"orig_bytes": 1E5' in out[1]  # the sensor's own number text
    # what the members are: the row-by-row way's, in its order (a plain line's own key order first)
    frames = list(label_chunks([str(path)], columns=list(LABEL_COLUMNS)))
    for written, row in zip(out, (r for f in frames for r in _rows(f)), strict=True):
        assert json.loads(written) == row
        assert list(json.loads(written)) == list(row)
    assert json.loads(out[3])["service"] == "slam.label" and out[3].count('"slam.label":') == 1


def _rows(labeled):
    from zeekslam.write import rows_as_dicts

    return list(rows_as_dicts(labeled))


JSON_ECS_LINES = [  # GENERATED JSON lines (not Zeek's output): each alone in a log after a plain one
    '{"ts":1795600000.051403,"uid":"CA1","id.orig_h":"10.0.0.1","id.orig_p":4000,"id.resp_h":"10.0.0.2",'
    '"id.resp_p":21,"proto":"tcp","service":"ftp","duration":0.000727,"orig_bytes":0,"resp_bytes":61,'
    '"conn_state":"RSTR","missed_bytes":0,"history":"ShAdfr","orig_pkts":3,"resp_pkts":2,"community_id":"1:x="}',
    '{"ts":2,"uid":"CA2","id.resp_h":"10.0.0.2","id.resp_p":80,"proto":"tcp","history":"S","conn_state":"S0"}',
    '{"ts":3.5,"uid":"CA3","id.resp_h":"10.0.0.2","id.resp_p":80,"service":"ssl,http","history":"Sr"}',
    '{"ts":4,"uid":"CA4","id.resp_h":"10.0.0.2","id.resp_p":80,"service":"","duration":2}',
    '{"ts":5,"uid":"CA5","id.resp_h":"10.0.0.2","id.resp_p":80,"orig_bytes":1.5}',  # a float's spelling
    '{"ts":6,"uid":"CA6","id.resp_h":"10.0.0.2","id.resp_p":80,"service":null}',  # a null
    '{"ts":7,"uid":"Cnull7","id.resp_h":"10.0.0.2","id.resp_p":80}',  # the letters in a text
    '{"ts":8,"uid":"CA8","id.resp_h":"10.0.0.2","id.resp_p":80,"orig_pkts":true}',  # a bool
    '{"ts":9,"uid":"CA9","id.resp_h":"10.0.0.2","id.resp_p":80,"resp_pkts":[1,2]}',  # a list
    '{"ts":10,"uid":"CA10","id.resp_h":"10.0.0.2","id.resp_p":80,"missed_bytes":9223372036854775807}',  # int64 max
    '{"ts":11,"uid":"CA11","id.resp_h":"10.0.0.2","id.resp_p":80,"missed_bytes":18446744073709551616}',  # past it
    '{"ts":12,"uid":"CA12","id.resp_h":"10.0.0.2","id.resp_p":80,"duration":1e300}',  # past int64 in ns
    '{"ts":-0,"uid":"CA13","id.resp_h":"10.0.0.2","id.resp_p":-0,"orig_bytes":-5}',
    '{"ts":99999999999999,"uid":"CA14","id.resp_h":"10.0.0.2","id.resp_p":80}',  # past the year 9999
    '{"uid":"CA15","id.resp_h":"10.0.0.2","id.resp_p":80,"history":"slam.label"}',  # no ts; "slam." in a text
]


def test_ecs_from_plain_json_lines_equals_the_row_by_row_lines(tmp_path):
    """ECS from a sensor's JSON: Arrow's lane writes each GENERATED edge as the row-by-row way
    does, or declines it (a null, a float's spelling, a bool, a list, a number past int64,
    a time past the year 9999); the plain lines of the lab's JSON logs are all taken."""
    from zeekslam.write import _ecs_arrow, ecs_lines, rows_as_dicts

    paths = [write_generated(tmp_path / f"e{i}.log", [JSON_ECS_LINES[0], line])
             for i, line in enumerate(JSON_ECS_LINES)]
    paths.append(write_generated(tmp_path / "all.log", JSON_ECS_LINES))
    paths += [LAB / s / "json" / "conn.log" for s in ("mixed_dev", "normal", "acl_silent_close")]
    taken, declined = [], []
    for path in paths:
        for labeled in label_chunks([str(path)], columns=list(LABEL_COLUMNS)):
            slow = list(ecs_lines(rows_as_dicts(labeled)))
            arrow = _ecs_arrow(labeled)
            if arrow is None:
                declined.append(path.name)
            else:
                assert bytes(arrow).decode("ascii").split("\n") == slow, path
                taken.append(path.name)
    # the plain edges (and the first, Zeek-like line with each of them) in Arrow; the others not
    assert {f"e{i}.log" for i in (0, 1, 2, 3, 9, 12)} <= set(taken)
    assert {f"e{i}.log" for i in (4, 5, 6, 7, 8, 10, 11, 13, 14)} <= set(declined)
    assert "all.log" in declined


def test_the_arrow_writers_do_not_load_pandas(tmp_path):
    """ECS and CSV written in Arrow, from Zeek TSV and from JSON (GENERATED logs), never import
    pandas (a third of a second at every start): pyarrow's to_numpy and pa.array would."""
    import subprocess
    import sys

    tsv = write_generated(tmp_path / "conn.log", tsv_header() + [conn_row(uid=f"C{i}") for i in range(50)])
    js = write_generated(tmp_path / "conn.json.log", [JSON_ECS_LINES[0]] * 50)
    code = ("import sys; from zeekslam.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('pandas' in sys.modules, file=sys.stderr)")
    for path in (tsv, js):
        for fmt in ("ecs", "csv", "json"):
            done = subprocess.run([sys.executable, "-c", code, "label", "--no-progress", "--format", fmt, str(path)],
                                  capture_output=True, text=True, check=True)
            assert done.stdout.count("\n") == 50 + (fmt == "csv")  # (a header row)
            assert done.stderr.strip().endswith("False"), (path.name, fmt, done.stderr)


JSON_CSV_LINES = JSON_ECS_LINES + [  # GENERATED, as above
    '{"ts":20.25,"uid":"CB1","id.resp_h":"10.0.0.2","id.resp_p":80,"service":"=cmd|x","history":"+S,-r"}',
    '{"ts":21.5,"uid":"CB2","id.resp_h":"10.0.0.2","id.resp_p":80,"duration":2,"tunnel_parents":["a","b,c"]}',
    '{"ts":22.5,"uid":"CB3","id.resp_h":"10.0.0.2","id.resp_p":80,"duration":2.5,"local_orig":false}',
    '{"ts":23.5,"uid":"CB4","id.resp_h":"10.0.0.2","id.resp_p":80,"tunnel_parents":[1,2.5]}',
    '{"new_key":"late","ts":24.5,"uid":"CB5","id.resp_h":"10.0.0.2","id.resp_p":80}',
    '{"ts":25.0,"uid":"CB6","id.resp_h":"10.0.0.2","id.resp_p":80,"duration":3.0,"orig_ip_bytes":-0}',
]


def test_csv_from_plain_json_lines_equals_the_row_by_row_text(tmp_path, monkeypatch):
    """CSV from a sensor's JSON: Arrow's lane writes the same text as the row-by-row way on
    GENERATED edges (a formula start, commas, a bool, lists, a whole number among floats, a
    key that comes late), or declines the chunk; real Zeek JSON logs (the lab's, the wild's)
    are all taken."""
    import importlib

    w = importlib.import_module("zeekslam.write")  # (the package's name `write` is the function)
    edges = [write_generated(tmp_path / f"c{i}.log", [JSON_CSV_LINES[0], line])
             for i, line in enumerate(JSON_CSV_LINES)]
    edges.append(write_generated(tmp_path / "all.log", JSON_CSV_LINES))
    edges.append(write_generated(tmp_path / "floats.log", [JSON_CSV_LINES[0], *JSON_CSV_LINES[-5:]]))
    real = sorted(LAB.glob("*/json/conn.log")) + sorted(WILD.glob("*json*.log"))
    lane = w._csv_arrow_json
    taken: dict[str, list[bool]] = {}
    for path in edges + real:
        def counted(labeled, columns, name=str(path)):
            out = lane(labeled, columns)
            taken.setdefault(name, []).append(out is not None)
            return out

        monkeypatch.setattr(w, "_csv_arrow_json", counted)
        fast = "\n".join(map(str, write(label_chunks([str(path)], columns=list(LABEL_COLUMNS)), "csv")))
        monkeypatch.setattr(w, "_csv_arrow_json", lambda labeled, columns: None)
        slow = "\n".join(map(str, write(label_chunks([str(path)], columns=list(LABEL_COLUMNS)), "csv")))
        assert fast == slow, path
    assert len(real) >= 12 and all(all(taken[str(p)]) for p in real)
    # a formula start and commas: taken; "duration":2 after 0.000727 (json: an int): declined
    assert taken[str(edges[15])] == [True] and taken[str(edges[16])] == [False]
    assert taken[str(edges[-1])] == [False] and taken[str(edges[19])] == [True]


def test_zeek_tsv_from_plain_json_lines_equals_the_row_by_row_text(tmp_path, monkeypatch):
    """Zeek TSV from a sensor's JSON: Arrow's lane writes the same lines as the row-by-row way on
    GENERATED edges (texts that are Zeek's marks, whole numbers among floats in a time or a
    count column, bools, lists, a key that comes late), or declines the chunk; real Zeek JSON
    logs (the lab's, the wild's) are all taken."""
    import importlib

    w = importlib.import_module("zeekslam.write")
    marks = ['{"ts":30.5,"uid":"CZ1","id.resp_h":"10.0.0.2","id.resp_p":80,"service":"-","history":"(empty)"}',
             '{"ts":31.5,"uid":"CZ2","id.resp_h":"10.0.0.2","id.resp_p":80,"service":"","orig_bytes":5.0}',
             '{"ts":32.5,"uid":"CZ3","id.resp_h":"10.0.0.2","id.resp_p":80,"orig_bytes":5.5,"tunnel_parents":[]}']
    lines = JSON_CSV_LINES + marks
    edges = [write_generated(tmp_path / f"z{i}.log", [lines[0], line]) for i, line in enumerate(lines)]
    edges.append(write_generated(tmp_path / "all.log", lines))
    real = sorted(LAB.glob("*/json/conn.log")) + sorted(WILD.glob("*json*.log"))
    lane = w._zeek_json_lines
    taken: dict[str, list[bool]] = {}
    for path in edges + real:
        def counted(labeled, header, suffixes, index, name=str(path)):
            out = lane(labeled, header, suffixes, index)
            taken.setdefault(name, []).append(out is not None)
            return out

        monkeypatch.setattr(w, "_zeek_json_lines", counted)
        fast = "\n".join(map(str, write(label_chunks([str(path)], columns=list(LABEL_COLUMNS)), "zeek")))
        monkeypatch.setattr(w, "_zeek_json_lines", lambda labeled, header, suffixes, index: None)
        slow = "\n".join(map(str, write(label_chunks([str(path)], columns=list(LABEL_COLUMNS)), "zeek")))
        assert _no_open_close(fast) == _no_open_close(slow), path
    assert len(real) >= 12 and all(all(taken[str(p)]) for p in real)
    assert taken[str(edges[-4])] == [True] and taken[str(edges[-3])] == [True]  # Zeek's marks as texts; 5.0 bytes
    assert taken[str(edges[16])] == [False]  # "duration":2 after 0.000727: json's int, written "2"
    out = "\n".join(map(str, write(label_chunks([str(edges[-4])], columns=list(LABEL_COLUMNS)), "zeek")))
    assert "\t\\x2d\t" in out and "\t\\x28\\x65\\x6d\\x70\\x74\\x79\\x29\t" in out  # "-", "(empty)" as texts


def _no_open_close(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith(("#open", "#close")))


def test_ecs_timestamp_of_iso_times(tmp_path):
    """A JSON log whose ts Zeek wrote as ISO 8601 (JSON::TS_ISO8601; GENERATED lines here): each
    ECS document has its @timestamp, in UTC to the microsecond as written; an epoch ts of the
    same moment gives the same text."""
    row = ('"uid":"C{i}","id.orig_h":"10.0.0.1","id.orig_p":4000,"id.resp_h":"10.0.0.2","id.resp_p":21,'
           '"proto":"tcp","conn_state":"REJ","history":"Sr"')
    times = ["2026-01-01T00:00:01.250000Z", "2026-01-01T02:00:01.123457+02:00", "2026-01-01T00:00:02",
             "not a time"]
    iso = write_generated(tmp_path / "iso.log", ['{"ts":"' + t + '",' + row.format(i=i) + "}"
                                                 for i, t in enumerate(times)])
    epoch = write_generated(tmp_path / "epoch.log", ['{"ts":1767225601.25,' + row.format(i=9) + "}"])
    docs = [json.loads(line) for line in "\n".join(map(str, write(label_chunks([str(iso)]), "ecs"))).split("\n")]
    assert [d.get("@timestamp") for d in docs] == ["2026-01-01T00:00:01.250000Z", "2026-01-01T00:00:01.123457Z",
                                                   "2026-01-01T00:00:02.000000Z", None]
    assert docs[3]["event"]["kind"] == "pipeline_error"  # a ts that is no time: the row is malformed
    same = json.loads(next(iter(write(label_chunks([str(epoch)]), "ecs"))))
    assert same["@timestamp"] == docs[0]["@timestamp"]


def test_ecs_arrow_lane_on_iso_times(tmp_path):
    """ISO 8601 times (GENERATED lines): Zeek's own spelling goes into @timestamp as written, in
    Arrow, the text the row-by-row way makes; other spellings send the chunk that way."""
    from zeekslam.write import _ecs_arrow, ecs_lines, rows_as_dicts

    row = ('"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":4000,"id.resp_h":"10.0.0.2","id.resp_p":21,'
           '"proto":"tcp","conn_state":"REJ","history":"Sr"')
    cases = {("2026-01-01T00:00:01.250000Z", "1969-12-31T23:59:59.999999Z"): True,
             ("2026-01-01T00:00:01.250000Z", "2026-01-01T00:00:01.25Z"): False,  # padded by Python
             ("2026-01-01T00:00:01.250000Z", "0999-01-01T00:00:01.000000Z"): False,  # no @timestamp
             ("2026-01-01T00:00:01.250000Z", "2026-02-30T00:00:01.000000Z"): False}  # no such day
    for i, (times, taken) in enumerate(cases.items()):
        path = write_generated(tmp_path / f"iso{i}.log", ['{"ts":"' + t + '",' + row + "}" for t in times])
        for labeled in label_chunks([str(path)], columns=LABEL_COLUMNS):
            arrow = _ecs_arrow(labeled)
            assert (arrow is not None) == taken, times
            if arrow is not None:
                assert bytes(arrow).decode("ascii").split("\n") == list(ecs_lines(rows_as_dicts(labeled)))
                assert '"@timestamp": "1969-12-31T23:59:59.999999Z"' in bytes(arrow).decode("ascii")


def test_printable_check_is_str_isprintable():
    # the writers' fast check on a chunk's joined texts: the same answer as str.isprintable
    from zeekslam.write import _printable

    texts = ["", "plain text 0123 ~!", "tab\there", "new\nline", "del\x7f", "nul\x00", "\x1f",
             "caf\u00e9", "\u00a0nbsp", "em \u2014 dash", "\u200bzero width", "\udcff lone surrogate",
             "".join(map(chr, range(0x20, 0x7F))), "".join(map(chr, range(0, 0x100)))]
    texts += [t * 3000 for t in texts]  # long, as a chunk's reasons joined
    assert [_printable(t) for t in texts] == [t.isprintable() for t in texts]
    assert [_printable(chr(c)) for c in range(0x3000)] == [chr(c).isprintable() for c in range(0x3000)]


@pytest.mark.parametrize("marks", [("\t", "-", "(empty)"), (",", "none", "")])
def test_escaping_many_label_values_is_escaping_each(marks):
    # the TSV writer escapes a chunk's own replies and reasons together: '' is unset, and a value
    # that is a mark itself, or holds the separator or a control character, is escaped as alone
    from zeekslam.read import Header
    from zeekslam.write import _escape_label, _escape_many

    header = Header([], [], separator=marks[0], unset_field=marks[1], empty_field=marks[2])
    plain = ["", "-", "(empty)", "none", "421 Too many", "server 10.0.0.1:21 closed"]
    for values in (plain, [*plain, "a\tb", "c,d", "bell\x07", "caf\u00e9", "back\\slash"]):
        assert _escape_many(np.array(values, dtype=object), header) == [_escape_label(v, header) for v in values]
