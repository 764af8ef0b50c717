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
