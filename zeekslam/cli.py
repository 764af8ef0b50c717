"""The ``zeekslam`` command line: thin wrappers over the library."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator

import click

from . import allocator, quick_exit
from .ahead import ahead, stop_all
from .cli_options import dask_engine, engine_options, label_options, make_options
from .history import HistoryError, decode, describe
from .label import LabeledChunk, Pattern, decide, label_chunks, service_class
from .read import (
    CHUNK_ROWS,
    FRAME_CHUNK_ROWS,
    JSON_CHUNK_ROWS,
    LABEL_COLUMNS,
    MalformedLine,
    ZeekslamError,
    find_inputs,
)
from .write import FORMATS, made_ahead, safe_text, write

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Commands(click.Group):
    """The command group; ``report`` (and pandas, which it needs) is imported only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "report"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "report":
            from .cli_report import report

            return report
        return super().get_command(ctx, cmd_name)


def _arrow_pool_that_gives_back() -> None:
    """Arrow's jemalloc pool for ``label``, unless ARROW_DEFAULT_MEMORY_POOL says otherwise.

    Each chunk's output is built in Arrow buffers and freed a moment later; the default
    mimalloc pool keeps those pages, jemalloc returns them.  Measured at 2M rows: peak RSS
    ~220 -> ~180 MB (Zeek TSV out) and ~290-310 -> ~240 MB (JSON out), the same speed.
    Builds without jemalloc (Windows) keep the default.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    import contextlib

    import pyarrow as pa

    with contextlib.suppress(NotImplementedError):  # ArrowNotImplementedError: built without it
        pa.set_memory_pool(pa.jemalloc_memory_pool())


@click.group(cls=_Commands, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="zeekslam")
def cli() -> None:
    """Label TCP connections in Zeek logs: who slammed the door, and why.

    A server "slams the door" when it completes the TCP handshake and then
    closes before anything useful is said.  zeekslam reads Zeek's conn.log
    (and the project's own slam.log when present) and labels every TCP
    connection: application refusal, TCP-stack reset, network drop, and the
    rest.

    \b
    Start with:
      zeekslam label examples/mixed_dev/conn.log | zeek-cut id.orig_h id.resp_p slam.label
      zeekslam explain ShAfFa --state SF
    """


class Tally:
    """Counts rows as they stream past, for the closing summary on stderr."""

    def __init__(self, progress: bool):
        self.rows = self.malformed = 0
        self.labels: dict[str, int] = {}
        self.progress = progress
        self.notes: list[str] = []

    def watch(self, chunks: Iterable[LabeledChunk]) -> Iterator[LabeledChunk]:
        for labeled in chunks:
            self.rows += len(labeled.chunk)
            self.malformed += len(labeled.chunk.errors)
            note = labeled.chunk.header.note if labeled.chunk.header else ""
            if note and f"{labeled.chunk.source}: {note}" not in self.notes:
                self.notes.append(f"{labeled.chunk.source}: {note}")
            for name, count in labeled.counts().items():
                self.labels[name] = self.labels.get(name, 0) + count
            if self.progress:
                click.echo(f"\rzeekslam: {self.rows:,} rows labeled", err=True, nl=False)
            yield labeled
        if self.progress:
            click.echo("", err=True)


@cli.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-f", "--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto", show_default=True,
              help="Output format: zeek (TSV with the input's header plus slam.* columns), json (one object "
                   "per line, Zeek's flat names), ecs (Elastic Common Schema documents for a SIEM), csv.  "
                   "auto: zeek for TSV input, json for JSON input.")
@click.option("-o", "--output", type=click.File("wb", lazy=True), default="-", help="Write here instead of stdout.")
@click.option("--strict", is_flag=True, help="Stop with exit code 2 at the first malformed line "
              "instead of keeping it as a 'malformed' row.")
@click.option("--progress/--no-progress", default=None,
              help="Show a running row count on stderr (default: when stderr is a terminal).")
@click.option("--chunk-rows", type=click.IntRange(1000), default=None, hidden=True,
              help=f"Rows per chunk (default {CHUNK_ROWS:,}; {FRAME_CHUNK_ROWS:,} for ecs and csv).")
@label_options
@engine_options
def label(logs, fmt, output, strict, progress, chunk_rows, prompt_s, long_wait, server_first_ports,
          short_reply_max, engine, scheduler) -> None:
    """Label every connection of the given Zeek logs.

    LOGS are conn.log files (TSV or JSON, plain or .gz), Zeek log directories,
    or - for stdin.  Give the project's slam.log too (or a directory holding
    it) and its facts (reply text, close timing, concurrency) are joined on
    uid.  Every input row comes out, in order; UDP and ICMP rows pass through
    with an empty label; a line that cannot be read is kept with the label
    'malformed' and a reason naming its file and line.  A summary goes to
    stderr.

    \b
    Examples:
      zeekslam label conn.log > conn.labeled.log
      zeekslam label /var/log/zeek/current --format json | jq 'select(."slam.label"=="slammed")'
      zcat conn.log.gz | zeekslam label - --format csv -o conn.csv
      zeekslam label archive/2026-11-*/ --engine dask --scheduler processes -o all.log
    """
    options = make_options(prompt_s, long_wait, server_first_ports, short_reply_max)
    _arrow_pool_that_gives_back()
    if chunk_rows is None:
        # ECS and CSV documents hold every column: smaller chunks (ECS built in Arrow from 25,000-row
        # chunks peaked at 350 MB on 2M rows, from 10,000-row ones at 243 MB, at the same speed);
        # JSON lines are built two chunks at a time, so from half-size chunks
        chunk_rows = {"ecs": FRAME_CHUNK_ROWS, "csv": FRAME_CHUNK_ROWS, "json": JSON_CHUNK_ROWS}.get(fmt, CHUNK_ROWS)
    show = sys.stderr.isatty() if progress is None else progress
    tally = Tally(show)
    try:
        inputs = find_inputs(logs)
        # Writers take the other columns from the lines as read: parse only what the labels need
        # and ts (a row's identity, always checked); uid only to join slam.log.
        columns = [c for c in LABEL_COLUMNS if c != "uid" or inputs.slam]
        if engine == "dask":
            if "-" in logs:
                raise click.UsageError("--engine dask reads files, not stdin")
            labeled = dask_engine().label_chunks_dask(list(logs), options, scheduler=scheduler, strict=strict,
                                                      columns=columns)
        else:
            labeled = label_chunks(inputs, options, chunk_rows=chunk_rows, strict=strict, columns=columns)
        chunks = tally.watch(labeled)
        first = next(chunks, None)
        if first is None:
            click.echo("zeekslam: no data rows in the input", err=True)
            return
        if fmt == "auto":
            fmt = "json" if first.chunk.fmt == "json" else "zeek"

        def again() -> Iterator[LabeledChunk]:
            yield first
            yield from chunks

        # Formatting runs in threads of its own too (JSON, ECS and CSV text in two: it is the
        # busiest stage by far); this one only writes.
        for piece in ahead(write(made_ahead(again(), fmt), fmt, binary=True)):
            output.write(piece.encode("utf-8", "surrogateescape") if isinstance(piece, str) else piece)
            output.write(b"\n")
        output.flush()
    except BrokenPipeError:
        # `zeekslam label big.log | head`: the reader has what it wanted; that is not an error.
        # Leave at once: the read-ahead threads are stopped, and nothing is left to flush to a
        # closed pipe (letting the interpreter unwind mid-stream can abort inside Arrow's
        # thread pool, apache/arrow#39862).
        stop_all()
        sys.stderr.flush()
        os._exit(0)
    except MalformedLine as e:
        click.echo(f"Error: {safe_text(str(e))}", err=True)
        sys.exit(2)
    except ZeekslamError as e:
        raise click.ClickException(safe_text(str(e))) from None
    for note in tally.notes:
        click.echo(f"zeekslam: note: {safe_text(note)}", err=True)
    if inputs.skipped:
        click.echo(f"zeekslam: skipped {len(inputs.skipped)} other Zeek logs in the directories given", err=True)
    click.echo(f"zeekslam: {tally.rows} rows in, {tally.rows} rows out, {tally.malformed} malformed", err=True)


@cli.command()
@click.argument("history")
@click.option("--state", default="", metavar="CONN_STATE", help="The conn_state Zeek logged (SF, REJ, S0 ...).")
@click.option("--port", type=int, default=None, help="The server port (decides whether the server speaks first).")
@click.option("--orig-bytes", type=int, default=None, help="Payload bytes the originator sent.")
@click.option("--resp-bytes", type=int, default=None, help="Payload bytes the responder sent.")
@click.option("--duration", type=float, default=None, metavar="SECONDS", help="The connection's duration.")
@click.option("--service", default="", help="Zeek's service field (ftp, ftp-data, smtp ...).")
@click.option("--reply", default="", metavar="'CODE TEXT'", help="The server's first reply, e.g. '421 Too many "
              "connections', as the project's Zeek script records it.")
@label_options
def explain(history, state, port, orig_bytes, resp_bytes, duration, service, reply, prompt_s, long_wait,
            server_first_ports, short_reply_max) -> None:
    """Decode one history string step by step, and the label it implies.

    HISTORY is Zeek's conn.log history: one letter per notable packet, upper
    case from the originator (client), lower case from the responder
    (server).  The other options add what conn.log says beside it.

    \b
    Examples:
      zeekslam explain ShAfFa --state SF
      zeekslam explain ShAdfFa --state SF --port 21 --reply '421 Too many connections'
    """
    from . import replies

    options = make_options(prompt_s, long_wait, server_first_ports, short_reply_max)
    try:
        facts = decode(history)
    except HistoryError as e:
        raise click.ClickException(safe_text(str(e))) from None
    click.echo(f"history {safe_text(history)}" + (f", conn_state {safe_text(state)}" if state else ""))
    for line in describe(facts):
        click.echo("  " + safe_text(line))
    if facts.handshake:
        click.echo("  The three-way handshake completed.")
    elif facts.synack:
        click.echo("  The server answered the SYN, but the client never completed the handshake.")
    elif facts.syn:
        click.echo("  The server never answered the SYN with SYN-ACK.")
    if facts.closer:
        who = "client (originator)" if facts.closer == "orig" else "server (responder)"
        click.echo(f"  First close: the {who}, with {facts.close_kind}.")
    code, text = replies.parse_reply(reply) if reply else (None, "")
    meaning = replies.classify(code, text) if code is not None else None
    delay_class = "" if duration is None else (
        "prompt" if duration <= options.prompt else "long" if duration >= options.long_wait else "mid")
    service_kind = service_class(service)
    pattern = Pattern(
        proto="tcp", history=history, state=state, service=service_kind,
        server_first=(port in options.server_first_ports) or service_kind == "server_first",
        orig_payload=bool(orig_bytes) or facts.orig_data,
        resp_size=0 if not (resp_bytes or facts.resp_data) else (
            2 if (resp_bytes or 0) > options.short_reply_max else 1),
        timing=delay_class, gaps=facts.gaps, reply_kind=meaning.kind if meaning else "",
        refusal_kind=meaning.refusal_kind if meaning else "", ttl="", slam_closer="", slam_close_kind="",
    )
    verdict = decide(pattern)
    fill = {"server": "the server", "client": "the client", "delay": "some time" if duration is None
            else f"{duration:g} s", "resp_bytes": str(resp_bytes) if resp_bytes is not None else "some",
            "orig_bytes": str(orig_bytes) if orig_bytes is not None else "some", "reply": reply or "no reply text"}
    click.echo(f"label: {verdict.label}  (layer {verdict.layer}, confidence {verdict.confidence}"
               + (f", refusal kind {verdict.refusal_kind}" if verdict.refusal_kind else "") + ")")
    click.echo("why: " + safe_text(verdict.reason.format(**fill)))



def run() -> None:
    """The ``zeekslam`` program (its console script and ``python -m zeekslam``): :func:`main`,
    with the allocator keeping freed memory for reuse (see :mod:`.allocator`), then the process
    ends at once when nothing needs a clean exit (see :mod:`.quick_exit`)."""
    allocator.keep_freed_memory()
    quick_exit.begin()
    try:
        main()
    except SystemExit as e:  # how click ends every command
        quick_exit.end(e.code)


def main() -> None:
    """The command line, for a caller of its own: ends in ``SystemExit`` as click does."""
    try:
        cli(prog_name="zeekslam")
    except BrokenPipeError:
        # `zeekslam label big.log | head`: the reader left; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except OSError as e:
        click.echo(f"Error: cannot write the output: {e.strerror or e}", err=True)
        # Mid-stream: stop the pipeline threads and leave at once, as on a broken pipe.
        stop_all()
        sys.stderr.flush()
        os._exit(1)
