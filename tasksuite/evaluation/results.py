"""The results folder of one evaluation run.

::

    OUT/
      config.json          what was run (agent, benchmark, protocols, K, E, seeds, ...)
      references.json      oracle and random reference returns of every task evaluated
      units/<key>.jsonl    one finished unit's episode records, one JSON object a line
      units/<key>.error.json   a unit that raised: the error and its traceback
      episodes.jsonl       every episode record, sorted, with its normalized return
      summary.json         scores, aggregates, curves (see tasksuite.evaluation.report)
      report.md            the human-readable report
      plots/*.png          adaptation curves, score vs OOD distance, transfer ratios

Every file is written atomically (temp file, fsync, rename), so a killed run
leaves whole files only, and a unit file exists exactly when the unit finished:
re-running the same command skips finished units and retries failed ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tasksuite.core.errors import TasksuiteError
from tasksuite.core.io import atomic_write_json, atomic_write_text, read_json, read_jsonl

# Settings that do not change results (how the run executes, what the report calls the method):
# they may differ between a run and its resumption.
_EXECUTION_SETTINGS = ("workers", "backend", "method")


class ResultsDir:
    """Paths and atomic reads and writes of one run's results folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.references = self.root / "references.json"
        self.units = self.root / "units"
        self.episodes = self.root / "episodes.jsonl"
        self.summary = self.root / "summary.json"
        self.report = self.root / "report.md"
        self.plots = self.root / "plots"

    def prepare(self, config: dict[str, Any]) -> None:
        """Create the folder, or check that it holds the same run (then resume it).

        Removes temp files an interrupted write left behind.
        """
        if self.root.exists() and not self.root.is_dir():
            raise TasksuiteError(f"{self.root} is an existing file; a results folder is a directory")
        if self.config.exists():
            saved = self.read_config()
            differing = sorted(
                key
                for key in set(saved) | set(config)
                if key not in _EXECUTION_SETTINGS and saved.get(key) != config.get(key)
            )
            if differing:
                details = "; ".join(f"{k}: saved {saved.get(k)!r}, now {config.get(k)!r}" for k in differing)
                raise TasksuiteError(
                    f"{self.root} holds the results of a different run ({details}); "
                    "give another --out, or repeat the saved settings to resume"
                )
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.rglob(".*.tmp"):
            stale.unlink(missing_ok=True)
        atomic_write_json(self.config, config)

    def read_config(self) -> dict[str, Any]:
        """The run's saved settings."""
        if not self.config.exists():
            raise TasksuiteError(f"{self.root} is not a results folder: it has no config.json")
        config = read_json(self.config, TasksuiteError)
        if not isinstance(config, dict):
            raise TasksuiteError(f"{self.config} is not the config.json of a tasksuite results folder")
        return config

    def unit_file(self, key: str) -> Path:
        """Where unit ``key``'s episode records are saved."""
        return self.units / f"{key}.jsonl"

    def error_file(self, key: str) -> Path:
        """Where unit ``key``'s failure (error and traceback) is saved."""
        return self.units / f"{key}.error.json"

    def is_finished(self, key: str) -> bool:
        """Whether unit ``key`` finished in an earlier or this run."""
        return self.unit_file(key).exists()

    def save_unit(self, key: str, records: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> None:
        """Save a finished unit's records (and forget an earlier failure of it)."""
        atomic_write_text(self.unit_file(key), to_jsonl(records))
        self.error_file(key).unlink(missing_ok=True)

    def save_error(self, key: str, error: str, traceback: str) -> None:
        """Record that unit ``key`` failed, with its traceback."""
        atomic_write_json(self.error_file(key), {"unit": key, "error": error, "traceback": traceback})

    def read_records(self) -> list[dict[str, Any]]:
        """Every finished unit's records, in a fixed order (by unit key, then episode)."""
        files = sorted(self.units.rglob("*.jsonl"))
        records = [record for path in files for record in read_jsonl(path, TasksuiteError)]
        return sorted(records, key=lambda r: (r["unit"], r["task_id"], r["episode"]))

    def read_errors(self) -> list[dict[str, Any]]:
        """Every failed unit's error record."""
        return [read_json(path, TasksuiteError) for path in sorted(self.units.rglob("*.error.json"))]

    def save_references(self, references: dict[str, Any]) -> None:
        """Save the oracle/random reference returns used by this run."""
        atomic_write_json(self.references, references)

    def read_references(self) -> dict[str, Any]:
        """The saved reference returns (empty before any are saved)."""
        return read_json(self.references, TasksuiteError) if self.references.exists() else {}


def to_jsonl(records: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> str:
    """JSON lines (NaN and infinity refused, like every JSON tasksuite writes)."""
    return "".join(json.dumps(record, allow_nan=False) + "\n" for record in records)
