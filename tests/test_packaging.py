"""A non-editable install carries everything: assets, manifests and the baselines."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_assets_manifests_and_baselines(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("tasksuite-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
    )
    shipped = {
        p.relative_to(ROOT / "assets")
        for p in (ROOT / "assets").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    installed = {
        p.relative_to(target / "tasksuite" / "assets")
        for p in (target / "tasksuite" / "assets").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped <= installed, f"assets missing from the wheel: {shipped - installed}"
    check = (
        "import tasksuite, tasksuite.baselines, pathlib;"
        f"assert pathlib.Path(tasksuite.__file__).is_relative_to(pathlib.Path(r'{target}'));"
        "[tasksuite.make_benchmark(n) for n in tasksuite.list_benchmarks()];"
        "[tasksuite.get_family(n).make_env().reset(seed=0) for n in tasksuite.list_families()];"
        "print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
