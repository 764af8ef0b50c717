"""The ``zeekslam report`` command: label, diagnose each server, print."""

from __future__ import annotations

import gc
import os
import sys

import click

from . import quick_exit
from .ahead import ahead
from .cli_options import dask_engine, engine_options, label_options, make_options
from .diagnose import DiagnoseError, DiagnoseOptions, ServerDiagnoser, find, server_rows
from .label import label_chunks
from .read import LABEL_COLUMNS, ZeekslamError, find_inputs
from .report import ReportError, iter_json, iter_text, render_plot, render_why, sanitize

_DEFAULTS = DiagnoseOptions()


def _give_back_freed_memory() -> None:
    """Return the reading thread's freed heap to the system before the verdicts are built.

    glibc keeps what a thread freed in that thread's own arena and Arrow's allocator keeps
    its freed pages, while the verdicts are made in the main thread's arena: without this
    they add up (measured at 2M rows: peak RSS ~310 MB without, ~265 MB with).  Where the
    C library has no ``malloc_trim`` only Arrow's part is done.
    """
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:  # Arrow's own allocator keeps freed pages too
        pyarrow.default_memory_pool().release_unused()
    if not sys.platform.startswith("linux"):
        return
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # musl has no malloc_trim
        ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols: glibc's, when it is glibc


@click.command("report", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("logs", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for programs (one document)")
@click.option("-o", "--output", type=click.File("w"), default="-", help="Write here instead of stdout")
@click.option("--plot", type=click.Path(dir_okay=False, writable=True),
              help="Also draw a PNG: concurrency at accept over time per server, refusals against successes")
@click.option("--why", "why_server", metavar="IP:PORT",
              help="Walk the classic hypotheses (bad ACK, limit, crash, IP not allowed, middlebox) for one server")
@click.option("--problems-only", is_flag=True, help="Leave healthy servers out of the text report")
@click.option("--progress/--no-progress", default=None,
              help="Show a running row count on stderr (default: when stderr is a terminal)")
@click.option("--horizon", type=click.FloatRange(0), default=_DEFAULTS.horizon, show_default=True,
              help="Seconds to wait for later-logged sessions that overlapped a refusal")
@click.option("--window", type=click.FloatRange(0), default=_DEFAULTS.window, show_default=True,
              help="A refused client counts as singled out when others were served within this many seconds")
@label_options
@engine_options
def report(logs, fmt, output, plot, why_server, problems_only, progress, horizon, window, prompt_s, long_wait,
           server_first_ports, short_reply_max, engine, scheduler):
    """Diagnose each server: IP allow-list, connection limit, crash, closed or filtered port.

    Reads conn.log files or directories (and the project's slam.log when present),
    labels every TCP connection, groups the door events by server (IP:PORT) and
    names the likely cause with its evidence, worst server first.

    \b
    Examples:
      zeekslam report tests/data/lab/mixed_dev/json/conn.log
      zeekslam report /var/log/zeek/current --format json -o report.json --plot servers.png
      zeekslam report conn.log --why 127.0.0.1:2191
    """
    options = make_options(prompt_s, long_wait, server_first_ports, short_reply_max)
    diagnoser = ServerDiagnoser(horizon=horizon, window=window, plot_data=bool(plot))
    try:
        if engine == "dask":
            chunks = dask_engine().label_logs_dask(list(logs), options, scheduler=scheduler)  # frames
        else:
            inputs = find_inputs(list(logs))
            # uid only to join slam.log: one new Python string per row otherwise
            columns = [c for c in LABEL_COLUMNS if c != "uid" or inputs.slam]
            # reading, labeling and what the diagnoser reads of each chunk, all in one thread: the
            # fold here is Python-driven numpy, and every further thread with Python work only
            # takes turns with it at the GIL (measured: slower, +40 MB).  Four chunks ahead, about
            # one fold batch: the fold takes rows in bursts, and the reader keeps going meanwhile
            # (measured at 2M rows: 0.3 s less than two ahead, the same memory).
            labeled = label_chunks(inputs, options, columns=columns, deferred=(), threads=False)
            chunks = ahead(server_rows(labeled), depth=4)
        show = sys.stderr.isatty() if progress is None else progress
        for chunk in chunks:
            diagnoser.add(chunk)
            if show:
                click.echo(f"\rzeekslam: {diagnoser.rows:,} rows read", err=True, nl=False)
        if show:
            click.echo(f"\rzeekslam: {diagnoser.rows:,} rows read; diagnosing ...", err=True)
        _give_back_freed_memory()
        # The verdicts are ~10^5 small acyclic objects that live to the end of the command: made
        # with the cyclic GC off and then frozen, no collection walks them (at 2M rows ~0.05 s
        # less); given back when the command ends (a caller may run it in-process, as tests do).
        gc.disable()
        try:
            # the text report alone needs no full verdict of a healthy server or a host:* entry
            diagnoses = diagnoser.finish(text_only=fmt != "json" and not why_server and not plot)
        finally:
            gc.freeze()
            gc.enable()
            click.get_current_context().call_on_close(gc.unfreeze)
        skipped, rows = diagnoser.skipped, diagnoser.rows
        # the per-server state is done with: freed before the plot (matplotlib, ~50 MB) and the
        # output, so they do not stack on it (measured at 2M rows with --plot: peak 369 -> 295 MB)
        del diagnoser
        _give_back_freed_memory()
        target = find(diagnoses, why_server) if why_server else None
        if plot:
            render_plot([target] if target else diagnoses, plot)
    except (ZeekslamError, DiagnoseError, ReportError) as e:
        raise click.ClickException(sanitize(str(e))) from None
    if fmt == "json":
        pieces = iter_json([target] if target else diagnoses, skipped=skipped, rows=rows)
    elif target is not None:
        pieces = [render_why(target)]
    else:
        pieces = iter_text(diagnoses, include_healthy=not problems_only, skipped=skipped)
    try:
        for piece in pieces:
            output.write(piece)
        output.flush()
    except BrokenPipeError:
        # `zeekslam report big.log | head`: the reader has what it wanted; that is not an error
        # (as for label). Nothing more can reach the pipe: stdout goes nowhere from here on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    quick_exit.keep(diagnoses)  # ~10^5 objects: not freed one by one when the process ends at once
    if plot:
        click.echo(f"zeekslam: plot written to {sanitize(plot)}", err=True)
