"""Test-session set-up: headless rendering everywhere, and a private reference-return cache."""

import os

import pytest

# Before pygame or mujoco is imported: no display, no sound card, offscreen GL.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(scope="session")
def reference_cache(tmp_path_factory):
    """One reference-return cache for the session: measured once, never in the user's ~/.cache."""
    return tmp_path_factory.mktemp("tasksuite-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(reference_cache, monkeypatch):
    monkeypatch.setenv("TASKSUITE_CACHE", str(reference_cache))
