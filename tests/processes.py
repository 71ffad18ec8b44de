"""Process-tree helpers of the crash tests: which processes run below a pid, and whether they ended."""

import time
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every live (non-zombie) process below ``pid``, read from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            parents[int(entry.name)] = int(ppid)
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def assert_no_orphans(pids: set[int], timeout: float = 15.0) -> None:
    """The processes ``pids`` all end within ``timeout`` seconds (zombies count as ended)."""
    deadline = time.monotonic() + timeout
    while alive := {pid for pid in pids if _alive(pid)}:
        assert time.monotonic() < deadline, f"processes {sorted(alive)} outlived their parent"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
