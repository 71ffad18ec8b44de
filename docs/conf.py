"""Sphinx configuration of the tasksuite docs: ``sphinx-build -W -b html docs docs/_build/html``."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import tasksuite  # noqa: E402

project = "tasksuite"
author = "tasksuite maintainers"
release = version = tasksuite.__version__
copyright = "2026, tasksuite maintainers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "tasksuite_docs",
]
source_suffix = {".md": "markdown"}
# families/*.md are hand-written design notes, included into the generated family pages.
exclude_patterns = ["_build", "_ext", "examples/**/output", "families/*.md", "results/**"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_class_signature = "separated"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "furo"
html_title = f"tasksuite {release}"
