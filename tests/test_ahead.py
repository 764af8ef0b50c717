"""map_ahead: a stage computed by two threads at once, its results in order."""

from __future__ import annotations

import random
import threading
import time

import pytest
from click.testing import CliRunner

from conftest import CONN_FIELDS, CONN_TYPES, conn_row, tsv_header, write_generated
from zeekslam.ahead import map_ahead
from zeekslam.cli import cli
from zeekslam.label import label_chunks
from zeekslam.write import write


def _no_map_threads() -> bool:
    return not [t for t in threading.enumerate() if t.name.startswith("zeekslam-map")]


def test_results_come_in_order_from_two_threads_at_most():
    lock = threading.Lock()
    running = [0]
    most = [0]
    threads: set[int] = set()
    rng = random.Random(7)
    pauses = [rng.uniform(0, 0.004) for _ in range(40)]

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            threads.add(threading.get_ident())
        time.sleep(pauses[i])  # out of order finishes: the results must still come in order
        with lock:
            running[0] -= 1
        return i * i

    assert list(map_ahead(work, range(40))) == [i * i for i in range(40)]
    assert most[0] == 2  # two at once, never more
    assert threading.get_ident() not in threads and len(threads) == 2
    assert _no_map_threads()


def test_an_error_arrives_in_its_place():
    def work(i: int) -> int:
        if i == 5:
            raise ValueError("bad item 5")
        return i

    got = []
    with pytest.raises(ValueError, match="bad item 5"):
        for value in map_ahead(work, range(10)):
            got.append(value)
    assert got == [0, 1, 2, 3, 4]
    assert _no_map_threads()

    def items():
        yield from range(3)
        raise OSError("the log went away")

    got = []
    with pytest.raises(OSError, match="went away"):
        for value in map_ahead(lambda i: i + 1, items()):
            got.append(value)
    assert got[:2] == [1, 2]  # the item in hand when the input failed may not arrive
    assert _no_map_threads()


def test_a_reader_that_leaves_early_stops_the_threads():
    made = []

    def work(i: int) -> int:
        made.append(i)
        return i

    results = map_ahead(work, range(1000))
    assert next(results) == 0
    results.close()
    assert _no_map_threads()
    assert len(made) <= 3  # two in hand, at most one more started; not the whole input


def test_one_thread_when_asked(monkeypatch):
    monkeypatch.setenv("ZEEKSLAM_READ_AHEAD", "0")
    seen = set()
    assert list(map_ahead(lambda i: seen.add(threading.get_ident()) or i, range(5))) == list(range(5))
    assert seen == {threading.get_ident()}


@pytest.mark.parametrize("fmt", ["json", "ecs", "csv"])
def test_documents_built_two_chunks_at_a_time_are_those_of_one_thread(tmp_path, monkeypatch, fmt):
    # GENERATED: a concatenated log whose second part has another column set (a new header
    # block), so the CSV writer's columns change midway; many small chunks
    rows = [conn_row(uid=f"Cgen{i}", orig=f"10.1.{i % 50}.{i % 9}", resp_p=(21, 25, 443)[i % 3],
                     history=("ShAfFa", "ShADadFf", "Sr", "ShAr")[i % 4], state=("SF", "SF", "REJ", "RSTR")[i % 4])
            for i in range(3000)]
    extra = tsv_header(fields=[*CONN_FIELDS, "extra_note"], types=[*CONN_TYPES, "string"])
    lines = tsv_header() + rows[:1700] + extra + [row + "\tnote" for row in rows[1700:]]
    log = write_generated(tmp_path / "conn.log", lines)
    outputs = {}
    for threads in ("1", "0"):
        monkeypatch.setenv("ZEEKSLAM_READ_AHEAD", threads)
        out = tmp_path / f"out-{threads}.{fmt}"
        result = CliRunner().invoke(cli, ["label", str(log), "--format", fmt, "--chunk-rows", "1000",
                                          "-o", str(out)])
        assert result.exit_code == 0, result.output
        outputs[threads] = out.read_bytes()
    assert outputs["1"] == outputs["0"]
    # and both are what the writer makes with nothing built ahead
    plain = write(label_chunks([str(log)], chunk_rows=1000), fmt)
    assert outputs["1"] == "".join(piece + "\n" for piece in plain).encode("ascii")
    assert outputs["1"].count(b"\n") >= 3000
    assert b"Cgen2999" in outputs["1"]
    assert (b"extra_note" in outputs["1"]) == (fmt != "ecs")  # ECS maps known fields only
    assert b"malformed" not in outputs["1"]
    assert _no_map_threads()
