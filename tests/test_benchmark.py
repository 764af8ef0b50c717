"""The benchmark (benchmarks/run.py) runs end to end on a small GENERATED log and prints
figures that agree with each other: a smoke test, so that the README's command keeps working.
Its timings at this size mean nothing; only that they are there and consistent is checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
ROW = re.compile(r"^(?P<name>.+?)\s+(?P<seconds>[0-9.]+)\s+(?P<rate>[0-9,]+)\s+(?P<rss>[0-9]+)"
                 r"\s+(?P<user>[0-9.]+)\s+(?P<sys>[0-9.]+)\s+(?P<status>\S.*)$")


def _table(out: str) -> dict[str, dict[str, str]]:
    head = out.index("CPU user")
    rows = {}
    for line in out[head:].splitlines()[1:]:
        m = ROW.match(line)
        if not m:
            break
        rows[m["name"].strip()] = m.groupdict()
    return rows


def test_benchmark_prints_its_table_and_targets(tmp_path):
    rows = 3000
    proc = subprocess.run([sys.executable, str(RUN), "--rows", str(rows), "--repeat", "1", "--out-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    table = _table(out)
    assert {"zeekslam label (TSV->TSV)", "zeekslam label --format json", "zeekslam report",
            "zat LogToDataFrame (read only)"} <= set(table)
    for name, row in table.items():
        assert row["status"] == "ok", (name, row)
        assert int(row["rss"]) > 0
        # rows/s is the rows over the seconds printed (to the rounding of both)
        seconds = float(row["seconds"])
        assert abs(int(row["rate"].replace(",", "")) * seconds - rows) <= rows * 0.01 / max(seconds, 0.01) + 50
    label = table["zeekslam label (TSV->TSV)"]
    assert float(label["user"]) > 0  # a Python process spends CPU; the figures were read
    assert f"label output: {rows:,} data rows for {rows:,} input rows" in out
    assert "ROWS LOST" not in out
    # each ratio is the table's own times, and its verdict follows from the target
    m = re.search(r"zat time / label time = +([0-9.]+) +\(target >= 2.5\) +(PASS|MISS)", out)
    assert m, out
    ratio = float(table["zat LogToDataFrame (read only)"]["seconds"]) / float(label["seconds"])
    assert abs(float(m[1]) - ratio) < 0.05 * ratio + 0.01
    assert m[2] == ("PASS" if float(m[1]) >= 2.5 else "MISS")
    m = re.search(r"report time / label time = +([0-9.]+) +\(target <= 2.0\) +(PASS|MISS)", out)
    assert m, out
    assert m[2] == ("PASS" if float(m[1]) <= 2.0 else "MISS")
    assert "(not at 2M rows)" in out  # the RSS target is not judged at another size
    # the generated input says it is generated, and the outputs were cleaned up
    log = tmp_path / f"conn.generated-{rows}.log"
    assert "#generated\tSYNTHETIC" in log.read_text()[:2000]
    assert not (tmp_path / "label.tsv").exists()


def test_memory_check_compares_two_sizes(tmp_path):
    proc = subprocess.run([sys.executable, str(RUN), "--memory-check", "--small", "2000", "--large", "4000",
                           "--repeat", "1", "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for command in ("label", "report"):
        m = re.search(rf"^{command} peak RSS (\d+) MB at 2,000 rows, (\d+) MB at 4,000 rows: ratio ([0-9.]+)"
                      r" \(target within 20%\) +(PASS|MISS)$", proc.stdout, flags=re.M)
        assert m, proc.stdout
        small, large, ratio = int(m[1]), int(m[2]), float(m[3])
        assert abs(ratio - large / small) <= 0.01 + 1 / small  # the MB printed are rounded
        assert m[4] == ("PASS" if abs(ratio - 1) <= 0.20 else "MISS")
