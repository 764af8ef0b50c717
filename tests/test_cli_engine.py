"""`--engine dask` on the command line gives the pandas engine's labels and report."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import LAB
from zeekslam.cli import cli


def run(*args):
    r = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.mark.parametrize("scenario", ["mixed_dev", "crash_day", "app_abort_rst"])
def test_label_engines_agree_row_for_row(scenario):
    path = str(LAB / scenario / "tsv" / "conn.log")
    pandas_rows = [line for line in run("label", path).splitlines() if not line.startswith("#")]
    dask_rows = [line for line in run("label", path, "--engine", "dask", "--scheduler", "threads").splitlines()
                 if not line.startswith("#")]
    assert dask_rows == pandas_rows and len(pandas_rows) > 0


@pytest.mark.parametrize("scenario", ["mixed_dev", "crash_day"])
def test_report_engines_agree(scenario):
    path = str(LAB / scenario / "tsv" / "conn.log")
    by_pandas = json.loads(run("report", path, "--format", "json"))
    by_dask = json.loads(run("report", path, "--format", "json", "--engine", "dask", "--scheduler", "threads"))
    assert by_dask == by_pandas
    assert {s["verdict"] for s in by_pandas["servers"]} - {"healthy"}


def test_dask_engine_refuses_stdin():
    r = CliRunner().invoke(cli, ["label", "-", "--engine", "dask"], input="")
    assert r.exit_code == 2 and "--engine dask reads files, not stdin" in r.output
