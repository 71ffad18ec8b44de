"""The README's promises: its test command is what CI runs, and it lists what is registered.

Its Python snippets run as scripts in tests/test_snippets.py."""

import re
from pathlib import Path

import tasksuite

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _commands():
    return re.findall(r"```bash\n(.+?)\n```", README)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    commands = _commands()
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert tests.endswith("pytest") and "tasksuite" in main_job
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert tests in ci_lines, ".ci/run must run the README's test command verbatim"


def test_readme_lists_every_family_and_benchmark():
    for name in tasksuite.list_families() + tasksuite.list_benchmarks():
        assert f"`{name}`" in README, f"README does not mention {name}"
    for name in tasksuite.list_families():
        assert tasksuite.get_family(name).env_id in README


def test_readme_and_help_make_the_same_timing_claims():
    from tasksuite.cli import FULL_PLAN_TIME, QUICK_PLAN_TIME, build_parser

    readme = " ".join(README.split())
    assert QUICK_PLAN_TIME in readme and FULL_PLAN_TIME in readme
    validate = build_parser()._subparsers._group_actions[0].choices["validate"]
    help_text = " ".join(validate.format_help().split())
    assert QUICK_PLAN_TIME in help_text and FULL_PLAN_TIME in help_text
    assert "about 2 minutes" not in readme + help_text  # the old, unconditioned claim
