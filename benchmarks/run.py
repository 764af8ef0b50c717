"""zeekslam at sensor scale: time `label`, `label --format json`, `report`, zat and awk.

    python benchmarks/run.py --rows 2000000            # the table, one run
    python benchmarks/run.py --memory-check            # label and report at 2M and 8M rows: is memory flat?
    python benchmarks/run.py --rows 2000000 --dask     # also the Dask engine (library call)
    python benchmarks/run.py --rows 2000000 --slam     # also label and report with a slam.log joined
    python benchmarks/run.py --rows 2000000 --gzip     # also label and report of the log gzipped (an archive)
    python benchmarks/run.py --rows 2000000 --json     # also label and report of the log as Zeek's JSON

Every command runs in a fresh subprocess, under ``/usr/bin/time -v`` when it
exists (else in a fresh wrapper process that reads its own
``resource.getrusage(RUSAGE_CHILDREN)``), so the peak RSS printed is that
command's own.  The input is a GENERATED conn.log
(see ``generate.py``), cached in ``benchmarks/out/`` and reused when its
``#generated`` line matches the rows and seed asked for.  The file is read once
before timing so every command starts with it in the page cache.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402 - the sibling module, found through HERE

#: The targets of issue 5, checked at the end of a run.
TARGETS = {
    "label vs zat": 2.5,  # label at least 2.5x faster than zat's bare read
    "label vs awk": 2.0,  # label within 2x of the awk floor
    "report vs label": 2.0,  # report within 2x of label
    "rss_mb": 300.0,  # peak RSS of label (either format) and of report at 2M rows
    "flatness": 0.20,  # peak RSS at 8M rows within 20% of 2M (label and report)
}

ZAT_READ = (
    "import sys\n"
    "from zat.log_to_dataframe import LogToDataFrame\n"
    "df = LogToDataFrame().create_dataframe(sys.argv[1])\n"
    "print(len(df), 'rows', file=sys.stderr)\n"
)

DASK_LABEL = (
    "import sys\n"
    "from zeekslam.dask_engine import label_logs_dask\n"
    "rows = 0\n"
    "for frame in label_logs_dask([sys.argv[1]]):\n"
    "    rows += len(frame)\n"
    "print(rows, 'rows', file=sys.stderr)\n"
)


@dataclass
class Result:
    name: str
    seconds: float
    rss_mb: float
    rc: int
    note: str = ""
    timed_out: bool = False
    user: float = float("nan")  # CPU seconds in user mode, all threads (and children: awk's sh, gzip)
    system: float = float("nan")  # CPU seconds in the kernel: reads, writes, page faults


#: With --code DIR: the zeekslam package is imported from DIR (a patched copy, say).
CODE_DIR: str | None = None


def zeekslam_cmd() -> list[str]:
    """The installed ``zeekslam`` script next to this Python, else ``python -m zeekslam``."""
    script = os.path.join(os.path.dirname(sys.executable), "zeekslam")
    if CODE_DIR is None and os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-m", "zeekslam"]


def child_env() -> dict[str, str] | None:
    if CODE_DIR is None:
        return None
    return {**os.environ, "PYTHONPATH": os.path.abspath(CODE_DIR)}


def compile_package() -> None:
    """Byte-compile the zeekslam that will run, as pip does on install: with
    PYTHONDONTWRITEBYTECODE set, a stale cache is otherwise recompiled on every run."""
    code = ("import compileall, os, zeekslam\n"
            "compileall.compile_dir(os.path.dirname(zeekslam.__file__), quiet=2)\n")
    subprocess.run([sys.executable, "-c", code], check=False, env=child_env(),
                   cwd=HERE if CODE_DIR is None else os.path.abspath(CODE_DIR))


def awk_binary() -> str | None:
    for name in ("mawk", "gawk", "awk"):
        path = shutil.which(name)
        if path:
            return path
    return None


#: Without /usr/bin/time: a fresh wrapper process whose only child is the command,
#: so its RUSAGE_CHILDREN peak RSS is that command's own.
RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print('User time (seconds):', usage.ru_utime, file=sys.stderr)\n"
    "print('System time (seconds):', usage.ru_stime, file=sys.stderr)\n"
    "print('Maximum resident set size (kbytes):', usage.ru_maxrss, file=sys.stderr)\n"
    "print('Exit status:', rc, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def run(name: str, argv: list[str], stdout_path: str | None = None, timeout: float | None = None) -> Result:
    """Run one command in a fresh process; its wall time and its own peak RSS."""
    time_v = "/usr/bin/time"
    if os.access(time_v, os.X_OK):
        full, marker = [time_v, "-v", *argv], "\tCommand being timed"
    else:
        full, marker = [sys.executable, "-c", RSS_WRAPPER, *argv], "Maximum resident set size"
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    start = time.perf_counter()
    # Its own session, so that a timeout can stop the command and its children together.
    # cwd: not the repository root, where `python -m` would import ./zeekslam before --code's copy.
    proc = subprocess.Popen(full, stdout=out, stderr=subprocess.PIPE, start_new_session=True, env=child_env(),
                            cwd=HERE if CODE_DIR is None else os.path.abspath(CODE_DIR))
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Result(name, time.perf_counter() - start, float("nan"), -1, f"stopped after {timeout:.0f} s",
                      timed_out=True)
    finally:
        if stdout_path:
            out.close()
    seconds = time.perf_counter() - start
    stderr = err.decode("utf-8", "replace")
    m = re.search(r"Maximum resident set size \(kbytes\):? (\d+)", stderr)
    rss_kb = float(m.group(1)) if m else 0.0
    m = re.search(r"Exit status: (\d+)", stderr)
    rc = int(m.group(1)) if m else int(proc.returncode)
    own = stderr[: stderr.rfind(marker)] if marker in stderr else stderr
    note = "" if rc == 0 else " | ".join(own.strip().splitlines()[-3:])[:300]
    cpu = [re.search(rf"{kind} time \(seconds\): ([0-9.]+)", stderr) for kind in ("User", "System")]
    user, system = (float(m.group(1)) if m else float("nan") for m in cpu)
    return Result(name, seconds, rss_kb / 1024.0, rc, note, user=user, system=system)


OUTPUTS = ("label.tsv", "label.json", "label.ecs", "label.csv", "label-dask.tsv", "awk.tsv", "report.txt",
           "report.png", "report-plot.txt", "label-slam.tsv", "report-slam.txt", "label-gz.tsv", "report-gz.txt",
           "awk-gz.tsv", "label-day.tsv", "report-day.txt", "label-json-in.json", "ecs-json-in.json",
           "report-json-in.txt", "label-iso-in.json", "report-iso-in.txt")


def remove_outputs(out_dir: str) -> None:
    for name in OUTPUTS:
        p = os.path.join(out_dir, name)
        if os.path.exists(p):
            os.remove(p)


def label_has_option(option: str) -> bool:
    proc = subprocess.run([*zeekslam_cmd(), "label", "--help"], capture_output=True, text=True, check=False,
                          env=child_env())
    return option in proc.stdout


def has_command(cmd: str) -> bool:
    proc = subprocess.run([*zeekslam_cmd(), "--help"], capture_output=True, text=True, check=False, env=child_env())
    return re.search(rf"^\s+{cmd}\s", proc.stdout, flags=re.M) is not None


def input_file(rows: int, seed: int, out_dir: str, regenerate: bool) -> str:
    path = os.path.join(out_dir, f"conn.generated-{rows}.log")
    if not regenerate and os.path.exists(path):
        with open(path, "rb") as f:
            head = f.read(2048).decode("ascii", "replace")
        if f"(rows={rows}, seed={seed})" in head:
            print(f"input: {path} (cached; --regenerate to rebuild)")
            return path
    generate.generate(path, rows, seed)
    print(f"input: {path}")
    return path


def derived_file(path: str, source: str, regenerate: bool, make, what: str) -> str:
    """``path``, made by ``make(source, path)`` unless it is there and newer than ``source``
    (cached), then read once so that timed commands find it cached."""
    if regenerate or not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(source):
        make(source, path)
    else:
        print(f"{what}: {path} (cached)")
    warm(path)
    return path


def slam_file(conn_path: str, out_dir: str, regenerate: bool) -> str:
    """The GENERATED slam.log of the door events of ``conn_path`` (cached next to it)."""
    path = os.path.join(out_dir, os.path.basename(conn_path).replace("conn.", "slam.", 1))
    return derived_file(path, conn_path, regenerate, generate.generate_slam, "slam.log")


def json_file(conn_path: str, regenerate: bool) -> str:
    """The GENERATED conn.log's rows as Zeek's JSON log (cached next to it)."""
    return derived_file(conn_path[: -len(".log")] + ".json.log", conn_path, regenerate, generate.generate_json,
                        "JSON log")


def iso_json_file(conn_path: str, regenerate: bool) -> str:
    """The same, its times in ISO 8601 as Zeek writes them with JSON::TS_ISO8601 (cached)."""
    return derived_file(conn_path[: -len(".log")] + ".iso.json.log", conn_path, regenerate,
                        functools.partial(generate.generate_json, iso_times=True), "JSON log, ISO times")


def gzip_file(conn_path: str, regenerate: bool) -> str:
    """``conn_path`` gzipped as Zeek archives its logs (gzip's default level 6), cached next to it:
    the same GENERATED rows, its ``#generated`` line included."""
    return derived_file(conn_path + ".gz", conn_path, regenerate, _gzip, "gzipped")


def _gzip(source: str, path: str) -> None:
    import gzip

    start = time.perf_counter()
    with open(source, "rb") as src, gzip.open(path + ".part", "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(path + ".part", path)
    print(f"gzipped: {path} ({os.path.getsize(path) / 1e6:.0f} MB, {time.perf_counter() - start:.0f} s)")


def hourly_archives(conn_path: str, rows: int, regenerate: bool) -> str:
    """A directory of 24 gzipped logs cut from ``conn_path`` (equal row counts, each with the
    header and a ``#close`` line), named as Zeek names a day of hourly archives: the same
    GENERATED rows, in the same order.  Cached next to the log."""
    import gzip

    day = os.path.join(os.path.dirname(conn_path), os.path.basename(conn_path)[: -len(".log")] + ".hourly")
    names = [os.path.join(day, f"conn.{h:02d}:00:00-{h + 1:02d}:00:00.log.gz") for h in range(24)]
    if not regenerate and all(os.path.exists(n) and os.path.getmtime(n) >= os.path.getmtime(conn_path)
                              for n in names):
        print(f"hourly archives: {day} (cached)")
    else:
        start = time.perf_counter()
        os.makedirs(day, exist_ok=True)
        per = -(-rows // 24)
        with open(conn_path, "rb") as src:
            head = []
            for line in src:  # the header: every "#" line before the first row
                if not line.startswith(b"#"):
                    break
                head.append(line)
            rows_left = itertools.chain([line], (row for row in src if not row.startswith(b"#")))
            for name in names:
                with gzip.open(name, "wb", compresslevel=6) as out:
                    out.writelines(head)
                    out.writelines(itertools.islice(rows_left, per))
                    out.write(b"#close\t2026-01-01-00-00-00\n")
        print(f"hourly archives: {day} ({time.perf_counter() - start:.0f} s)")
    for name in names:
        if os.path.exists(name):
            warm(name)
    return day


def warm(path: str) -> None:
    """Read the file once so that every timed command starts with it cached."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def count_data_lines(path: str) -> int:
    """Data lines (not '#', not empty) of a TSV output, in binary blocks."""
    n = 0
    carry = b""
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            block = carry + block
            cut = block.rfind(b"\n") + 1
            block, carry = block[:cut], block[cut:]
            n += block.count(b"\n") - block.count(b"\n#") - block.count(b"\n\n")
            if block.startswith(b"#"):
                n -= 1
    return n + (1 if carry and not carry.startswith(b"#") else 0)


def machine() -> str:
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.+)", f.read())
            model = m.group(1).strip() if m else model
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import numpy
    import pandas
    return (f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB; Python {platform.python_version()}, "
            f"pandas {pandas.__version__}, numpy {numpy.__version__}; load {os.getloadavg()[0]:.2f}")


TABLE_HEAD = f"{'command':<34} {'seconds':>8} {'rows/s':>12} {'peak RSS MB':>12} {'CPU user':>9} {'sys':>6}  status"


def table(results: list[Result], rows: int) -> None:
    print(f"\n{TABLE_HEAD}")
    for r in results:
        print(row_text(r, rows))


def row_text(r: Result, rows: int) -> str:
    rate = rows / r.seconds if r.seconds else 0.0
    status = "ok" if r.rc == 0 else (r.note if r.timed_out else f"exit {r.rc}: {r.note}")
    if r.timed_out:
        return (f"{r.name:<34} {'>' + format(r.seconds, '.1f'):>8} {'<' + format(rate, ',.0f'):>12} {'?':>12} "
                f"{'?':>9} {'?':>6}  {status}")
    return f"{r.name:<34} {r.seconds:8.2f} {rate:12,.0f} {r.rss_mb:12.0f} {r.user:9.2f} {r.system:6.2f}  {status}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def benchmark(args: argparse.Namespace) -> int:
    out_dir = args.out_dir
    os.makedirs(out_dir, exist_ok=True)
    path = input_file(args.rows, args.seed, out_dir, args.regenerate)
    print(f"machine: {machine()}")
    warm(path)
    zs = zeekslam_cmd()
    compile_package()
    awk = awk_binary()
    label_out = os.path.join(out_dir, "label.tsv")
    commands: list[tuple[str, str, list[str], str | None]] = [
        ("label", "zeekslam label (TSV->TSV)", [*zs, "label", path, "-o", label_out, "--no-progress"], None),
        ("json", "zeekslam label --format json",
         [*zs, "label", path, "--format", "json", "-o", os.path.join(out_dir, "label.json"), "--no-progress"], None),
    ]
    if has_command("report"):
        commands.append(("report", "zeekslam report",
                         [*zs, "report", path, "-o", os.path.join(out_dir, "report.txt")], None))
    else:
        print("note: `zeekslam report` is not there yet (`zeekslam --help` does not list it): skipped")
    commands.append(("zat", "zat LogToDataFrame (read only)", [sys.executable, "-c", ZAT_READ, path], None))
    if awk:
        commands.append(("awk", f"{os.path.basename(awk)} one-pass labeler (floor)",
                         [awk, "-f", os.path.join(HERE, "awk_label.awk"), path], os.path.join(out_dir, "awk.tsv")))
    else:
        print("note: no awk on this machine: the floor is skipped")
    if args.plot and has_command("report"):
        commands.append(("plot", "zeekslam report --plot",
                         [*zs, "report", path, "--plot", os.path.join(out_dir, "report.png"),
                          "-o", os.path.join(out_dir, "report-plot.txt")], None))
    if args.documents:  # ~40 s each at 2M rows: only when asked
        for fmt in ("ecs", "csv"):
            commands.append((fmt, f"zeekslam label --format {fmt}",
                             [*zs, "label", path, "--format", fmt, "-o", os.path.join(out_dir, f"label.{fmt}"),
                              "--no-progress"], None))
    if args.slam:  # the project's slam.log joined by uid: what a sensor running our Zeek script has
        slam = slam_file(path, out_dir, args.regenerate)
        commands.append(("label_slam", "zeekslam label + slam.log",
                         [*zs, "label", path, slam, "-o", os.path.join(out_dir, "label-slam.tsv"), "--no-progress"],
                         None))
        if has_command("report"):
            commands.append(("report_slam", "zeekslam report + slam.log",
                             [*zs, "report", path, slam, "-o", os.path.join(out_dir, "report-slam.txt")], None))
    if args.json:  # a sensor that logs JSON (LogAscii::use_json=T)
        js = json_file(path, args.regenerate)
        commands.append(("label_json_in", "zeekslam label (JSON in and out)",
                         [*zs, "label", js, "-o", os.path.join(out_dir, "label-json-in.json"), "--no-progress"],
                         None))
        commands.append(("ecs_json_in", "zeekslam label --format ecs (JSON in)",
                         [*zs, "label", js, "--format", "ecs", "-o", os.path.join(out_dir, "ecs-json-in.json"),
                          "--no-progress"], None))
        if has_command("report"):
            commands.append(("report_json_in", "zeekslam report (JSON in)",
                             [*zs, "report", js, "-o", os.path.join(out_dir, "report-json-in.txt")], None))
        iso = iso_json_file(path, args.regenerate)  # (JSON::TS_ISO8601, json-streaming-logs)
        commands.append(("label_iso_in", "zeekslam label (JSON, ISO times)",
                         [*zs, "label", iso, "-o", os.path.join(out_dir, "label-iso-in.json"), "--no-progress"],
                         None))
        if has_command("report"):
            commands.append(("report_iso_in", "zeekslam report (JSON, ISO times)",
                             [*zs, "report", iso, "-o", os.path.join(out_dir, "report-iso-in.txt")], None))
    if args.gzip:  # an archive: Zeek gzips each log as it rotates it
        gz = gzip_file(path, args.regenerate)
        commands.append(("label_gz", "zeekslam label (conn.log.gz)",
                         [*zs, "label", gz, "-o", os.path.join(out_dir, "label-gz.tsv"), "--no-progress"], None))
        if has_command("report"):
            commands.append(("report_gz", "zeekslam report (conn.log.gz)",
                             [*zs, "report", gz, "-o", os.path.join(out_dir, "report-gz.txt")], None))
        day = hourly_archives(path, args.rows, args.regenerate)
        commands.append(("label_day", "zeekslam label (24 hourly .gz)",
                         [*zs, "label", day, "-o", os.path.join(out_dir, "label-day.tsv"), "--no-progress"], None))
        if has_command("report"):
            commands.append(("report_day", "zeekslam report (24 hourly .gz)",
                             [*zs, "report", day, "-o", os.path.join(out_dir, "report-day.txt")], None))
        if awk and shutil.which("gzip"):
            commands.append(("awk_gz", f"gzip -dc | {os.path.basename(awk)} labeler",
                             ["sh", "-c", 'gzip -dc "$1" | "$2" -f "$3"', "sh", gz, awk,
                              os.path.join(HERE, "awk_label.awk")], os.path.join(out_dir, "awk-gz.tsv")))
    if args.dask:
        commands.append(("dask", "dask engine (label_logs_dask)", [sys.executable, "-c", DASK_LABEL, path], None))
        if label_has_option("--engine"):
            commands.append(("dask_cli", "zeekslam label --engine dask",
                             [*zs, "label", path, "--engine", "dask", "-o", os.path.join(out_dir, "label-dask.tsv"),
                              "--no-progress"], None))

    # Rounds: each command once per round, so every command sees the same spells of a noisy
    # (shared, virtual) machine and the ratios compare like with like; the fastest run counts.
    results: dict[str, Result] = {}
    peaks: dict[str, float] = {}
    out_rows = 0
    for round_no in range(1, args.repeat + 1):
        print(f"round {round_no} of {args.repeat}:", end="", flush=True)
        for key, name, argv, stdout_path in commands:
            if key in results and (results[key].rc != 0 or results[key].timed_out):
                continue  # failed or stopped once: not again
            timeout = None
            if key == "report":
                # A report slower than 10x label misses its 2x target anyway: stop it there.
                timeout = args.report_timeout or max(60.0, 10 * results["label"].seconds)
            remove_outputs(out_dir)  # every run writes a new file, as the first did
            os.sync()  # and none waits on the writeback of an earlier run's output
            result = run(name, argv, stdout_path, timeout)
            print(f" {key} {result.seconds:.2f}s", end="", flush=True)
            if key == "label" and result.rc == 0 and round_no == 1:
                out_rows = count_data_lines(label_out)
            if result.rc == 0 and not result.timed_out:
                peaks[key] = max(peaks.get(key, 0.0), result.rss_mb)
            best = results.get(key)
            if best is None or result.rc != 0 or result.timed_out or result.seconds < best.seconds:
                results[key] = result
        print(flush=True)
    for key, result in results.items():
        if result.rc == 0 and not result.timed_out:
            result.rss_mb = peaks[key]  # the fastest run's time, the highest peak of all runs

    print(f"\nbest of {args.repeat} rounds (peak RSS: the highest of the runs)")
    table(list(results.values()), args.rows)
    if results["label"].rc == 0:
        print(f"\nlabel output: {out_rows:,} data rows for {args.rows:,} input rows"
              + ("" if out_rows == args.rows else "  <-- ROWS LOST OR ADDED"))
    if awk:
        print(f"awk: {awk}")

    lab = results["label"]
    print("\ntargets (from this run):")
    if "zat" in results and results["zat"].rc == 0 and lab.rc == 0:
        speedup = results["zat"].seconds / lab.seconds
        print(f"  label vs zat read:   zat time / label time = {speedup:5.2f}  "
              f"(target >= {TARGETS['label vs zat']})  {verdict(speedup >= TARGETS['label vs zat'])}")
    if "awk" in results and results["awk"].rc == 0 and lab.rc == 0:
        slower = lab.seconds / results["awk"].seconds
        print(f"  label vs awk floor:  label time / awk time = {slower:5.2f}  "
              f"(target <= {TARGETS['label vs awk']})  {verdict(slower <= TARGETS['label vs awk'])}")
    if "report" in results and results["report"].timed_out and lab.rc == 0:
        ratio = results["report"].seconds / lab.seconds
        print(f"  report vs label:     report time / label time > {ratio:4.1f} (stopped)  "
              f"(target <= {TARGETS['report vs label']})  MISS")
    elif "report" in results and results["report"].rc == 0 and lab.rc == 0:
        ratio = results["report"].seconds / lab.seconds
        print(f"  report vs label:     report time / label time = {ratio:5.2f}  "
              f"(target <= {TARGETS['report vs label']})  {verdict(ratio <= TARGETS['report vs label'])}")
    elif "report" not in results:
        print("  report vs label:     not measured (no report command)")
    if lab.rc == 0:
        json_ratio = results["json"].seconds / lab.seconds if results["json"].rc == 0 else float("nan")
        print(f"  label --format json: json time / TSV time = {json_ratio:5.2f} (no target)")
    # the RSS target read as applying to every command that streams a log
    scale = f" (target at 2M rows: <= {TARGETS['rss_mb']:.0f} MB)"
    for key, name in (("label", "label"), ("json", "label --format json"), ("ecs", "label --format ecs"),
                      ("csv", "label --format csv"), ("report", "report"), ("plot", "report --plot"),
                      ("label_slam", "label + slam.log"), ("report_slam", "report + slam.log"),
                      ("label_gz", "label, gzipped"), ("report_gz", "report, gzipped"),
                      ("label_day", "label, 24 archives"), ("report_day", "report, 24 archives"),
                      ("label_json_in", "label, JSON in"), ("ecs_json_in", "label --format ecs, JSON in"),
                      ("report_json_in", "report, JSON in"), ("label_iso_in", "label, JSON ISO times"),
                      ("report_iso_in", "report, JSON ISO times")):
        result = results.get(key)
        if result is None or result.rc != 0:
            continue
        ok = result.rss_mb <= TARGETS["rss_mb"] if args.rows == 2_000_000 else None
        print(f"  {name + ' peak RSS:':<32} {result.rss_mb:5.0f} MB{scale}  "
              + (verdict(ok) if ok is not None else "(not at 2M rows)"))
    for key, name in (("label_slam", "label + slam.log"), ("report_slam", "report + slam.log"),
                      ("label_gz", "label, gzipped"), ("report_gz", "report, gzipped"),
                      ("label_day", "label, 24 archives"), ("report_day", "report, 24 archives"),
                      ("label_json_in", "label, JSON in"), ("ecs_json_in", "ECS, JSON in"),
                      ("report_json_in", "report, JSON in"), ("label_iso_in", "label, ISO times"),
                      ("report_iso_in", "report, ISO times")):
        if key in results and results[key].rc == 0 and lab.rc == 0:
            print(f"  {name + ':':<20} time / label time = {results[key].seconds / lab.seconds:5.2f} (no target)")
    if "label_gz" in results and "awk_gz" in results and results["awk_gz"].rc == 0:
        print(f"  label, gzipped:      time / (gzip -dc | awk) time = "
              f"{results['label_gz'].seconds / results['awk_gz'].seconds:5.2f} (no target)")
    if "dask" in results and results["dask"].rc == 0 and lab.rc == 0:
        print(f"  dask engine:         dask time / label time = {results['dask'].seconds / lab.seconds:5.2f} "
              "(library call, no writing; no target)")
    if not args.keep_outputs:
        remove_outputs(out_dir)
    return 0 if all(r.rc == 0 or r.timed_out for r in results.values()) else 1


def memory_check(args: argparse.Namespace) -> int:
    """label and report at two sizes: peak RSS should not grow with the input.

    Each size runs ``--repeat`` times: one process's peak RSS varies by ~10% from run to
    run (allocator and thread timing), so each size counts with the highest of its runs,
    as the main table does, and every run's figure is printed."""
    os.makedirs(args.out_dir, exist_ok=True)
    print(f"machine: {machine()}")
    zs = zeekslam_cmd()
    compile_package()
    sizes = [args.small, args.large]
    runs: dict[tuple[str, int], list[Result]] = {}
    for rows in sizes:
        path = input_file(rows, args.seed, args.out_dir, args.regenerate)
        warm(path)
        out = os.path.join(args.out_dir, "label-memcheck.tsv")
        for round_no in range(1, args.repeat + 1):
            for command, argv in (("label", [*zs, "label", path, "-o", out, "--no-progress"]),
                                  ("report", [*zs, "report", path, "-o", os.devnull])):
                print(f"running zeekslam {command} at {rows:,} rows (run {round_no} of {args.repeat}) ...",
                      flush=True)
                runs.setdefault((command, rows), []).append(run(f"zeekslam {command}, {rows:,} rows", argv))
                if os.path.exists(out):
                    os.remove(out)
    found: dict[str, list[Result]] = {"label": [], "report": []}
    for (command, _rows), results in runs.items():  # the fastest time, the highest peak
        fastest = min(results, key=lambda r: r.seconds)
        found[command].append(replace(fastest, rss_mb=max(r.rss_mb for r in results)))
    print(f"\n{TABLE_HEAD}")
    for command, results in found.items():
        for rows, r in zip(sizes, results, strict=True):
            peaks = ", ".join(f"{x.rss_mb:.0f}" for x in runs[(command, rows)])
            print(row_text(r, rows) + f"   (runs: {peaks} MB)")
    print()
    for command, (small, large) in found.items():
        ratio = large.rss_mb / small.rss_mb if small.rss_mb else float("nan")
        ok = abs(ratio - 1.0) <= TARGETS["flatness"]
        print(f"{command} peak RSS {small.rss_mb:.0f} MB at {sizes[0]:,} rows, {large.rss_mb:.0f} MB at "
              f"{sizes[1]:,} rows: ratio {ratio:.2f} (target within {TARGETS['flatness']:.0%})  {verdict(ok)}")
    return 0 if all(r.rc == 0 for results in runs.values() for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows of the generated conn.log (default 2M)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3, metavar="N",
                    help="N rounds, each running every command once; the fastest run of each counts "
                         "(default 3; a shared machine is noisy)")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "out"), help="where inputs and outputs go")
    ap.add_argument("--regenerate", action="store_true", help="rebuild the input even if cached")
    ap.add_argument("--keep-outputs", action="store_true", help="keep the labeled outputs")
    ap.add_argument("--report-timeout", type=float, default=None, metavar="SECONDS",
                    help="stop `report` after this long (default: 10x the label time, at least 60 s)")
    ap.add_argument("--code", metavar="DIR", default=None,
                    help="import zeekslam from DIR (e.g. a copy with a patch applied) instead of the install")
    ap.add_argument("--dask", action="store_true", help="also time the Dask engine (library call)")
    ap.add_argument("--slam", action="store_true",
                    help="also time label and report with a GENERATED slam.log of the conn.log's door events")
    ap.add_argument("--json", action="store_true",
                    help="also time label and report of the conn.log as Zeek's JSON log (made once, ~30 s)")
    ap.add_argument("--gzip", action="store_true",
                    help="also time label and report of the conn.log gzipped, as Zeek archives it, whole and "
                         "cut into a day of 24 hourly archives (made once, ~25 s)")
    ap.add_argument("--plot", action="store_true", help="also time report --plot (draws a PNG with matplotlib)")
    ap.add_argument("--documents", action="store_true",
                    help="also time label --format ecs and --format csv (slow: ~40 s each at 2M rows)")
    ap.add_argument("--memory-check", action="store_true",
                    help="run label and report at --small and --large rows and compare peak RSS")
    ap.add_argument("--small", type=int, default=2_000_000, help="memory check: smaller size (default 2M)")
    ap.add_argument("--large", type=int, default=8_000_000, help="memory check: larger size (default 8M)")
    args = ap.parse_args(argv)
    global CODE_DIR
    CODE_DIR = args.code
    args.out_dir = os.path.abspath(args.out_dir)  # commands run in another directory
    if CODE_DIR:
        print(f"zeekslam imported from {os.path.abspath(CODE_DIR)}")
    return memory_check(args) if args.memory_check else benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
