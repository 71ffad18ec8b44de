"""The docs build with warnings as errors, every tutorial runs, and every public name is documented."""

import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tasksuite
import tasksuite.baselines  # installed from baselines/, outside tasksuite/'s folder

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.py"))
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="the baselines need torch")


@pytest.mark.parametrize(
    "script",
    [pytest.param(p, marks=needs_torch) if "baseline" in p.stem else p for p in TUTORIALS],
    ids=[p.stem for p in TUTORIALS],
)
def test_tutorial_runs(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def test_every_tutorial_is_shown_in_the_docs():
    pages = "".join(p.read_text() for p in DOCS.glob("*.md"))
    for script in TUTORIALS:
        assert f"tutorials/{script.name}" in pages, f"{script.name} is not included in any docs page"


def _public_modules():
    packages = [(tasksuite.__path__, "tasksuite."), (tasksuite.baselines.__path__, "tasksuite.baselines.")]
    for info in (info for path, prefix in packages for info in pkgutil.walk_packages(path, prefix)):
        name = info.name
        if any(part.startswith("_") for part in name.split(".")) or name in {
            "tasksuite.cli",
            "tasksuite.metaworld_reference",
        }:
            continue
        if not HAS_TORCH and name.startswith("tasksuite.baselines."):
            continue  # they import torch; with it installed, they are checked too
        yield importlib.import_module(name)


def test_every_public_module_is_in_the_api_reference():
    api = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"automodule:: ([\w.]+)", api))
    missing = [
        m.__name__ for m in _public_modules() if m.__name__ not in documented and not m.__name__.endswith("__init__")
    ]
    missing = [
        name
        for name in missing
        if name
        not in {
            "tasksuite.core",
            "tasksuite.families",
            "tasksuite.evaluation",
            "tasksuite.manifests",
            "tasksuite.assets",
            "tasksuite.baselines",
        }
    ]
    assert not missing, f"add these modules to docs/api.md: {missing}"


def test_every_public_class_and_function_has_a_docstring():
    undocumented = []
    for module in _public_modules():
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if (inspect.isclass(value) or inspect.isfunction(value)) and not inspect.getdoc(value):
                undocumented.append(f"{module.__name__}.{name}")
            if inspect.isclass(value):
                for attribute, member in vars(value).items():
                    function = member.fget if isinstance(member, property) else member
                    if attribute.startswith("_") or not callable(function) or inspect.isclass(function):
                        continue
                    # an override inherits its docstring, in Sphinx (autodoc_inherit_docstrings) as here
                    inherited = inspect.getdoc(getattr(value, attribute))
                    if not (function.__doc__ or inherited or "").strip():
                        undocumented.append(f"{module.__name__}.{name}.{attribute}")
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_every_family_has_a_picture_of_each_split():
    sys.path.insert(0, str(DOCS / "_ext"))
    from tasksuite_docs import picture_splits

    missing = [
        f"{name}-{split}.png"
        for name in tasksuite.list_families()
        for split in picture_splits(name)
        if not (DOCS / "images" / f"{name}-{split}.png").exists()
    ]
    assert not missing, f"run `python docs/render_pictures.py`; missing {missing}"


@pytest.mark.slow
@needs_torch  # the API reference documents the baselines, which import torch
def test_docs_build_without_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path / "html")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    assert (tmp_path / "html" / "_generated" / "families" / "navigation.html").exists()
