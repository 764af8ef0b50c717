"""`zeekslam label` through click's CliRunner: exact outputs and exit codes."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from click.testing import CliRunner

from conftest import LAB, conn_row, tsv_header, write_generated
from zeekslam.cli import cli
from zeekslam.label import label_chunks
from zeekslam.read import CHUNK_ROWS, FRAME_CHUNK_ROWS, JSON_CHUNK_ROWS


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_label_tsv_default_keeps_the_header_and_every_row():
    r = run("label", str(LAB / "acl_silent_close" / "tsv" / "conn.log"))
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "#separator \\x09" and lines[-1].startswith("#close")
    data = [line for line in lines if not line.startswith("#")]
    assert len(data) == 10
    assert r.stderr.strip().endswith("zeekslam: 10 rows in, 10 rows out, 0 malformed")


def test_label_json_input_defaults_to_json_and_csv_on_request(tmp_path):
    r = run("label", str(LAB / "conn_limit_421" / "json" / "conn.log"))
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(objs) == 12 and sum(o["slam.label"] == "refused_with_reply" for o in objs) == 6
    out = tmp_path / "x.csv"
    r = run("label", str(LAB / "conn_limit_421" / "tsv"), "--format", "csv", "-o", str(out))
    assert r.exit_code == 0
    rows = out.read_text().splitlines()
    assert rows[0].startswith("ts,uid,id.orig_h") and len(rows) == 13


def test_malformed_kept_by_default_strict_stops_with_exit_2(tmp_path):
    path = write_generated(tmp_path / "conn.log", tsv_header() + [conn_row("C1"), "oops"])
    r = run("label", str(path))
    assert r.exit_code == 0
    assert r.stderr.strip().endswith("2 rows in, 2 rows out, 1 malformed")
    r = run("label", "--strict", str(path))
    assert r.exit_code == 2
    assert f"Error: {path}:10: expected 21 fields, found 1" in r.stderr


def test_clear_errors_for_missing_and_wrong_logs(tmp_path):
    r = run("label", str(tmp_path / "nope.log"))
    assert r.exit_code == 1 and "nope.log: no such file" in r.stderr
    r = run("label", str(LAB / "normal" / "tsv" / "known_hosts.log"))
    assert r.exit_code == 1 and "a Zeek 'known_hosts' log, not a conn log" in r.stderr
    bad = tmp_path / "conn.log.gz"
    bad.write_bytes(b"\x1f\x8b\x08garbage")
    r = run("label", str(bad))
    assert r.exit_code == 1 and "cannot be read as gzip" in r.stderr


def test_threshold_options_change_the_label():
    path = str(LAB / "acl_silent_close" / "tsv" / "conn.log")
    default = run("label", path, "-f", "json").stdout
    strict = run("label", path, "-f", "json", "--prompt", "1", "--long-wait", "2").stdout
    labels = lambda out: [json.loads(x)["slam.label"] for x in out.splitlines()]  # noqa: E731
    assert labels(default).count("idle_closed") == 0
    assert labels(strict).count("idle_closed") == 1  # libwrap's 5 s wait is now a "long wait"
    r = run("label", path, "--prompt", "5", "--long-wait", "1")
    assert r.exit_code == 2 and "must not be shorter than --prompt" in r.stderr


def test_empty_input_is_not_an_error(tmp_path):
    path = write_generated(tmp_path / "conn.log", tsv_header())
    r = run("label", str(path))
    assert r.exit_code == 0 and "no data rows" in r.stderr


def test_a_text_file_is_not_a_zeek_log(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("# my notes\nthis is not a log\n")
    r = run("label", str(path))
    assert r.exit_code == 1
    assert "not a conn log" in r.stderr


def test_malformed_count_does_not_depend_on_the_output_format(tmp_path):
    """GENERATED: a bad timestamp is malformed in TSV output as in JSON output."""
    path = write_generated(tmp_path / "conn.log", tsv_header() + [conn_row("C1").replace("1700000000.000001", "17x")])
    for fmt in ("zeek", "json", "csv"):
        r = run("label", str(path), "--format", fmt)
        assert r.stderr.strip().endswith("1 rows in, 1 rows out, 1 malformed"), fmt


def test_label_takes_arrows_jemalloc_pool_unless_the_environment_names_one(monkeypatch):
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow build has no jemalloc")
    log = str(LAB / "acl_silent_close" / "tsv" / "conn.log")
    original = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
        assert run("label", log).exit_code == 0
        assert pa.default_memory_pool().backend_name == "system"  # the user's choice stands
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        assert run("label", log).exit_code == 0
        assert pa.default_memory_pool().backend_name == "jemalloc"  # it gives freed pages back
    finally:
        pa.set_memory_pool(original)


@pytest.mark.parametrize("fmt,want", [("ecs", FRAME_CHUNK_ROWS), ("csv", FRAME_CHUNK_ROWS),
                                      ("zeek", CHUNK_ROWS), ("json", JSON_CHUNK_ROWS)])
def test_ecs_and_csv_read_smaller_chunks_with_the_same_output(tmp_path, monkeypatch, fmt, want):
    # ECS and CSV documents are built from pandas frames: ~40 MB per 25,000-row chunk in flight
    # (benchmark: `label -f ecs` at 2M rows peaks at ~200 MB in 10,000-row chunks, ~340 MB in 25,000)
    rows = [conn_row(uid=f"Cgen{i}", orig=f"10.0.{i % 200}.{i % 7}", resp_p=21 + i % 3,
                     history=("ShAfFa", "ShADadFf", "Sr")[i % 3], state=("SF", "SF", "REJ")[i % 3])
            for i in range(2500)]
    log = write_generated(tmp_path / "conn.log", tsv_header() + rows)
    import zeekslam.cli as cli_module

    asked: list[int] = []

    def spy(*args, **kwargs):
        asked.append(kwargs["chunk_rows"])
        return label_chunks(*args, **kwargs)

    monkeypatch.setattr(cli_module, "label_chunks", spy)
    outputs = []
    for extra in ([], ["--chunk-rows", "1000"]):
        out = tmp_path / f"out{len(outputs)}"
        assert run("label", str(log), "-f", fmt, "-o", str(out), *extra).exit_code == 0
        # zeek output says when it was written (#open, #close): two runs can straddle a second
        outputs.append(b"\n".join(x for x in out.read_bytes().split(b"\n") if not x.startswith((b"#open", b"#close"))))
    assert asked == [want, 1000]  # the format's own chunk size, unless one is given
    assert outputs[0] == outputs[1] and outputs[0].count(b"Cgen2499") == 1
