"""Writers: output that zeek-cut/zat, jq and spreadsheets accept, whatever the log says."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
from zat.log_to_dataframe import LogToDataFrame

from conftest import LAB, conn_row, tsv_header, write_generated
from zeekslam.label import LABEL_FIELDS, label_chunks
from zeekslam.read import read_log
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
