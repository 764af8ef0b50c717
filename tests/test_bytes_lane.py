"""The bytes lane: clean Zeek TSV parsed by Arrow from the bytes, labeled per pattern, spliced on write.

Each test runs the fast way and the line-by-line way on the same lines and
asserts they agree, so the fast lane can never drift from the reference path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest
from zat.log_to_dataframe import LogToDataFrame

from conftest import LAB, SCENARIOS, WILD, conn_row, leave_early, tsv_header, write_generated
from zeekslam.ahead import ahead as read_ahead
from zeekslam.columns import ArrowColumns, FrameColumns
from zeekslam.label import LABEL_FIELDS, LabeledChunk, label_chunks, label_columns, label_logs
from zeekslam.read import LABEL_COLUMNS, ZAT_TYPE_MAP, MalformedLine, parse_tsv, read_log
from zeekslam.write import write

TSV_LOGS = [LAB / s / "tsv" / "conn.log" for s in SCENARIOS if (LAB / s / "tsv" / "conn.log").exists()]
TSV_LOGS += sorted(p for p in WILD.iterdir() if p.suffix == ".log" and "json" not in p.name)


def test_type_map_is_zats():
    # Copied so that importing zeekslam does not import zat (and pandas): it must stay zat's.
    assert dict(LogToDataFrame().type_map) == ZAT_TYPE_MAP


@pytest.mark.parametrize("path", TSV_LOGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_fast_chunks_read_like_the_line_by_line_parser(path):
    fast = [c for c in read_log(str(path), columns=LABEL_COLUMNS) if c.data is not None]
    for chunk in fast:
        reference, errors = parse_tsv(chunk.raw, chunk.header, LABEL_COLUMNS)
        assert errors == {}
        pd.testing.assert_frame_equal(chunk.frame, reference, check_dtype=True)
        assert len(chunk.raw) == len(chunk) == len(chunk.newlines) + 1


@pytest.mark.parametrize("path", TSV_LOGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_labels_from_arrow_equal_labels_from_pandas(path):
    checked = 0
    for chunk in read_log(str(path), columns=LABEL_COLUMNS):
        if chunk.table is None:
            continue
        from_arrow = label_columns(ArrowColumns(chunk.table))
        from_pandas = label_columns(FrameColumns(chunk.frame))
        for name in LABEL_FIELDS:
            assert from_arrow.column(name).tolist() == from_pandas.column(name).tolist(), name
        checked += len(chunk)
    # Logs whose data starts before any '#' header (LogAscii::tsv=T, headerless) are read line by line.
    assert checked > 0 or path.name in ("bro23-logascii-tsv-mode.log", "zeek-concatenated-headerless-start.log")


def _both_ways(path, chunk_rows=1000):
    """Zeek TSV output spliced from the bytes, and built from the decoded lines."""
    spliced = "\n".join(p if isinstance(p, str) else bytes(p).decode("ascii")
                        for p in write(label_chunks([str(path)], chunk_rows=chunk_rows), "zeek", binary=True))

    def as_text():
        for labeled in label_chunks([str(path)], chunk_rows=chunk_rows):
            assert labeled.chunk.raw is not None  # decoded (and kept) before the bytes are dropped
            assert labeled.labels.reason is not None  # (reasons cut addresses from the bytes)
            labeled.chunk.data = None  # so the line-by-line writer runs
            yield labeled

    text = "\n".join(write(as_text(), "zeek"))
    return spliced, text


SPLICED = [LAB / "mixed_dev" / "tsv" / "conn.log", WILD / "bro22-zat.log", WILD / "bro23-comma-separator.log"]


@pytest.mark.parametrize("path", SPLICED, ids=lambda p: p.name)
def test_spliced_output_equals_line_by_line_output(path):
    spliced, text = _both_ways(path)
    strip = [line for line in spliced.split("\n") if not line.startswith(("#open", "#close"))]
    assert strip == [line for line in text.split("\n") if not line.startswith(("#open", "#close"))]
    assert sum(1 for line in strip if not line.startswith("#")) == sum(
        1 for line in path.read_text().splitlines() if line and not line.startswith("#"))


def _generated_log(tmp_path, rows=2500):
    """GENERATED: lab-shaped rows with a header change, a short line and a dirty line in the middle."""
    lines = tsv_header()
    lines += [conn_row(uid=f"Cgen{i}", history="ShAfFa" if i % 3 else "ShADadFf", ob=str(i % 2))
              for i in range(rows)]
    bad_at = len(lines) + 1  # file line number of the short line
    lines.append("1700000001.0\tCshort\t10.0.0.9")
    lines += [conn_row(uid=f"Cmore{i}") for i in range(rows)]
    dirty_at = len(lines) + 1
    lines.append(conn_row(uid="Cdirty\x1b[31m", history="ShAfFa"))
    lines += tsv_header(path="conn") + [conn_row(uid=f"Cafter{i}") for i in range(rows)]
    return write_generated(tmp_path / "conn.log", lines), bad_at, dirty_at, 3 * rows + 2


def test_mixed_input_keeps_every_line_in_order_with_its_line_number(tmp_path):
    path, bad_at, dirty_at, total = _generated_log(tmp_path)
    chunks = list(read_log(str(path), columns=LABEL_COLUMNS, chunk_rows=1000))
    assert sum(len(c) for c in chunks) == total
    numbers = [n for c in chunks for n in c.line_numbers]
    assert numbers == sorted(numbers) and len(set(numbers)) == total
    errors = {c.line_numbers[pos]: what for c in chunks for pos, what in c.errors.items()}
    assert list(errors) == [bad_at] and "expected 21 fields, found 3" in errors[bad_at]
    assert all(len(c) <= 1000 for c in chunks)
    # the clean runs took the bytes lane, the lines around the short one and the dirty one did not
    assert sum(len(c) for c in chunks if c.data is not None) >= total - 4000
    dirty = [c for c in chunks if dirty_at in c.line_numbers]
    assert len(dirty) == 1 and dirty[0].data is None and not dirty[0].clean


def test_mixed_input_written_both_ways_is_the_same(tmp_path):
    path, bad_at, dirty_at, _ = _generated_log(tmp_path)
    spliced, text = _both_ways(path)
    keep = [line for line in spliced.split("\n") if not line.startswith(("#open", "#close"))]
    assert keep == [line for line in text.split("\n") if not line.startswith(("#open", "#close"))]
    assert "\x1b" not in spliced and "Cdirty\\x1b[31m" in spliced
    assert spliced.count("\tmalformed\t") == 1


def test_strict_raises_at_the_bad_line_after_the_good_chunks(tmp_path):
    path, bad_at, _, _ = _generated_log(tmp_path)
    seen = []
    with pytest.raises(MalformedLine) as e:
        for chunk in label_chunks([str(path)], chunk_rows=1000, strict=True):
            seen.extend(chunk.chunk.line_numbers)
    assert e.value.line == bad_at
    assert seen and max(seen) < bad_at


def _chunks_and_labels(paths, **kw):
    out = []
    for labeled in label_chunks(paths, chunk_rows=1000, **kw):
        out.append((list(labeled.chunk.line_numbers), dict(labeled.chunk.errors),
                    {name: labeled.labels.column(name).tolist() for name in LABEL_FIELDS}))
    return out


def test_one_thread_reads_and_labels_like_the_threaded_pipeline(tmp_path):
    # report runs the whole pipeline in one thread (threads=False): same chunks, same labels
    path, bad_at, dirty_at, total = _generated_log(tmp_path)
    before = threading.active_count()
    one = _chunks_and_labels([str(path)], threads=False, deferred=())
    assert threading.active_count() == before  # no thread of its own
    assert one == _chunks_and_labels([str(path)], deferred=())
    assert sum(len(numbers) for numbers, _, _ in one) == total
    assert [n for numbers, errors, _ in one for pos, n in enumerate(numbers) if pos in errors] == [bad_at]
    # a lab directory and a wild log (report with a slam.log joined: test_report_with_slam)
    for paths in ([str(LAB / "mixed_dev" / "tsv")], [str(WILD / "zeek41-gaps-bigcounts.log")]):
        assert _chunks_and_labels(paths, threads=False) == _chunks_and_labels(paths)
    with pytest.raises(MalformedLine) as e:
        _chunks_and_labels([str(path)], threads=False, strict=True)
    assert e.value.line == bad_at


def test_read_ahead_stops_its_thread_when_the_reader_leaves(tmp_path):
    path, *_ = _generated_log(tmp_path, rows=6000)
    before = set(threading.enumerate())
    chunks = read_ahead(read_log(str(path), chunk_rows=1000))
    first = next(chunks)
    mine = [t for t in threading.enumerate() if t not in before and t.name == "zeekslam-ahead"]
    assert 900 <= len(first) <= 1000 and len(mine) == 1 and mine[0].is_alive()  # equal chunks, none over 1000
    chunks.close()
    assert not mine[0].is_alive()


def test_read_ahead_gives_the_same_chunks():
    path = str(LAB / "mixed_dev" / "tsv" / "conn.log")
    direct = [c.line_numbers for c in read_log(path, chunk_rows=1000)]
    assert [c.line_numbers for c in read_ahead(read_log(path, chunk_rows=1000))] == direct


def test_labeled_chunk_frame_is_made_only_when_asked():
    labeled = next(iter(label_chunks([str(LAB / "mixed_dev" / "tsv" / "conn.log")])))
    assert isinstance(labeled, LabeledChunk) and labeled._frame is None
    counts = labeled.counts()
    assert labeled._frame is None  # counting needs no frame
    assert counts == labeled.frame["slam.label"].value_counts().to_dict()
    assert np.array_equal(labeled.column("slam.label"), labeled.frame["slam.label"].to_numpy(dtype=object))


@pytest.mark.parametrize("args", [["label", "-f", "zeek"], ["label", "-f", "json"], ["report"],
                                  ["report", "--format", "json"]])
def test_label_and_report_from_tsv_never_import_pandas(tmp_path, args):
    # pandas costs a quarter to a third of a second to import: the TSV lane must not need it.
    argv = [args[0], str(LAB / "mixed_dev" / "tsv" / "conn.log"), *args[1:], "-o", str(tmp_path / "o.log")]
    code = (f"import sys; from zeekslam.cli import cli; cli({argv!r}, standalone_mode=False); "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    written = (tmp_path / "o.log").read_text()
    assert written.count("slammed") > 0 if args[0] == "label" else "127.0.0.1:2191" in written


@pytest.mark.parametrize("args", [["label", "-f", "zeek"], ["report"], ["report", "--format", "json"]])
def test_label_and_report_from_tsv_never_import_pyarrow_compute(tmp_path, args):
    # pyarrow.compute makes a Python wrapper for each of Arrow's functions when imported (~45 ms of
    # every run); the Zeek TSV lane calls Arrow's functions through columns.arrow_call instead.
    argv = [args[0], str(LAB / "mixed_dev" / "tsv" / "conn.log"), *args[1:], "-o", str(tmp_path / "o.log")]
    code = (f"import sys; from zeekslam.cli import cli; cli({argv!r}, standalone_mode=False); "
            "print('pyarrow' in sys.modules, 'pyarrow.compute' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
    written = (tmp_path / "o.log").read_text()
    assert written.count("slammed") > 0 if args[0] == "label" else "127.0.0.1:2191" in written


def test_reader_leaving_early_is_not_an_error(tmp_path):
    # `zeekslam label big.log | head`: exit 0, quietly, with the read-ahead threads stopped
    # (a thread killed inside Arrow at exit aborts the process with SIGABRT).
    lines = tsv_header() + [conn_row(uid=f"Cgen{i}", history="ShAfFa" if i % 2 else "ShADadFf", ob=str(i % 2))
                            for i in range(150_000)]
    first, status, err = leave_early("label", str(write_generated(tmp_path / "conn.log", lines)))
    assert first.startswith(b"#separator")
    assert status == 0, err
    assert b"terminate" not in err and b"Traceback" not in err


def test_threads_still_reading_at_exit_are_stopped(tmp_path):
    from zeekslam.ahead import stop_all

    path, *_ = _generated_log(tmp_path, rows=6000)
    before = set(threading.enumerate())
    chunks = read_ahead(read_log(str(path), chunk_rows=500))
    next(chunks)  # the thread is now ahead of us, blocked on a full queue
    mine = [t for t in threading.enumerate() if t not in before and t.name == "zeekslam-ahead"]
    assert len(mine) == 1 and mine[0].is_alive()
    stop_all()  # what atexit runs when a command leaves mid-stream
    assert not mine[0].is_alive()


def _json_both_ways(path, chunk_rows=1000):
    """JSON lines built by Arrow from the bytes, and built from the decoded lines."""
    fast = [p if isinstance(p, str) else bytes(p).decode("ascii")
            for p in write(label_chunks([str(path)], chunk_rows=chunk_rows), "json", binary=True)]

    def as_text():
        for labeled in label_chunks([str(path)], chunk_rows=chunk_rows):
            assert labeled.chunk.raw is not None and labeled.labels.reason is not None
            labeled.chunk.data = None
            yield labeled

    return "\n".join(fast), "\n".join(write(as_text(), "json"))


@pytest.mark.parametrize("path", TSV_LOGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_json_from_arrow_equals_json_line_by_line(path):
    fast, slow = _json_both_ways(path)
    assert fast == slow
    assert len(fast.splitlines()) == sum(1 for line in path.read_text(errors="replace").splitlines()
                                         if line.strip() and not line.startswith("#")) - (
        1 if path.name == "bro23-logascii-tsv-mode.log" else 0)


def test_json_from_arrow_handles_quotes_backslashes_and_odd_numbers(tmp_path):
    # GENERATED: values that must go through the careful path, among plain ones.
    lines = tsv_header() + [conn_row(uid=f"Cgen{i}") for i in range(50)]
    lines.append(conn_row(uid='C"quoted\\x41', service="ftp\\x2cdata"))
    lines.append(conn_row(uid="Cnum", duration="1e5"))
    lines.append(conn_row(uid="(empty)", duration="0.100000"))
    path = write_generated(tmp_path / "conn.log", lines)
    fast, slow = _json_both_ways(path)
    assert fast == slow
    import json

    rows = [json.loads(line) for line in fast.splitlines()]
    assert rows[50]["uid"] == 'C"quotedA' and rows[51]["duration"] == 1e5 and rows[52]["uid"] == ""


@pytest.mark.parametrize("path", [*TSV_LOGS[:6], WILD / "bro22-zat.log"],
                         ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_text_left_for_later_reads_the_same(path):
    from zeekslam.label import TEXT_FOR_REASONS

    checked = 0
    for chunk in read_log(str(path), columns=LABEL_COLUMNS, later=TEXT_FOR_REASONS):
        if chunk.data is None:
            continue
        reference, _ = parse_tsv(chunk.raw, chunk.header, LABEL_COLUMNS)
        rows = np.arange(len(chunk))[::3]
        for name in [c for c in TEXT_FOR_REASONS if c in chunk.header.fields]:
            expected = ["" if v is None else v for v in reference[name].to_numpy(dtype=object)[rows]]
            assert chunk.columns.texts(name, rows).tolist() == expected
            assert name not in chunk.table.column_names  # not parsed for every row
        pd.testing.assert_frame_equal(chunk.frame, reference)  # the frame parses them after all
        checked += 1
    assert checked


def test_a_full_disk_is_an_error_with_a_message(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    proc = subprocess.run([sys.executable, "-m", "zeekslam", "label", str(LAB / "mixed_dev" / "tsv" / "conn.log"),
                           "-o", "/dev/full"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Error: cannot write the output: No space left on device" in proc.stderr


# ---- report: the diagnoser's rows straight from Arrow columns and per-pattern labels


def _rows_equal(a, b):
    from zeekslam.diagnose import ServerRows

    assert a.rows == b.rows
    for name in ServerRows.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if name in ("hcode", "htext", "ocode", "otext"):
            continue  # codes number the texts differently; compared as texts below
        if x is None or y is None:
            assert x is None and y is None, name
        elif isinstance(x, np.ndarray):
            assert x.dtype.kind == y.dtype.kind, name
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name
    assert a.host_texts() == b.host_texts()
    assert a.client_texts() == b.client_texts()


@pytest.mark.parametrize("path", TSV_LOGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_report_rows_from_arrow_equal_rows_from_frames(path):
    from zeekslam.diagnose import rows_of_frame, rows_of_labeled

    checked, arrow = 0, 0
    for labeled in label_chunks([str(path)], chunk_rows=500, deferred=()):
        fast = rows_of_labeled(labeled)
        arrow += isinstance(labeled.columns, ArrowColumns)
        if isinstance(labeled.columns, ArrowColumns):  # addresses stay Arrow's strings: no Python one each
            assert not isinstance(fast.htext, np.ndarray) and not isinstance(fast.otext, np.ndarray)
        _rows_equal(fast, rows_of_frame(labeled.frame))
        checked += len(fast.ts)
    kept = sum(len(rows_of_frame(f).ts) for f in label_logs([str(path)]))
    assert checked == kept
    # Logs whose data starts before any '#' header are read line by line (see above).
    assert arrow > 0 or path.name in ("bro23-logascii-tsv-mode.log", "zeek-concatenated-headerless-start.log")


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if (LAB / s / "tsv" / "conn.log").exists()])
def test_report_from_arrow_rows_equals_report_from_frames(scenario):
    from zeekslam.diagnose import ServerDiagnoser, server_rows
    from zeekslam.report import render_json, render_text

    path = str(LAB / scenario / "tsv" / "conn.log")
    by_frames, by_rows, no_plot = ServerDiagnoser(), ServerDiagnoser(), ServerDiagnoser(plot_data=False)
    for frame in label_logs([path], chunk_rows=300):
        by_frames.add(frame)
    for rows in server_rows(label_chunks([path], chunk_rows=300, deferred=())):
        by_rows.add(rows)
    for rows in server_rows(label_chunks([path], chunk_rows=300, deferred=())):
        no_plot.add(rows)
    a, b, c = by_frames.finish(), by_rows.finish(), no_plot.finish()
    assert len(a) > 0
    assert render_text(a) == render_text(b) == render_text(c)
    assert render_json(a) == render_json(b) == render_json(c)
    # only the plot data differs: kept by default, left out when not asked for
    assert any(len(d.timeline["served"]) for d in a)
    assert all(d.timeline == {} and d.samples == {} for d in c)


def test_report_rows_when_a_header_types_text_columns_as_numbers(tmp_path):
    # GENERATED: the header swaps the names of service and orig_pkts, so service is typed count
    # and holds numbers or unset (Arrow parses them as numbers; the rows are clean).
    from conftest import CONN_FIELDS, CONN_TYPES
    from zeekslam.diagnose import ServerDiagnoser, rows_of_frame, rows_of_labeled

    fields = list(CONN_FIELDS)
    i, j = fields.index("service"), fields.index("orig_pkts")
    fields[i], fields[j] = fields[j], fields[i]
    lines = []
    for k in range(40):
        values = conn_row(uid=f"C{k}").split("\t")
        values[i], values[j] = values[j], ["-", "5"][k % 2]  # orig_pkts at i, service at j
        lines.append("\t".join(values))
    path = write_generated(tmp_path / "swapped.log", tsv_header(fields, CONN_TYPES) + lines)
    diag = ServerDiagnoser()
    kept = 0
    for labeled in label_chunks([str(path)], deferred=()):
        assert isinstance(labeled.columns, ArrowColumns)
        rows = rows_of_labeled(labeled)
        _rows_equal(rows, rows_of_frame(labeled.frame))
        diag.add(rows)
        kept += len(rows)
    assert kept == 40
    assert len(diag.finish()) == 1


def test_server_rows_concat_merges_arrow_and_python_address_texts():
    """ServerRows.concat over parts whose addresses are Arrow's strings (the report lane), Python
    strings (the frame lane), or both: each distinct address gets one code, every row keeps its own."""
    from zeekslam.diagnose import ServerDiagnoser, ServerRows, rows_of_frame, rows_of_labeled
    from zeekslam.report import render_text

    path = LAB / "mixed_dev" / "tsv" / "conn.log"
    chunks = list(label_chunks([str(path)], chunk_rows=40, deferred=()))
    assert len(chunks) >= 3 and all(isinstance(c.columns, ArrowColumns) for c in chunks)
    fast = [rows_of_labeled(c) for c in chunks]
    slow = [rows_of_frame(c.frame) for c in chunks]
    for parts in (fast, [fast[0], slow[1], fast[2]], slow):
        both = ServerRows.concat(parts)
        assert both.host_texts() == [t for p in parts for t in p.host_texts()]
        assert both.client_texts() == [t for p in parts for t in p.client_texts()]
        for codes, texts in ((both.hcode, both.htext), (both.ocode, both.otext)):
            used = sorted(set(codes.tolist()))
            named = [texts[i] if isinstance(texts, np.ndarray) else texts[i].as_py() for i in used]
            assert len(set(named)) == len(named)  # one code per distinct address
        assert isinstance(both.htext, np.ndarray) == (parts is not fast)
    # and the diagnosis is the same whichever way the addresses came
    texts = set()
    for parts in (fast, slow):
        diag = ServerDiagnoser(batch_rows=50)
        for part in parts:
            diag.add(part)
        texts.add(render_text(diag.finish()))
    assert len(texts) == 1 and "127.0.0.1:2191" in next(iter(texts))
