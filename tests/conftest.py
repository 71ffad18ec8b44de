"""Test-session set-up: headless rendering everywhere."""

import os

# Before pygame or mujoco is imported: no display, no sound card, offscreen GL.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")
