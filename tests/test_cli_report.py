"""``zeekslam report`` through click's CliRunner, on the real lab logs."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from zeekslam.cli import cli

LAB = Path(__file__).parent / "data" / "lab"
MIXED = str(LAB / "mixed_dev" / "json" / "conn.log")


def run(*args: str):
    return CliRunner().invoke(cli, ["report", *args])


def test_report_is_registered():
    # Registered lazily (it imports pandas): listed in --help, found by name.
    ctx = click.Context(cli)
    assert "report" in cli.list_commands(ctx)
    assert cli.get_command(ctx, "report").name == "report"
    assert "report" in CliRunner().invoke(cli, ["--help"]).output


def test_text_report_on_mixed_dev():
    r = run(MIXED)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == (
        "zeekslam report: 3 server(s), 2 with door events; "
        "23 row(s) not about a server's door (non-TCP, unlabeled, malformed, ftp-data)"
    )
    heads = [ln for ln in lines if ln[:2] in ("1.", "2.", "3.")]
    assert heads == [
        "1. 127.0.0.1:2192  connection_limit  (confidence high)",
        "2. 127.0.0.1:2191  ip_allowlist  (confidence high)",
        "3. 127.0.0.1:2193  healthy  (confidence high)",
    ]
    assert (
        "   127.0.0.1:2191 — IP allow-list: 127.0.0.5 refused 15/15 times, "
        "3 other client(s) served 21/21 in the same window"
    ) in lines
    assert (
        "   concurrency at accept (sessions:count): refusals 2:37 | successes 0:15 1:22   [conn.log intervals]"
    ) in lines
    assert "   127.0.0.1:2193 — healthy: 14 connection(s), 14 served, no door events" in lines


def test_problems_only_and_output_file(tmp_path):
    out = tmp_path / "report.txt"
    r = run(MIXED, "--problems-only", "-o", str(out))
    assert r.exit_code == 0 and r.output == ""
    text = out.read_text()
    assert "ip_allowlist" in text and "2193" not in text.split("healthy server(s) not shown")[0]
    assert text.rstrip().endswith("1 healthy server(s) not shown")


def test_json_report_on_a_directory():
    r = run(str(LAB / "conn_limit_421" / "json"), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    verdicts = {s["server"]: (s["verdict"], s["limit"]["k"]) for s in doc["servers"]}
    assert verdicts == {"127.0.0.1:2127": ("connection_limit", 2), "127.0.0.1:2128": ("connection_limit", 2)}
    assert doc["rows"] == 12 and doc["skipped"] == 0


def test_json_crash_window():
    r = run(str(LAB / "crash_day" / "json" / "conn.log"), "--format", "json")
    (srv,) = json.loads(r.output)["servers"]
    assert srv["verdict"] == "service_crash"
    (w,) = srv["crash_windows"]
    assert w["start"] < w["end"] < w["recovered_at"]


def test_why_walks_the_hypotheses():
    r = run(MIXED, "--why", "127.0.0.1:2191")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("why: 127.0.0.1:2191 — ip_allowlist (confidence high)\n")
    assert "  1. [-] The client's handshake ACK was faulty: RULED OUT" in r.output
    assert "  4. [+] The server does not like the client's IP address: SUPPORTED" in r.output
    r = run(MIXED, "--why", "127.0.0.1:2192", "--format", "json")
    (srv,) = json.loads(r.output)["servers"]
    assert {h["name"]: h["status"] for h in srv["why"]}["connection_limit"] == "supported"


@pytest.mark.parametrize(
    "args, message",
    [
        ((MIXED, "--why", "127.0.0.1"), "not a server endpoint"),
        ((MIXED, "--why", "127.0.0.1:9"), "no connections to 127.0.0.1:9"),
        ((str(LAB / "nope.log"),), "no such file"),
    ],
)
def test_errors_are_click_errors(args, message):
    r = run(*args)
    assert r.exit_code == 1
    assert r.output.startswith("Error: ") and message in r.output
    assert "Traceback" not in r.output


def test_plot_is_a_png(tmp_path):
    png = tmp_path / "servers.png"
    r = CliRunner().invoke(cli, ["report", MIXED, "--plot", str(png)])
    assert r.exit_code == 0, r.output
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 500 and height > 500
    assert len(data) > 20_000


def test_help_ends_with_an_example():
    r = CliRunner().invoke(cli, ["report", "-h"])
    assert r.exit_code == 0
    assert "Examples:" in r.output
    assert "  zeekslam report tests/data/lab/mixed_dev/json/conn.log" in r.output


def test_progress_goes_to_stderr_and_leaves_the_report_alone(tmp_path):
    quiet = CliRunner().invoke(cli, ["report", MIXED, "-o", str(tmp_path / "a.txt"), "--no-progress"])
    loud = CliRunner().invoke(cli, ["report", MIXED, "-o", str(tmp_path / "b.txt"), "--progress"])
    assert quiet.exit_code == loud.exit_code == 0
    assert "rows read" not in quiet.stderr
    rows = sum(1 for line in Path(MIXED).read_text().splitlines() if line.strip())
    assert f"zeekslam: {rows:,} rows read; diagnosing ..." in loud.stderr
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text()


def test_report_gives_the_garbage_collector_back_as_it_was():
    """The verdicts are frozen out of the cyclic GC while the command runs; an in-process caller
    (this one) gets the GC back enabled and nothing frozen, after a report and after an error."""
    import gc

    log = str(LAB / "mixed_dev" / "json" / "conn.log")
    for args, status in (([log], 0), ([log, "--why", "1.2.3.4:5"], 1)):
        result = run(*args)
        assert result.exit_code == status, result.output
        assert gc.isenabled() and gc.get_freeze_count() == 0


def test_reader_leaving_early_is_not_an_error(tmp_path):
    # `zeekslam report big.log | head`: exit 0 and quiet, as label (GENERATED: 3,000 servers, a
    # report far larger than a pipe's buffer)
    from conftest import conn_row, leave_early, tsv_header, write_generated

    lines = tsv_header() + [conn_row(uid=f"Cgen{i}", resp=f"10.{i // 250}.{i % 250}.1", ts=f"1700000000.{i:06d}")
                            for i in range(3000)]
    first, status, err = leave_early("report", str(write_generated(tmp_path / "conn.log", lines)))
    assert first.startswith(b"zeekslam report: 3000 server(s)")
    assert status == 0, err
    assert err == b""
