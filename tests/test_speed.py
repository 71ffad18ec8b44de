"""The speed scenarios and `tasksuite bench` work (numbers themselves are for benchmarks/, never asserted here)."""

import json
import math

import pytest

from tasksuite import speed
from tasksuite.cli import main

SCENARIOS = speed.scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_scenario_measures_subject_and_reference(scenario):
    result = speed.measure(scenario, seconds=0.001, rounds=1)
    assert result.per_second > 0 and result.reference_per_second > 0 and math.isfinite(result.ratio)


def test_every_family_has_every_kind_of_scenario():
    import tasksuite

    names = {s.name for s in SCENARIOS}
    for family in tasksuite.list_families():
        expected = {f"{family}/step", f"{family}/reset-new-task"} | {f"{family}/batched-{n}" for n in speed.BATCH_SIZES}
        assert expected <= names


def test_bench_command_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        ["bench", "--family", "navigation", "--only", "step", "--seconds", "0.001", "--json", str(out), "--quiet"]
    )
    assert code == 0
    report = json.loads(out.read_text())
    names = [m["name"] for m in report["measurements"]]
    assert names[0] == "navigation/step" and all(name.startswith("navigation/") and "step" in name for name in names)
    assert report["peak_rss_mb"]["navigation/1024-envs"] > 0
    assert "time ratio" in capsys.readouterr().out
