"""The speed scenarios and `tasksuite bench` work (numbers themselves are for benchmarks/, never asserted here)."""

import json
import math
import sys

import pytest

from tasksuite import speed
from tasksuite.cli import main

SCENARIOS = speed.scenarios()
NO_START_UP = ["--no-start-up"]  # timing tasksuite train takes seconds of torch imports


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_scenario_measures_subject_and_reference(scenario):
    result = speed.measure(scenario, seconds=0.001, rounds=1)
    assert result.per_second > 0 and result.reference_per_second > 0 and math.isfinite(result.ratio)


def test_every_family_has_every_kind_of_scenario():
    import tasksuite

    names = {s.name for s in SCENARIOS}
    for family in tasksuite.list_families():
        expected = {f"{family}/step", f"{family}/reset-new-task", f"{family}/reset-sampled-task"}
        expected |= {f"{family}/batched-{n}" for n in speed.BATCH_SIZES}
        expected.add(f"{family}/batched-{speed.sampled_num_envs(family)}-sampled")
        assert expected <= names
    assert f"{speed.EVALUATED_BENCHMARK}/evaluate-oracle" in names


def test_bench_command_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--family",
            "navigation",
            "--only",
            "step",
            "--seconds",
            "0.001",
            "--json",
            str(out),
            "--quiet",
            *NO_START_UP,
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    names = [m["name"] for m in report["measurements"]]
    assert names[0] == "navigation/step" and all(name.startswith("navigation/") and "step" in name for name in names)
    (footprint,) = report["footprints"]
    assert footprint["num_envs"] == 1024 and footprint["peak_rss_mb"] > 0 and footprint["build_s"] > 0
    assert "time ratio" in capsys.readouterr().out


FAKE_METAWORLD = """
import json, sys
print(json.dumps({"metaworld": "fake", "ml10_build_s": 2.0, "ml10_reset": "ok"}), flush=True)
for number, line in enumerate(sys.stdin, start=1):
    assert line.strip() in ("reach-v3", "push-v3"), line
    if number > ROUNDS:
        sys.exit("fake Meta-World: no more rounds")
    print(json.dumps({"steps_per_second": 100.0 * number, "raw_physics_steps_per_second": 1000.0}), flush=True)
"""


def fake_metaworld_python(tmp_path, rounds):
    """An "interpreter" that runs a fake Meta-World side answering ``rounds`` rounds, whatever script it is given."""
    (tmp_path / "fake.py").write_text(FAKE_METAWORLD.replace("ROUNDS", str(rounds)))
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} {tmp_path / 'fake.py'}\n")
    python.chmod(0o755)
    return str(python)


def _reaching_step_against_metaworld(out, python: str) -> list[str]:
    """``tasksuite bench`` arguments: reaching's single step only, briefly, against the Meta-World of ``python``."""
    quick = ["--family", "reaching", "--only", "reaching/step", "--seconds", "0.001", "--quiet"]
    return ["bench", *quick, "--no-memory", "--no-start-up", "--json", str(out), "--metaworld-python", python]


def test_metaworld_rounds_alternate_with_ours(tmp_path):
    out = tmp_path / "bench.json"
    argv = _reaching_step_against_metaworld(out, fake_metaworld_python(tmp_path, 5))
    assert main(argv) == 0
    (row,) = json.loads(out.read_text())["metaworld"]
    assert row["what"] == "reaching step vs Meta-World reach-v3 step"
    assert row["metaworld_per_second"] == 300.0  # the median of its 5 rounds, one after each of ours


def test_a_failing_metaworld_side_is_reported_and_ours_is_kept(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = _reaching_step_against_metaworld(out, fake_metaworld_python(tmp_path, 2))
    assert main(argv) == 1
    report = json.loads(out.read_text())
    assert [m["name"] for m in report["measurements"]] == ["reaching/step"]
    assert "no more rounds" in report["metaworld"]["error"]
    assert "the Meta-World comparison failed" in capsys.readouterr().err
