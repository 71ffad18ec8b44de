"""Every speed scenario of tasksuite.speed (all families and benchmarks), as pytest-benchmark tests."""

import pytest

from tasksuite import speed

SCENARIOS = speed.scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_speed(against, scenario):
    subject, reference = scenario.build()
    against(subject, reference, reference_name=scenario.reference, units=scenario.units, unit=scenario.unit)


@pytest.mark.parametrize(("family", "num_envs"), [("navigation", 1024)])
def test_vector_env_memory(benchmark, family, num_envs):
    rss = benchmark.pedantic(speed.vector_env_rss_mb, args=(family, num_envs), rounds=1)
    benchmark.extra_info["peak_rss_mb"] = rss
    print(f"\n{family}: {num_envs} sub-envs, peak RSS {rss:.0f} MB (fresh process, interpreter included)")
