"""Options shared by the commands that label: one definition, one help text."""

from __future__ import annotations

import click

from .label import LabelOptions


def label_options(fn):
    """Thresholds shared by every command that labels."""
    defaults = LabelOptions()
    fn = click.option("--short-reply-max", type=click.IntRange(0), default=defaults.short_reply_max,
                      show_default=True,
                      help="A server-only message larger than this many bytes is a transfer, not a refusal.")(fn)
    fn = click.option("--server-first-ports", default=",".join(map(str, sorted(defaults.server_first_ports))),
                      show_default=True, metavar="PORTS",
                      help="Comma-separated ports whose protocol has the server speak first.")(fn)
    fn = click.option("--long-wait", type=click.FloatRange(0), default=defaults.long_wait, show_default=True,
                      metavar="SECONDS", help="A silence this long before a close is a long wait "
                      "(idle timeout, silent server).")(fn)
    fn = click.option("--prompt", "prompt_s", type=click.FloatRange(0), default=defaults.prompt,
                      show_default=True, metavar="SECONDS",
                      help="A close this soon after the handshake is prompt (a slammed door).")(fn)
    return fn


def make_options(prompt_s: float, long_wait: float, server_first_ports: str, short_reply_max: int) -> LabelOptions:
    try:
        ports = frozenset(int(p) for p in server_first_ports.split(",") if p.strip())
    except ValueError:
        raise click.BadParameter(f"{server_first_ports!r} is not a comma-separated list of ports",
                                 param_hint="--server-first-ports") from None
    if long_wait < prompt_s:
        raise click.BadParameter(f"--long-wait ({long_wait}) must not be shorter than --prompt ({prompt_s})")
    return LabelOptions(prompt=prompt_s, long_wait=long_wait, server_first_ports=ports,
                        short_reply_max=short_reply_max)


def engine_options(fn):
    """``--engine`` and ``--scheduler``: pandas on one core, or Dask for archives."""
    fn = click.option("--scheduler", metavar="ADDRESS", default=None,
                      help="With --engine dask: 'threads', 'processes', or a Dask distributed scheduler "
                           "address such as tcp://10.0.0.1:8786 (default: an active Client, else threads).")(fn)
    return click.option("--engine", type=click.Choice(["pandas", "dask"]), default="pandas", show_default=True,
                        help="pandas streams the logs on one core; dask splits large archives into blocks "
                             "labeled in parallel, with the same labels (needs zeekslam[dask]).")(fn)


def dask_engine():
    """The Dask engine module, or a clear error when Dask is not installed."""
    try:
        from . import dask_engine as engine
    except ImportError as e:
        raise click.ClickException(f"--engine dask needs Dask: pip install 'zeekslam[dask]' ({e})") from None
    return engine
