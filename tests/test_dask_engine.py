"""The Dask engine gives the pandas engine's labels, row for row, on real Zeek logs."""

from __future__ import annotations

import glob
import os

import pandas as pd
import pytest

from zeekslam.label import LABEL_FIELDS, label_chunks, label_logs
from zeekslam.read import InputError
from zeekslam.write import write

distributed = pytest.importorskip("distributed")
dask_engine = pytest.importorskip("zeekslam.dask_engine")

HERE = os.path.dirname(os.path.abspath(__file__))
LAB_TSV = sorted(glob.glob(os.path.join(HERE, "data", "lab", "*", "tsv", "conn.log")))
LAB_JSON = sorted(glob.glob(os.path.join(HERE, "data", "lab", "*", "json", "conn.log")))


@pytest.fixture(scope="module")
def cluster():
    """A local Dask cluster of two single-threaded workers, in this process."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  silence_logs=50) as local:
        yield local


def pandas_engine(paths: list[str]) -> pd.DataFrame:
    return pd.concat(list(label_logs(paths)), ignore_index=True)


def assert_same_labels(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Join on uid and compare every slam.* column, value for value."""
    assert len(got) == len(expected)
    assert expected["uid"].is_unique
    joined = expected.merge(got, on="uid", how="outer", suffixes=("_pandas", "_dask"), indicator=True,
                            validate="one_to_one")
    assert (joined["_merge"] == "both").all(), joined.loc[joined["_merge"] != "both", "uid"].tolist()
    for name in LABEL_FIELDS:
        left = joined[f"{name}_pandas"].astype(object).fillna("").tolist()
        right = joined[f"{name}_dask"].astype(object).fillna("").tolist()
        assert left == right, name


def test_lab_logs_same_labels_on_a_local_cluster(cluster):
    assert len(LAB_TSV) >= 10
    expected = pandas_engine(LAB_TSV)
    # Small blocks: most files are cut into several partitions, computed by two workers.
    frames = list(dask_engine.label_logs_dask(LAB_TSV, scheduler=cluster.scheduler_address, blocksize=2048))
    assert len(frames) > len(LAB_TSV)
    got = pd.concat(frames, ignore_index=True)
    assert_same_labels(expected, got)
    # Same order too, and a comparison that means something: the lab has door events of many kinds.
    assert got["uid"].tolist() == expected["uid"].tolist()
    labels = set(got["slam.label"])
    assert {"slammed", "refused_with_reply", "reset_after_accept", "rejected", "no_answer", "completed"} <= labels


def test_lazy_dataframe_on_the_default_client(cluster):
    expected = pandas_engine(LAB_TSV)
    with distributed.Client(cluster) as client:
        ddf = dask_engine.label_dask(LAB_TSV, blocksize=4096)
        assert ddf.npartitions > len(LAB_TSV)
        got = client.compute(ddf).result().reset_index(drop=True)
        # With no scheduler given, the iterator uses the session's client.
        iterated = pd.concat(list(dask_engine.label_logs_dask(LAB_TSV, blocksize=4096)), ignore_index=True)
    assert_same_labels(expected, got)
    assert_same_labels(expected, iterated)
    assert list(got.columns) == list(expected.columns)


def written(chunks, fmt: str) -> list[str]:
    """Output lines, without the #open/#close stamps (they carry the time of writing)."""
    text = "\n".join(write(chunks, fmt))
    return [line for line in text.split("\n") if not line.startswith(("#open", "#close"))]


@pytest.mark.parametrize("fmt", ["zeek", "json", "csv"])
def test_written_output_is_the_same_bytes(fmt, cluster):
    """What `zeekslam label --engine dask` would write: the pandas engine's output, line for line."""
    columns = None if fmt != "zeek" else dask_engine.LABEL_COLUMNS
    expected = written(label_chunks(LAB_TSV, columns=columns), fmt)
    got = written(dask_engine.label_chunks_dask(LAB_TSV, scheduler=cluster.scheduler_address, blocksize=2048,
                                                columns=columns), fmt)
    assert len(got) == len(expected) > len(LAB_TSV)
    assert got == expected


def test_json_logs_same_labels():
    expected = pandas_engine(LAB_JSON)
    got = pd.concat(list(dask_engine.label_logs_dask(LAB_JSON, scheduler="sync", blocksize=4096)), ignore_index=True)
    assert_same_labels(expected, got)


def test_malformed_lines_keep_their_line_numbers(tmp_path):
    """Broken lines in several blocks: kept, labeled malformed, with the same file:line reasons."""
    source = os.path.join(HERE, "data", "lab", "mixed_dev", "tsv", "conn.log")
    with open(source, encoding="utf-8") as f:
        lines = f.read().splitlines()
    broken = []
    for i, line in enumerate(lines):
        if not line.startswith("#") and i % 25 == 0:
            broken.append(line.split("\t", 3)[0] + "\tcut short")  # too few fields
        elif not line.startswith("#") and i % 37 == 0:
            fields = line.split("\t")
            fields[9] = "many"  # orig_bytes: not a count
            broken.append("\t".join(fields))
        else:
            broken.append(line)
    path = tmp_path / "conn.log"
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    expected = pandas_engine([str(path)])
    got = pd.concat(list(dask_engine.label_logs_dask([str(path)], scheduler="sync", blocksize=3000)),
                    ignore_index=True)
    assert (expected["slam.label"] == "malformed").sum() >= 8
    for name in LABEL_FIELDS:
        assert got[name].astype(object).fillna("").tolist() == expected[name].astype(object).fillna("").tolist()
    assert any(f"{path}:" in reason for reason in got["slam.reason"] if reason)
    # Written out, malformed rows carry their raw line in the reason: the same text from both engines.
    assert written(dask_engine.label_chunks_dask([str(path)], scheduler="sync", blocksize=3000), "zeek") == \
        written(label_chunks([str(path)]), "zeek")


def test_one_header_per_file(tmp_path):
    source = os.path.join(HERE, "data", "lab", "normal", "tsv", "conn.log")
    with open(source, encoding="utf-8") as f:
        text = f.read()
    other = text.replace("\tip_proto\n", "\n").replace("\tcount\n", "\n")
    other = "\n".join(line.rsplit("\t", 1)[0] if not line.startswith("#") and line else line
                      for line in other.splitlines()) + "\n"
    path = tmp_path / "conn.log"
    path.write_text(text + other, encoding="utf-8")
    with pytest.raises(InputError, match="pandas engine"):
        list(dask_engine.label_logs_dask([str(path)], scheduler="sync", blocksize=1 << 20))


def test_stdin_is_refused():
    with pytest.raises(InputError, match="stdin"):
        list(dask_engine.label_logs_dask(["-"], scheduler="sync"))
