"""The console entry point ends the process at once after a successful command: real
``zeekslam`` processes on the lab logs, their output compared with an in-process run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from zeekslam import quick_exit
from zeekslam.cli import cli

LAB = Path(__file__).parent / "data" / "lab"
MIXED = str(LAB / "mixed_dev" / "json" / "conn.log")
MIXED_TSV = str(LAB / "mixed_dev" / "tsv" / "conn.log")

# The entry point, with an exit hook that says whether the interpreter was torn down normally.
ENTRY = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('torn down\\n'))\n"
    "from zeekslam.cli import run\n"
    "sys.argv = ['zeekslam', *sys.argv[1:]]\n"
    "run()\n"
)


def zeekslam(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=120)


def test_a_report_to_stdout_is_whole_and_the_teardown_skipped():
    done = zeekslam("report", MIXED)
    assert done.returncode == 0, done.stderr
    assert "torn down" not in done.stderr  # ended by os._exit
    # everything written reached the pipe before the process ended: the same as in-process
    assert done.stdout == CliRunner().invoke(cli, ["report", MIXED]).output
    assert done.stdout.startswith("zeekslam report: 3 server(s), 2 with door events")


def test_label_to_a_file_is_whole(tmp_path):
    out = tmp_path / "labeled.log"
    done = zeekslam("label", MIXED_TSV, "-o", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "torn down" not in done.stderr
    assert "rows in" in done.stderr  # the summary, flushed before the end
    expected = tmp_path / "expected.log"
    assert CliRunner().invoke(cli, ["label", MIXED_TSV, "-o", str(expected), "--no-progress"]).exit_code == 0
    data = [line for line in out.read_text().splitlines() if not line.startswith(("#open", "#close"))]
    assert data == [line for line in expected.read_text().splitlines() if not line.startswith(("#open", "#close"))]
    assert len(data) > 20


def test_a_failure_exits_as_before():
    done = zeekslam("report", MIXED, "--why", "1.2.3.4:5")
    assert done.returncode == 1
    assert "1.2.3.4:5" in done.stderr and "torn down" in done.stderr  # the normal way out
    missing = zeekslam("report", "/nonexistent/conn.log")
    assert missing.returncode != 0 and "torn down" in missing.stderr


def test_in_process_callers_keep_nothing():
    assert CliRunner().invoke(cli, ["report", MIXED]).exit_code == 0
    assert quick_exit._kept == [] and not quick_exit._active


def test_a_running_thread_or_dask_means_the_normal_way_out(monkeypatch):
    import threading

    # (the way out when nothing runs is tested above, in real processes: here other tests may
    # have left threads or Dask behind)
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        assert not quick_exit._nothing_to_tear_down()
    finally:
        release.set()
        worker.join()
    monkeypatch.setitem(sys.modules, "distributed", sys)  # any module object will do
    assert not quick_exit._nothing_to_tear_down()


def test_a_profiler_or_the_environment_keeps_the_normal_way_out(tmp_path):
    # cProfile writes its findings after the command: it must get there
    prof = tmp_path / "label.prof"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "zeekslam", "label", MIXED_TSV,
                           "-o", str(tmp_path / "out.log"), "--no-progress"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert prof.stat().st_size > 1000
    import os

    env = {**os.environ, "ZEEKSLAM_QUICK_EXIT": "0"}
    done = subprocess.run([sys.executable, "-c", ENTRY, "report", MIXED], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0 and "torn down" in done.stderr
    assert done.stdout.startswith("zeekslam report: 3 server(s)")


def test_main_for_a_caller_of_its_own_still_returns_control():
    # zeekslam.cli.main ends in SystemExit, which its caller may catch and go on
    code = ("import sys\nfrom zeekslam.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    print('went on after', e.code)\n")
    done = subprocess.run([sys.executable, "-c", code, "report", MIXED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("zeekslam report: 3 server(s)")
    assert done.stdout.rstrip().endswith("went on after 0")
