"""The README documents every command, and every command has --help that teaches."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from zeekslam.cli import cli
from zeekslam.label import LABEL_FIELDS, LAYERS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_in_the_readme_and_has_help(name):
    assert f"zeekslam {name}" in README
    for flag in ("--help", "-h"):
        r = CliRunner().invoke(cli, [name, flag])
        assert r.exit_code == 0
        assert f"Usage: cli {name}" in r.output or f"Usage: zeekslam {name}" in r.output
        assert "Example" in r.output


@pytest.mark.parametrize("label", sorted(LAYERS))
def test_every_label_is_in_the_readme_table_with_its_layer(label):
    assert f"| `{label}` | {LAYERS[label]} |" in README


@pytest.mark.parametrize("column", LABEL_FIELDS)
def test_every_output_column_is_documented(column):
    assert f"| `{column}` |" in README


def test_ci_runs_the_readme_test_command():
    command = "pip install -e '.[test]' && python -m pytest"
    assert f"```sh\n{command}\n```" in README
    assert command in (ROOT / ".ci" / "run").read_text()


def test_readme_carries_the_zeek_package_section_verbatim():
    section = (ROOT / "docs" / "zeek-package.md").read_text().rstrip("\n")
    assert section in README


def test_every_report_verdict_is_documented():
    from zeekslam.diagnose import VERDICTS

    for verdict in VERDICTS:
        assert f"`{verdict}`" in README, verdict
