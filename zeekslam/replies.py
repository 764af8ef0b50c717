"""What a server's first (or last) reply line means: welcome, refusal or timeout.

The texts are the ones real servers send when they refuse a client right after
the handshake.  Matching is by reply code first, then by words in the text, so
an unknown server's ``421 Go away`` is still a refusal (kind ``unavailable``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

WELCOME = "welcome"
REFUSAL = "refusal"
TIMEOUT = "timeout"
OTHER = "other"

#: Refusal kinds, from the reply text.
CONN_LIMIT = "conn_limit"
PER_IP_LIMIT = "per_ip_limit"
ACCESS_DENIED = "access_denied"
UNAVAILABLE = "unavailable"

# Order matters: per-IP wording also says "too many", so it is tested first.
_PER_IP = re.compile(
    r"(from|per) (this|your|the same|one|each|a single)? ?(ip|host|address|client)"
    r"|same ip|per[- ]ip|from your (internet )?address|clients? \(\d+\) from your host"
    r"|from \[?(\d{1,3}\.){3}\d{1,3}|from \[?[0-9a-f]{0,4}:[0-9a-f:]+",  # "... from 192.0.2.7"
    re.I,
)
_LIMIT = re.compile(
    r"too many|maximum|max(imum)? (number of )?(clients|users|connections)|limit"
    r"|are already (connected|logged in)|no more (connections|users)|capacity|licen[cs]e",
    re.I,
)
_DENIED = re.compile(
    r"denied|not allowed|forbidden|refused|banned|blocked|blacklist|block ?list"
    r"|permission|not authori[sz]ed|rejected|no connections allowed|prohibited|policy",
    re.I,
)
# A ban outranks the "too many" it often mentions ("banned for too many failed logins").
_BANNED = re.compile(r"\bbann(ed|ing)\b|\bblock(ed|listed)\b|blacklist", re.I)
_TIMEOUT = re.compile(r"time ?out|timed out|idle|inactivity", re.I)


@dataclass(frozen=True)
class ReplyMeaning:
    """The meaning of one reply line."""

    kind: str  # welcome, refusal, timeout, other
    refusal_kind: str = ""  # conn_limit, per_ip_limit, access_denied, unavailable


@lru_cache(maxsize=4096)
def classify(code: int | None, text: str | None) -> ReplyMeaning:
    """Classify an FTP or SMTP reply by its code and text.

    >>> classify(421, "There are too many connected users, please try later.")
    ReplyMeaning(kind='refusal', refusal_kind='conn_limit')
    >>> classify(220, "(vsFTPd 3.0.3)").kind
    'welcome'
    """
    msg = text or ""
    if code is None:
        return ReplyMeaning(OTHER)
    if code in (220, 120) and not _LIMIT.search(msg) and not _DENIED.search(msg):
        # 120 is "ready in n minutes": not yet a refusal of this client.
        return ReplyMeaning(WELCOME if code == 220 else OTHER)
    if 200 <= code < 400:
        return ReplyMeaning(OTHER)
    if code == 421 and _TIMEOUT.search(msg) and not _LIMIT.search(msg):
        return ReplyMeaning(TIMEOUT)
    if code >= 400 or code == 220:
        return ReplyMeaning(REFUSAL, refusal_kind(msg, code))
    return ReplyMeaning(OTHER)


def refusal_kind(text: str, code: int | None = None) -> str:
    """The kind of refusal a reply text describes."""
    if _BANNED.search(text):
        return ACCESS_DENIED
    if _LIMIT.search(text):
        return PER_IP_LIMIT if _PER_IP.search(text) else CONN_LIMIT
    if _DENIED.search(text):
        return ACCESS_DENIED
    if code in (530, 550, 553, 554, 521):
        # Permanent refusals of this client, with a text that gives no reason.
        return ACCESS_DENIED
    return UNAVAILABLE


def parse_reply(value: object) -> tuple[int | None, str]:
    """Split ``"421 Too many connections"`` into (421, "Too many connections")."""
    if value is None:
        return None, ""
    text = str(value).strip()
    head, _, rest = text.partition(" ")
    if head[:3].isascii() and head[:3].isdigit():  # "٣٢١" is not a reply code
        return int(head[:3]), rest.strip() if len(head) <= 4 else text[4:].strip()
    return None, text
