"""ECS output checked against the Elastic Common Schema field reference (tests/data/ecs/ecs_flat.yml)."""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from functools import cache

import yaml
from click.testing import CliRunner

from conftest import DATA, LAB
from zeekslam.cli import cli


@cache
def schema() -> dict:
    return yaml.safe_load((DATA / "ecs" / "ecs_flat.yml").read_text())


def _flatten(doc: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_ecs(doc: dict) -> None:
    for name, value in _flatten(doc).items():
        if name.startswith(("zeek.", "zeekslam.")):
            continue  # custom namespaces, as the Elastic Zeek integration uses zeek.*
        field = schema().get(name)
        assert field is not None, f"{name} is not an ECS field"
        values = value if isinstance(value, list) else [value]
        for v in values:
            kind = field["type"]
            if kind == "ip":
                ipaddress.ip_address(v)
            elif kind == "long":
                assert isinstance(v, int) and not isinstance(v, bool), (name, v)
            elif kind in ("keyword", "match_only_text", "wildcard", "text"):
                assert isinstance(v, str), (name, v)
            elif kind == "date":
                datetime.fromisoformat(v.replace("Z", "+00:00"))
            allowed = [a["name"] for a in field.get("allowed_values", [])]
            if allowed:
                assert v in allowed, (name, v)


def test_ecs_output_is_valid_for_every_lab_connection():
    docs = []
    for scenario in ("mixed_dev", "crash_day", "middlebox_rst", "smtp_refusal"):
        r = CliRunner().invoke(cli, ["label", str(LAB / scenario / "tsv" / "conn.log"), "--format", "ecs"])
        assert r.exit_code == 0
        docs += [json.loads(line) for line in r.stdout.splitlines()]
    for doc in docs:
        check_ecs(doc)
    slammed = [d for d in docs if d.get("zeekslam", {}).get("label") == "slammed"]
    assert len(slammed) == 15
    assert slammed[0]["event"]["type"] == ["connection", "denied"]
    assert slammed[0]["event"]["outcome"] == "failure"
    assert slammed[0]["destination"]["port"] == 2191
    assert slammed[0]["@timestamp"].startswith("2026-11-25T")


def test_ecs_malformed_row_is_a_pipeline_error(tmp_path):
    from conftest import conn_row, tsv_header, write_generated

    path = write_generated(tmp_path / "conn.log", tsv_header() + [conn_row("C1"), "broken"])
    r = CliRunner().invoke(cli, ["label", str(path), "--format", "ecs"])
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == 2
    check_ecs(docs[1])
    assert docs[1]["event"]["kind"] == "pipeline_error" and docs[1]["event"]["original"] == "broken"
