"""Client hashes and first-seen codes without pandas: the same values pandas gives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from zeekslam.columns import first_seen, first_seen_texts
from zeekslam.hashing import PANDAS_KEY, hash_texts, hash_utf8


def _texts(rng: np.random.Generator) -> list[str]:
    edges = ["", "a", "1234567", "12345678", "123456789", "a\x00", "\x00", "a" + "\x00" * 7, "ü", "日本語",
             "fe80::1ff:fe23:4567:890a", "x" * 255, "x" * 256]
    ips = [".".join(str(int(b)) for b in rng.integers(0, 256, 4)) for _ in range(3000)]
    odd = ["".join(map(chr, rng.integers(1, 0x3000, int(rng.integers(0, 80))))) for _ in range(1000)]
    return edges + ips + odd


def test_hashes_are_pandas_hash_array():
    texts = np.array(_texts(np.random.default_rng(7)), dtype=object)
    ours = hash_texts(texts, key=PANDAS_KEY)
    assert ours.dtype == np.int64
    assert np.array_equal(ours, pd.util.hash_array(texts, categorize=False).view(np.int64))


def test_the_key_is_random_per_process_and_names_the_values():
    import subprocess
    import sys

    from zeekslam import hashing

    texts = np.array(["10.0.0.1", "10.0.0.2", "x" * 300], dtype=object)
    assert hashing._KEY != PANDAS_KEY and len(hashing._KEY) == 16
    assert not np.array_equal(hash_texts(texts), hash_texts(texts, key=PANDAS_KEY))
    assert np.array_equal(hash_texts(texts, key=b"k" * 16), hash_texts(texts, key=b"k" * 16))
    assert hash_texts(texts, key=b"k" * 16)[2] != hash_texts(texts, key=b"j" * 16)[2]  # BLAKE2b keyed too
    code = "from zeekslam import hashing; print(hashing._KEY.hex())"
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert len(keys) == 2


def test_long_and_undecodable_texts_hash_apart_and_stably():
    # past 256 bytes (never an address) BLAKE2b; lone surrogates (undecodable bytes) by their own bytes
    texts = np.array(["y" * 300, "y" * 301, "y" * 300 + "z", "\udc80abc", "\udc81abc", "abc", "y" * 300], dtype=object)
    h = hash_texts(texts)
    assert len(set(h[:6].tolist())) == 6
    assert h[6] == h[0]
    assert np.array_equal(hash_texts(texts[::-1]), h[::-1])
    assert hash_texts(np.array([], dtype=object)).shape == (0,)


def test_hashes_of_arrow_bytes_are_hash_texts():
    import pyarrow as pa

    from zeekslam.columns import ArrowColumns, string_buffers
    from zeekslam.diagnose import _present_arrow_codes

    texts = _texts(np.random.default_rng(9))  # edge lengths, past 256 bytes, non-ASCII
    column = pa.chunked_array([pa.array(texts[:2000] + [None]), pa.array(texts[2000:])])
    cols = ArrowColumns(pa.table({"id.orig_h": column}))
    codes, uniques = cols.codes("id.orig_h")
    same_codes, dictionary = cols.dictionary_codes("id.orig_h")  # Arrow's distinct strings, unset a null
    assert np.array_equal(same_codes, codes)
    ends, data = string_buffers(dictionary)
    assert np.array_equal(hash_utf8(ends, data), hash_texts(uniques))  # unset: the empty text
    assert "" in uniques.tolist() and len(uniques) == len(set(texts)) + 1
    part = pa.array(texts).slice(5, 100)  # an array that starts at an offset
    ends = np.frombuffer(part.buffers()[1], np.int32, count=101, offset=part.offset * 4)
    assert np.array_equal(hash_utf8(ends, np.frombuffer(part.buffers()[2], np.uint8)),
                          hash_texts(np.array(texts[5:105], dtype=object)))
    # a column a (hostile) header typed as numbers: its addresses are texts all the same
    numbers = ArrowColumns(pa.table({"id.orig_h": pa.array([1.0, None, 1.0])}))
    codes, texts = _present_arrow_codes(numbers, "id.orig_h", np.arange(3))
    assert isinstance(texts, np.ndarray) and [texts[c] if c >= 0 else None for c in codes] == ["1.0", None, "1.0"]


def test_first_seen_is_pandas_factorize():
    rng = np.random.default_rng(8)
    keys = rng.integers(-(2**62), 2**62, 5000)[rng.integers(0, 5000, 20000)]
    codes, distinct = first_seen(keys)
    want_codes, want_distinct = pd.factorize(keys)
    assert np.array_equal(codes, want_codes) and np.array_equal(distinct, want_distinct)
    assert codes.dtype == distinct.dtype == np.int64
    empty_codes, empty_distinct = first_seen(np.empty(0, np.int64))
    assert len(empty_codes) == len(empty_distinct) == 0


def test_first_seen_texts_is_pandas_factorize():
    texts = np.array(_texts(np.random.default_rng(9)) * 2, dtype=object)[::-1]
    codes, distinct = first_seen_texts(texts)
    want_codes, want_distinct = pd.factorize(texts)
    assert np.array_equal(codes, want_codes)
    assert distinct.dtype == object and distinct.tolist() == want_distinct.tolist()


def test_first_seen_texts_keeps_apart_values_whose_hashes_are_equal():
    # first_seen_texts groups by Python's hash, then checks each value against the first of
    # its group: CPython gives these pairs equal hashes, and they must still get two codes
    values = np.array(["abc", b"abc", -1, -2, "abc", -2, b"abc", "x"], dtype=object)
    assert hash("abc") == hash(b"abc") and hash(-1) == hash(-2)
    codes, distinct = first_seen_texts(values)
    assert codes.tolist() == [0, 1, 2, 3, 0, 3, 1, 4]
    assert distinct.tolist() == ["abc", b"abc", -1, -2, "x"]
    # one NaN object twice: not equal to itself, yet one value, as for a dict keyed by it
    nan = float("nan")
    codes, distinct = first_seen_texts(np.array(["a", nan, "a", nan], dtype=object))
    assert codes.tolist() == [0, 1, 0, 1] and distinct[0] == "a"
    empty_codes, empty_distinct = first_seen_texts(np.empty(0, dtype=object))
    assert len(empty_codes) == len(empty_distinct) == 0
