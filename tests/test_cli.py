"""The command line: every command explains itself and does what it says."""

import subprocess
import sys

import pytest

from tasksuite import Benchmark
from tasksuite.cli import build_parser, main

COMMANDS = [name for name in build_parser()._subparsers._group_actions[0].choices]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: tasksuite {command}" in out and len(out.splitlines()) > 3


def test_list_shows_families_and_benchmarks(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tasksuite/Navigation-v0" in out and "navigation-meta" in out


def test_show_family_derives_tables_from_the_declaration(capsys):
    assert main(["show", "navigation"]) == 0
    out = capsys.readouterr().out
    assert "goal_x" in out and "[-4, 4] m" in out and "near" in out and "[0.1, 0.5)" in out


def test_show_preset_cites_its_source(capsys):
    assert main(["show", "navigation-maml"]) == 0
    assert "Source: Finn, Abbeel, Levine 2017" in capsys.readouterr().out


def test_show_benchmark(capsys):
    assert main(["show", "pearl-sparse-point"]) == 0
    out = capsys.readouterr().out
    assert "setting meta" in out and "ood/far" in out


def test_unknown_name_is_an_error_listing_what_exists(capsys):
    assert main(["show", "flying"]) == 2
    assert "neither a family (navigation" in capsys.readouterr().err


def test_rollout_reports_oracle_far_above_random(capsys):
    assert main(["rollout", "navigation-meta", "--max-tasks", "3", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {
        line.split()[0]: line.split()
        for line in lines
        if line.split() and line.split()[0] in {"train", "test", "near", "far"}
    }
    assert set(rows) == {"train", "test", "near", "far"}
    for split, row in rows.items():
        oracle, random = float(row[2]), float(row[3])
        assert oracle > random + 10, split
        assert row[4] == "100%"


def test_manifest_command_writes_a_loadable_manifest(tmp_path):
    path = tmp_path / "maml.json"
    assert main(["manifest", "maml-navigation", "--seed", "3", "--out", str(path)]) == 0
    benchmark = Benchmark.from_manifest(path)
    assert benchmark.name == "maml-navigation" and benchmark.splits.seed == 3


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "tasksuite.cli", "list"], capture_output=True, text=True, check=True)
    assert "navigation" in result.stdout
