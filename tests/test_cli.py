"""The command line: every command explains itself and does what it says."""

import errno
import json
import os
import shutil
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


def test_python_dash_m_tasksuite_runs_the_command():
    result = subprocess.run([sys.executable, "-m", "tasksuite", "list"], capture_output=True, text=True, check=True)
    assert "navigation-meta" in result.stdout


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["show", "navigaton"], "did you mean 'navigation'?"),
        (["show", "navigation-mta"], "did you mean 'navigation-meta'?"),
        (
            ["evaluate", "--benchmark", "reaching-mta", "--agent", "tasksuite.evaluation.agents:oracle", "--out", "o"],
            "did you mean 'reaching-meta'?",
        ),
        (["evaluate", "--agent", "tasksuite.evaluation.agents:oracel", "--out", "o"], "did you mean 'oracle'?"),
        (["evaluate", "--protocol", "ood-swep", "--out", "o"], "did you mean 'ood-sweep'?"),
        (["train", "mamll", "--benchmark", "navigation-meta", "--out", "o"], "did you mean 'maml'?"),
        (["rollout", "warehous-meta"], "did you mean 'warehouse-meta'?"),
        (["evalute"], "did you mean 'evaluate'?"),
    ],
)
def test_a_misspelled_name_gets_a_suggestion(argv, suggestion, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _exit_status(argv) == 2
    err = capsys.readouterr().err
    assert suggestion in err and "Traceback" not in err


def _exit_status(argv) -> int:
    """main's return value, or the status argparse exits with."""
    try:
        return main(argv)
    except SystemExit as exit_info:
        return exit_info.code


def _malformed(tmp_path):
    """(argv, what the message must say) for each malformed input, the files made in ``tmp_path``."""
    (tmp_path / "garbage.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "config.json").write_text("{not json")
    (tmp_path / "results" / ".tasksuite-folder.json").write_text('{"format": "tasksuite-folder", "kind": "results"}')
    agent = ["--agent", "tasksuite.evaluation.agents:oracle"]
    return [
        (["evaluate", *agent, "--benchmark", str(tmp_path / "missing.json"), "--out", "o"], "No such file"),
        (["evaluate", *agent, "--benchmark", str(tmp_path / "garbage.json"), "--out", "o"], "not UTF-8"),
        (["evaluate", *agent, "--benchmark", str(tmp_path / "folder.json"), "--out", "o"], "Is a directory"),
        (["evaluate", *agent, "--out", str(tmp_path / "a-file")], "is an existing file"),
        (["train", "maml", "--benchmark", "navigation-meta", "--out", str(tmp_path / "a-file")], "is an existing file"),
        (["manifest", "navigation-meta", "--out", str(tmp_path / "results")], "is a folder"),
        (["report", str(tmp_path / "results")], "not valid JSON"),
        (["report", str(tmp_path)], "is not a results folder"),
        (["bench", "--seconds", "nan"], "positive, finite"),
        (["bench", "--seconds", "-1"], "positive, finite"),
        (["bench", "--seconds", "0"], "positive, finite"),
        (["bench", "--only", "no-such-scenario", "--no-memory"], "matches no scenario"),
    ]


def test_malformed_inputs_end_in_one_line_and_exit_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, message in _malformed(tmp_path):
        assert _exit_status(argv) == 2, argv
        err = capsys.readouterr().err
        last = err.strip().splitlines()[-1]
        assert "Traceback" not in err and message in last and "error:" in last, (argv, err)
        assert not (tmp_path / "o").exists(), argv  # nothing was started


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert main(["manifest", "navigation-meta", "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    ("argv", "message", "raised"),
    [
        (["report", "."], "is not a results folder", "OutputError"),
        (
            ["manifest", "--generate", "navigation-meta", "--out", "x/m.json"],
            "Not a directory",
            "NotADirectoryError",
        ),
    ],
    ids=["tasksuite-error", "os-error"],
)
def test_debug_shows_the_traceback(argv, message, raised, tmp_path):
    (tmp_path / "x").write_text("a file where the manifest's folder should be")
    command = [sys.executable, "-m", "tasksuite", *argv]
    quiet = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    loud = subprocess.run([*command, "--debug"], cwd=tmp_path, capture_output=True, text=True)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr and quiet.stderr.count("\n") == 1
    assert message in quiet.stderr
    assert loud.returncode == 1 and "Traceback" in loud.stderr and raised in loud.stderr


def test_a_closed_pipe_is_not_an_error():
    # The reader is gone before the command writes (`tasksuite list | head -1` once head has exited).
    process = subprocess.Popen(
        [sys.executable, "-m", "tasksuite", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()
    err = process.stderr.read().decode()
    process.wait()
    assert "Traceback" not in err and "BrokenPipeError" not in err


@pytest.mark.parametrize("argv", [["train", "maml", "--benchmark", "navigation-meta", "--out", "o"], ["validate"]])
def test_missing_torch_is_the_same_one_line_everywhere(argv, tmp_path, capsys, monkeypatch):
    from tasksuite.baselines import INSTALL_TORCH

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as when it is not installed
    for module in ("maml", "common", "validate"):
        monkeypatch.delitem(sys.modules, f"tasksuite.baselines.{module}", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert INSTALL_TORCH in err and err.count("\n") == 1


def test_a_checkpoint_of_another_baseline_or_garbage_is_one_line(tmp_path, capsys):
    pytest.importorskip("torch")
    tiny = ["--steps", "800", "--set", "parallel_trials=8", "--set", "episodes_per_trial=2"]
    assert main(["train", "rl2", "--benchmark", "navigation-meta", "--out", str(tmp_path / "rl2"), *tiny]) == 0
    shutil.copytree(tmp_path / "rl2", tmp_path / "junk")
    (tmp_path / "junk" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    capsys.readouterr()
    train = ["train", "maml", "--benchmark", "navigation-meta", "--resume", "--out"]
    assert main([*train, str(tmp_path / "rl2")]) == 2
    err = capsys.readouterr().err
    assert "algorithm: checkpoint 'rl2', now 'maml'" in err and "Traceback" not in err and err.count("\n") == 1
    assert main([*train, str(tmp_path / "junk")]) == 2
    err = capsys.readouterr().err
    assert "is not a tasksuite.baselines checkpoint" in err and "Traceback" not in err and err.count("\n") == 1
    evaluate = ["evaluate", "--agent", "tasksuite.baselines:load_agent", "--out", str(tmp_path / "o")]
    kwargs = json.dumps({"checkpoint": str(tmp_path / "junk" / "checkpoint.pt")})
    assert main([*evaluate, "--agent-kwargs", kwargs]) == 2
    assert "is not a tasksuite.baselines checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
