"""Every Python snippet of the README and the docs runs as a plain script, as a reader would run it.

A snippet ``exec()``-ed inside pytest cannot catch what only a script does: worker
processes that re-import ``__main__`` (a script without ``if __name__ == "__main__":``).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SNIPPETS = [
    (page, index, code)
    for page in PAGES
    for index, code in enumerate(re.findall(r"```python\n(.+?)\n```", page.read_text(), flags=re.S))
]

EVALUATE = """
from tasksuite.evaluation import evaluate

summary = evaluate("out", agent="tasksuite.evaluation.agents:random", max_tasks=2, seeds=1, progress=False{extra})
print("score", summary["protocols"]["meta-test"]["splits"]["test"]["iqm"])
"""


def run_script(code: str, folder: Path, name: str = "snippet.py") -> subprocess.CompletedProcess:
    """``python name`` in ``folder``, headless, with the session's reference cache."""
    (folder / name).write_text(code)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, name], cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_the_readme_and_the_docs_have_snippets():
    assert {page.name for page, _, _ in SNIPPETS} >= {"README.md", "index.md", "evaluation.md"}


@pytest.mark.parametrize(
    "code", [code for *_, code in SNIPPETS], ids=[f"{p.relative_to(ROOT)}-{i}" for p, i, _ in SNIPPETS]
)
def test_snippet_runs_as_a_script(code, tmp_path):
    result = run_script(code, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]


def test_an_unguarded_script_with_default_workers_runs_in_process_and_says_why(tmp_path):
    result = run_script(EVALUATE.format(extra=""), tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "score" in result.stdout
    assert 'if __name__ == "__main__":' in result.stderr and "running in this process" in result.stderr


def test_an_unguarded_script_asking_for_workers_fails_at_once_naming_the_guard(tmp_path):
    result = run_script(EVALUATE.format(extra=", workers=2"), tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "snippet.py, line 4" in last and 'if __name__ == "__main__":' in last and "workers=1" in last
    assert "BrokenProcessPool" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_guarded_script_runs_its_workers(tmp_path):
    code = EVALUATE.format(extra=", workers=2").replace("\nsummary", '\nif __name__ == "__main__":\n    summary')
    code = code.replace('\nprint("score"', '\n    print("score"')
    result = run_script(code, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "score" in result.stdout and "UserWarning" not in result.stderr
