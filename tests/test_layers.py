"""Layering: the core imports nothing of tasksuite above it (the registry, families, evaluation)."""

import ast
from pathlib import Path

import tasksuite.core

CORE = Path(tasksuite.core.__file__).parent


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_core_imports_only_the_core():
    upward = {
        f"{path.name}: {module}"
        for path in CORE.glob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] == "tasksuite" and not module.startswith("tasksuite.core")
    }
    assert not upward, f"tasksuite.core must not import the layers above it: {sorted(upward)}"


def test_the_scan_sees_an_upward_import(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from tasksuite.registry import get_family\n")
    assert list(imported_modules(module)) == ["tasksuite.registry"]
