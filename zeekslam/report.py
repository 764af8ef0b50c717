"""Render per-server diagnoses: terminal text, one JSON document, a PNG timeline.

Everything that came from a log (addresses, reply texts) is attacker controlled:
an FTP banner is whatever the server says.  Text output passes every such string
through :func:`sanitize`, which spells control characters, bidi/format characters
and invalid bytes as ``\\xNN``/``\\uNNNN``, so a report cannot move the cursor,
recolour the terminal or reorder what a person reads.  JSON is written with
``ensure_ascii`` (every non-ASCII character escaped).  The plot disables
matplotlib's ``$...$`` math parsing of log text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence

from .diagnose import (
    CATEGORY_NAMES,
    LABELS,
    SUPPORTED,
    UNDECIDED,
    Hypothesis,
    ServerDiagnosis,
    format_time,
    format_times,
    why,
)

# C0/C1 controls, DEL, lone surrogates (undecodable bytes), and format characters that
# reorder or hide text (bidi overrides, zero-width, line/paragraph separators, BOM).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


class ReportError(Exception):
    """A report cannot be produced (e.g. the plot cannot be written)."""


def _escape(m: re.Match) -> str:
    ch = m.group(0)
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not valid UTF-8, kept by the reader
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def sanitize(text: object) -> str:
    """Log-derived text made safe for a terminal: control/format characters escaped."""
    text = str(text)
    if text.isprintable():  # the usual case: every character _UNSAFE names is unprintable (tested)
        return text
    return _UNSAFE.sub(_escape, text)


_VOCABULARY = frozenset(LABELS)  # label names: our own words, safe as they are


def _hist(h: dict) -> str:
    if not h:
        return "-"
    return " ".join(f"{k}:{v}" for k, v in sorted(h.items(), key=lambda kv: int(kv[0])))


# --------------------------------------------------------------------------------------
# Text


def render_text(diagnoses: Sequence[ServerDiagnosis], **kw) -> str:
    """The report a person reads in a terminal, worst server first (see :func:`iter_text`)."""
    return "".join(iter_text(diagnoses, **kw))


def iter_text(
    diagnoses: Sequence[ServerDiagnosis],
    *,
    details: bool = True,
    include_healthy: bool = True,
    skipped: int | None = None,
    max_clients: int = 6,
) -> Iterator[str]:
    """The text report, worst server first, in pieces of a few hundred lines (each ends with a newline)."""
    shown = [d for d in diagnoses if include_healthy or d.verdict != "healthy"]
    problems = sum(1 for d in diagnoses if d.verdict != "healthy")
    head = f"zeekslam report: {len(diagnoses)} server(s), {problems} with door events"
    if skipped:
        head += f"; {skipped} row(s) not about a server's door (non-TCP, unlabeled, malformed, ftp-data)"
    lines = [head]
    # every entry's time span, formatted in one pass
    spans = format_times([d.first_ts for d in shown] + [d.last_ts for d in shown]) if details else []
    if not diagnoses:
        lines.append("no TCP connections to diagnose")
    for i, d in enumerate(shown, 1):
        if len(lines) >= 512:  # a few hundred entries a piece, not one write per server
            yield "\n".join(lines) + "\n"
            lines = []
        # an entry's first lines as one item: tens of thousands of entries, few of them long
        head = f"\n{i}. {sanitize(d.server)}  {d.verdict}  (confidence {d.confidence})\n   {sanitize(d.summary)}"
        if not details:
            lines.append(head)
            continue
        counts = d.label_counts
        if counts.keys() <= _VOCABULARY:
            labels = ", ".join([f"{k} {v}" for k, v in counts.items()])
        else:  # not from this diagnoser: spelt safe
            labels = ", ".join([f"{sanitize(k)} {v}" for k, v in counts.items()])
        lines.append(f"{head}\n   connections {d.connections}: {labels}\n"
                     f"   time: {spans[i - 1]} .. {spans[len(shown) + i - 1]}")
        if d.door_events or d.concurrency_refused:
            lines.append(
                f"   concurrency at accept (sessions:count): refusals {_hist(d.concurrency_refused)}"
                f" | successes {_hist(d.concurrency_served)}   [{d.concurrency_source}]"
            )
        if d.client_limit or d.verdict == "per_client_limit":
            lines.append(
                f"   same-client concurrency: refusals {_hist(d.client_concurrency_refused)}"
                f" | successes {_hist(d.client_concurrency_served)}"
            )
        for w in d.crash_windows:
            rec = f", served again {format_time(w.recovered_at)}" if w.recovered_at is not None else ", not recovered"
            lines.append(
                f"   crash window {format_time(w.start)} .. {format_time(w.end)}: {w.events} failed from "
                f"{w.clients} client(s) ({', '.join(f'{k} {v}' for k, v in w.kinds.items())}){rec}"
            )
        if d.door_events:
            if d.clients:
                turned = [c for c in d.clients if c.refused + c.rejected + c.no_answer]
                others = [c for c in d.clients if not (c.refused + c.rejected + c.no_answer)]
                parts = [
                    f"{sanitize(c.client)} served {c.served}/{c.attempts}"
                    + (f", refused {c.refused}" if c.refused else "")
                    + (f", rejected {c.rejected}" if c.rejected else "")
                    + (f", unanswered {c.no_answer}" if c.no_answer else "")
                    for c in (turned + others)[:max_clients]
                ]
                more = len(d.clients) - max_clients
                if parts:
                    lines.append("   clients: " + "; ".join(parts) + (f"; {more} more" if more > 0 else ""))
            if d.replies:
                reps = "; ".join(f'"{sanitize(t)}" x{n}' for t, n in list(d.replies.items())[:4])
                lines.append(f"   replies: {reps}")
            else:
                lines.append("   replies: none known (the project's Zeek script records the server's first reply)")
        for note in d.notes:
            lines.append(f"   note: {sanitize(note)}")
    hidden = len(diagnoses) - len(shown)
    if hidden:
        lines.append("")
        lines.append(f"{hidden} healthy server(s) not shown")
    yield "\n".join(lines) + "\n"


def render_why(d: ServerDiagnosis, hypotheses: Iterable[Hypothesis] | None = None) -> str:
    """The seed's reasoning on one server, hypothesis by hypothesis."""
    hyps = list(hypotheses) if hypotheses is not None else why(d)
    lines = [
        f"why: {sanitize(d.server)} — {d.verdict} (confidence {d.confidence})",
        f"  {sanitize(d.summary)}",
    ]
    mark = {SUPPORTED: "+", UNDECIDED: "?"}
    for i, h in enumerate(hyps, 1):
        lines.append("")
        lines.append(f"  {i}. [{mark.get(h.status, '-')}] {h.title}: {h.status.upper()}")
        lines.append(f"     evidence: {sanitize(h.evidence)}")
        if h.settle and h.settle != "nothing more needed":
            lines.append(f"     to settle: {sanitize(h.settle)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# JSON


def _server_doc(d: ServerDiagnosis, with_why: bool, plot_data: bool) -> dict:
    item = d.to_dict(plot_data=plot_data)
    if with_why:
        item["why"] = [h.__dict__.copy() for h in why(d)]
    return item


def iter_json(
    diagnoses: Iterable[ServerDiagnosis],
    *,
    skipped: int | None = None,
    rows: int | None = None,
    with_why: bool = True,
    plot_data: bool = False,
) -> Iterator[str]:
    """One JSON document (ASCII only, no NaN), written server by server so memory stays flat."""
    diagnoses = list(diagnoses)
    head = {
        "generator": "zeekslam report",
        "rows": rows,
        "skipped": skipped,
        "servers_total": len(diagnoses),
        "servers_with_door_events": sum(1 for d in diagnoses if d.verdict != "healthy"),
    }
    yield json.dumps(head, ensure_ascii=True)[:-1] + ', "servers": ['
    for i, d in enumerate(diagnoses):
        item = json.dumps(_server_doc(d, with_why, plot_data), ensure_ascii=True, allow_nan=False)
        yield ("," if i else "") + "\n" + item
    yield "\n]}\n"


def report_document(diagnoses: Sequence[ServerDiagnosis], **kw) -> dict:
    """The whole report as one JSON-ready dict (see :func:`iter_json` for the keywords)."""
    return json.loads("".join(iter_json(diagnoses, **kw)))


def render_json(diagnoses: Sequence[ServerDiagnosis], **kw) -> str:
    """One JSON document with every server's diagnosis."""
    return "".join(iter_json(diagnoses, **kw))


# --------------------------------------------------------------------------------------
# Plot

_STYLE = {
    "served": ("o", "#2e7d32", "served"),
    "refused": ("x", "#c62828", "accepted then refused (FIN)"),
    "reset": ("^", "#ef6c00", "accepted then reset"),
    "rejected": ("v", "#6a1b9a", "SYN rejected (RST)"),
    "no_answer": ("1", "#455a64", "SYN unanswered"),
    "silent": ("s", "#8d6e63", "never greeted"),
    "middlebox": ("D", "#00838f", "middlebox reset"),
    "reply_only": ("+", "#ad1457", "hung up after first reply"),
}


def _plain(text: object) -> str:
    return sanitize(text).replace("$", r"\$")


def render_plot(
    diagnoses: Sequence[ServerDiagnosis],
    path: str,
    *,
    max_servers: int = 8,
    include_healthy: bool = False,
) -> str:
    """Write a PNG: per server, concurrency at accept over time (a limit is a ceiling)
    above the served/turned-away counts per time bin.  Returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chosen = [d for d in diagnoses if include_healthy or d.verdict != "healthy"][:max_servers]
    if not chosen:
        chosen = list(diagnoses[:max_servers])
    rows = max(1, len(chosen))
    fig = Figure(figsize=(11, 4.2 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    if not chosen:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no TCP connections to diagnose", ha="center", va="center")
        ax.set_axis_off()
    sub = fig.subfigures(rows, 1, squeeze=False)[:, 0] if chosen else []
    for sf, d in zip(sub, chosen, strict=False):
        _plot_server(sf, d)
    try:
        fig.savefig(path, format="png", dpi=90)
    except OSError as e:
        raise ReportError(f"{path}: cannot write the plot: {e.strerror or e}") from None
    return path


def _plot_server(sf, d: ServerDiagnosis) -> None:
    t0 = d.first_ts if math.isfinite(d.first_ts) else 0.0
    ax, bx = sf.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    sf.suptitle(
        _plain(f"{d.server} — {d.verdict} ({d.confidence})"), fontsize=11, fontweight="bold", usetex=False
    )
    s = d.samples or {}
    ts, conc = list(s.get("t", [])), [float(c) for c in s.get("concurrency", [])]
    cats = [c if isinstance(c, str) else CATEGORY_NAMES[int(c)] for c in s.get("category", [])]
    for cat, (marker, color, label) in _STYLE.items():
        xs = [t - t0 for t, c in zip(ts, cats, strict=False) if c == cat]
        ys = [y if y is not None and math.isfinite(y) else -0.5 for y, c in zip(conc, cats, strict=False) if c == cat]
        if xs:
            ax.scatter(xs, ys, marker=marker, color=color, s=28, label=f"{label} ({len(xs)} shown)", alpha=0.8)
    lim = d.limit or d.client_limit
    if lim is not None:
        ax.axhline(lim.k - 0.5, color="#c62828", linestyle="--", linewidth=1)
        scope = "established sessions" if lim is d.limit else "sessions from the same client"
        ax.text(0.0, lim.k - 0.45, f" limit: refusals at >= {lim.k} {scope}", color="#c62828", fontsize=8,
                transform=ax.get_yaxis_transform(), va="bottom")
    for w in d.crash_windows:
        for a in (ax, bx):
            a.axvspan(w.start - t0, w.end - t0, color="#ffcdd2", alpha=0.5, zorder=0)
        ax.text(w.start - t0, 1.0, " crash window", color="#b71c1c", fontsize=8,
                transform=ax.get_xaxis_transform(), va="top")
    ax.set_ylabel("sessions open at accept")
    top = max([c for c in conc if c is not None and math.isfinite(c)] + [lim.k if lim else 0, 1])
    ax.set_ylim(-1, top + 1.8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7, ncols=2)

    tl = d.timeline or {}
    width = float(tl.get("width") or 1.0)
    ok, bad = list(tl.get("served", [])), list(tl.get("turned_away", []))
    if ok:
        x = [tl["start"] - t0 + i * width for i in range(len(ok))]
        bx.bar(x, ok, width=width, align="edge", color="#81c784", label="served")
        bx.bar(x, bad, width=width, align="edge", bottom=ok, color="#e57373", label="turned away")
        bx.legend(loc="upper right", fontsize=7)
    bx.set_ylabel(f"per {width:g} s")
    bx.set_xlabel(_plain(f"seconds since {format_time(t0)}"))
    bx.grid(True, alpha=0.3)


__all__ = [
    "ReportError",
    "render_json",
    "render_plot",
    "render_text",
    "render_why",
    "report_document",
    "sanitize",
]
