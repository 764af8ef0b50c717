"""Decode a Zeek ``history`` string into facts, in order.

Zeek records one letter per notable packet: upper case for the originator,
lower case for the responder (see ``history`` in Zeek's
``base/protocols/conn/main.zeek``).  Order matters: the first ``F/f/R/r/I/i``
tells who closed first and how, and the letters before it say whether any
payload was seen before the close.  Decoding is pure and cached: a sensor has
a few hundred distinct history strings among millions of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

#: What each letter means, lower-cased (direction comes from the case).
LETTER_MEANING = {
    "s": "SYN without ACK",
    "h": "SYN+ACK (handshake reply)",
    "a": "pure ACK",
    "d": "payload (data)",
    "f": "FIN",
    "r": "RST",
    "c": "packet with a bad checksum",
    "g": "content gap (missed bytes)",
    "t": "retransmitted payload",
    "w": "zero window advertisement",
    "i": "inconsistent packet (e.g. FIN+RST)",
    "q": "multi-flag packet (SYN+FIN or SYN+RST)",
    "x": "analysis partial (a Zeek limit was exceeded)",
}
#: Letters Zeek repeats logarithmically: the 2nd means >= 10, the 3rd >= 100 ...
LOG_SCALE_LETTERS = frozenset("cgtw")
CLOSE_LETTERS = {"f": "FIN", "r": "RST", "i": "RST"}


class HistoryError(ValueError):
    """A history string that is not made of Zeek's history letters."""


@dataclass(frozen=True)
class Step:
    """One letter of a history string, explained."""

    letter: str
    sender: str  # "orig" or "resp", or "" for '^'
    meaning: str
    note: str = ""


@dataclass(frozen=True)
class HistoryFacts:
    """What a history string says, independent of any other field."""

    history: str
    flipped: bool = False
    syn: bool = False  # originator SYN seen
    synack: bool = False  # responder SYN+ACK seen
    handshake: bool = False  # SYN, SYN+ACK and then an originator ACK or payload
    midstream: bool = False  # no originator SYN seen at all
    orig_data: bool = False
    resp_data: bool = False
    orig_data_before_close: bool = False
    resp_data_before_close: bool = False
    closer: str = ""  # who sent the first FIN/RST: "orig", "resp" or ""
    close_kind: str = ""  # "FIN" or "RST"
    orig_rst: bool = False
    resp_rst: bool = False
    gaps: bool = False
    retransmits: bool = False
    partial: bool = False  # 'x'/'X': Zeek stopped analysing part of it
    anomalies: tuple[str, ...] = ()
    steps: tuple[Step, ...] = field(default=(), compare=False)


def _sender(letter: str) -> str:
    return "orig" if letter.isupper() else "resp"


@lru_cache(maxsize=65536)
def decode(history: str | None) -> HistoryFacts:
    """Decode one history string; unknown letters raise :class:`HistoryError`.

    >>> decode("ShAfFa").closer, decode("ShAfFa").close_kind
    ('resp', 'FIN')
    """
    text = history or ""
    flipped = text.startswith("^")
    body = text[1:] if flipped else text
    steps: list[Step] = []
    if flipped:
        steps.append(Step("^", "", "Zeek flipped the direction",
                          "the first packet seen was not the originator's SYN, so "
                          "Zeek guessed who the originator was"))
    seen: dict[str, int] = {}
    syn = synack = handshake = False
    orig_data = resp_data = False
    closer = close_kind = ""
    orig_data_before = resp_data_before = False
    orig_rst = resp_rst = gaps = retrans = partial = False
    anomalies: list[str] = []
    for letter in body:
        low = letter.lower()
        if low not in LETTER_MEANING:
            raise HistoryError(f"{letter!r} is not a Zeek history letter (in {text!r})")
        who = _sender(letter)
        seen[letter] = seen.get(letter, 0) + 1
        count = seen[letter]
        note = ""
        if low in LOG_SCALE_LETTERS and count > 1:
            note = f"seen at least {10 ** (count - 1)} times"
        elif low in "fhrs" and count > 1:
            note = "again, with a new sequence number"
        if letter == "S":
            syn = True
        elif letter == "h":
            synack = True
            if not syn:
                note = note or "no originator SYN was seen before it"
        elif letter in "AD" and syn and synack and not handshake:
            handshake = True
            note = (note + "; " if note else "") + "handshake complete"
        if low == "d":
            if who == "orig":
                orig_data = True
                orig_data_before = orig_data_before or not closer
            else:
                resp_data = True
                resp_data_before = resp_data_before or not closer
        if low in CLOSE_LETTERS:
            if low != "f":
                if who == "orig":
                    orig_rst = True
                else:
                    resp_rst = True
            if not closer:
                closer, close_kind = who, CLOSE_LETTERS[low]
                note = (note + "; " if note else "") + f"first close: {who} {close_kind}"
            elif who != closer or low != "f":
                note = note or "after the first close"
        if low == "g":
            gaps = True
        if low == "t":
            retrans = True
        if low == "x":
            partial = True
        if low in "cq" or (low == "i"):
            anomalies.append(LETTER_MEANING[low])
        steps.append(Step(letter, who, LETTER_MEANING[low], note))
    midstream = not syn
    return HistoryFacts(
        history=text,
        flipped=flipped,
        syn=syn,
        synack=synack,
        handshake=handshake,
        midstream=midstream,
        orig_data=orig_data,
        resp_data=resp_data,
        orig_data_before_close=orig_data_before,
        resp_data_before_close=resp_data_before,
        closer=closer,
        close_kind=close_kind,
        orig_rst=orig_rst,
        resp_rst=resp_rst,
        gaps=gaps,
        retransmits=retrans,
        partial=partial,
        anomalies=tuple(anomalies),
        steps=tuple(steps),
    )


def describe(facts: HistoryFacts) -> list[str]:
    """The steps of a decoded history as plain sentences, one per letter."""
    who_name = {"orig": "client (originator)", "resp": "server (responder)", "": ""}
    lines = []
    for i, step in enumerate(facts.steps, 1):
        subject = who_name[step.sender]
        text = f"{step.letter}  {subject} sent {step.meaning}" if subject else f"{step.letter}  {step.meaning}"
        if step.note:
            text += f" — {step.note}"
        lines.append(f"{i:>2}. {text}")
    return lines
