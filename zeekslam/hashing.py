"""64-bit hashes of address texts, in numpy (the ``report`` lane never imports pandas).

The algorithm is pandas' ``hash_array(texts, categorize=False)``: SipHash-2-4 of the UTF-8
bytes, then a 64-bit mix.  The key is random, drawn once per process: addresses are
attacker controlled, and under a known key (pandas' is public) two crafted addresses could
be made to hash alike and count as one client.  With ``key=PANDAS_KEY`` the values are
pandas' own (the tests compare them).  Two differences, both on hostile text: lone
surrogates (undecodable bytes kept by the reader) are encoded with ``surrogatepass``, and
texts longer than ``_MAX_SIP`` bytes are hashed with keyed BLAKE2b instead.  A hash only
names a client within one run; no client's hash is ever shown, and no output depends on
its value.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np

PANDAS_KEY = b"0123456789123456"  # pandas' hash_key
_KEY = secrets.token_bytes(16)  # this process's
_MAX_SIP = 256  # bytes: longer texts (never an address) are hashed one by one
_U = np.uint64


def _rotl(x: np.ndarray, b: int) -> np.ndarray:
    return (x << _U(b)) | (x >> _U(64 - b))


def _sipround(v0, v1, v2, v3):
    v0 += v1
    v1 = _rotl(v1, 13)
    v1 ^= v0
    v0 = _rotl(v0, 32)
    v2 += v3
    v3 = _rotl(v3, 16)
    v3 ^= v2
    v0 += v3
    v3 = _rotl(v3, 21)
    v3 ^= v0
    v2 += v1
    v1 = _rotl(v1, 17)
    v1 ^= v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def _siphash24(words: np.ndarray, lengths: np.ndarray, key: bytes) -> np.ndarray:
    """SipHash-2-4 of byte strings given as little-endian words, zero-padded (one row each)."""
    n = len(lengths)
    k0, k1 = np.frombuffer(key, dtype="<u8").astype(_U)
    v0 = np.full(n, 0x736F6D6570736575, _U) ^ k0
    v1 = np.full(n, 0x646F72616E646F6D, _U) ^ k1
    v2 = np.full(n, 0x6C7967656E657261, _U) ^ k0
    v3 = np.full(n, 0x7465646279746573, _U) ^ k1
    full = lengths // 8  # whole words; the rest (0-7 bytes) go in the last block
    for j in range(int(full.max()) if n else 0):
        on = np.flatnonzero(full > j)  # the texts that still have a whole word here
        m = words[on, j]
        a, b, c, d = v0[on], v1[on], v2[on], v3[on] ^ m
        for _ in range(2):
            a, b, c, d = _sipround(a, b, c, d)
        v0[on], v1[on], v2[on], v3[on] = a ^ m, b, c, d
    last = (lengths.astype(_U) << _U(56)) | words[np.arange(n), full]  # the tail word is zero-padded
    v3 ^= last
    for _ in range(2):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= _U(0xFF)
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def _mix(h: np.ndarray) -> np.ndarray:
    """pandas' redistribution of the hash bits (splitmix64's finalizer)."""
    h = h ^ (h >> _U(30))
    h = h * _U(0xBF58476D1CE4E5B9)
    h = h ^ (h >> _U(27))
    h = h * _U(0x94D049BB133111EB)
    return h ^ (h >> _U(31))


def hash_texts(texts: np.ndarray, key: bytes | None = None) -> np.ndarray:
    """int64 hash per text of an object array of str (or bytes), under ``key`` (16 bytes; by
    default this process's random one)."""
    data = [t if isinstance(t, bytes) else str(t).encode("utf-8", "surrogatepass") for t in texts.tolist()]
    ends = np.zeros(len(data) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, data), np.int64, len(data)), out=ends[1:])
    return hash_utf8(ends, np.frombuffer(b"".join(data), np.uint8), key)


def hash_utf8(ends: np.ndarray, data: np.ndarray, key: bytes | None = None) -> np.ndarray:
    """:func:`hash_texts` of texts given as their bytes end to end: text ``i`` is
    ``data[ends[i]:ends[i + 1]]`` (Arrow's layout of a string array: no Python string per text)."""
    key = _KEY if key is None else key
    ends = ends.astype(np.int64)
    lengths = np.diff(ends)
    out = np.empty(len(lengths), _U)
    short = lengths <= _MAX_SIP
    if short.any():
        rows = np.flatnonzero(short)
        size = lengths[rows]
        width = (int(size.max()) // 8 + 1) * 8  # room for the tail word, even when empty
        packed = np.zeros((len(rows), width), np.uint8)  # zero-padded
        at = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)  # byte j of its text
        packed[np.repeat(np.arange(len(rows)), size), at] = data[np.repeat(ends[rows], size) + at]
        words = packed.view("<u8").astype(_U)
        with np.errstate(over="ignore"):
            out[rows] = _mix(_siphash24(words, size, key))
    for i in np.flatnonzero(~short).tolist():
        text = data[ends[i] : ends[i + 1]].tobytes()
        out[i] = int.from_bytes(hashlib.blake2b(text, digest_size=8, key=key).digest(), "little")
    return out.view(np.int64)
