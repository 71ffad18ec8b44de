"""Every speed scenario of tasksuite.speed (all families and benchmarks), as pytest-benchmark tests."""

import pytest

import tasksuite
from tasksuite import speed

SCENARIOS = speed.scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_speed(against, scenario):
    subject, reference = scenario.build()
    against(subject, reference, reference_name=scenario.reference, units=scenario.units, unit=scenario.unit)


@pytest.mark.parametrize("family", tasksuite.list_families())
def test_vector_env_memory(benchmark, family):
    num_envs = speed.memory_num_envs(family)
    rss = benchmark.pedantic(speed.vector_env_rss_mb, args=(family, num_envs), rounds=1)
    benchmark.extra_info["peak_rss_mb"] = rss
    print(f"\n{family}: {num_envs} sub-envs, peak RSS {rss:.0f} MB (fresh process, interpreter included)")


def test_against_metaworld(benchmark, request):
    """Meta-World's reach/push steps and ML10 construction, measured in its own virtualenv."""
    python = request.config.getoption("--metaworld-python")
    if python is None:
        pytest.skip("pass --metaworld-python PATH (a virtualenv with metaworld) to compare with Meta-World")
    families = [family for family in speed.METAWORLD_COUNTERPART if family in tasksuite.list_families()]
    ours = [
        speed.measure(s) for s in SCENARIOS if s.name in {f"{f}/step" for f in families} or s.name.endswith("/build")
    ]
    theirs = benchmark.pedantic(speed.metaworld_reference, args=(python,), rounds=1)
    rows = speed.metaworld_comparison(ours, theirs)
    benchmark.extra_info["metaworld"] = rows
    for row in rows:
        print(f"\n{row['what']}: {row['speedup']:.3g}x")
