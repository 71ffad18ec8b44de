"""The results folder of one evaluation run.

::

    OUT/
      .tasksuite-folder.json   marks OUT as a results folder (see tasksuite.core.folder)
      .tasksuite.lock      held by the one process writing OUT; holds its pid
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
Unit files skip the fsync (a few ms each, most of an evaluation's writing): after an OS
crash or a power loss one may come back empty, cut short or missing, which the checks below
catch (every record says how many records its file holds), and the unit is run again.

Nothing read back is trusted blindly. Every unit record carries ``run``, the hash of the
configuration that produced it (agent, its kwargs and the digests of files they name, benchmark,
protocols, K, E, ...), ``unit_records``, the number of records of its file, and ``check``, a digest
of the record itself. A unit file whose path, run hash, record count, digests or numbers (NaN,
infinity) do not match is refused by ``report`` and run again
by ``evaluate`` (with a warning). These checks catch copied, stale and hand-edited files; they are
not a signature against someone who recomputes the digests on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

from tasksuite.core.errors import IntegrityError, TasksuiteError
from tasksuite.core.folder import OwnedFolder, check_folder, claim_folder
from tasksuite.core.io import atomic_write_json, atomic_write_text, parse_json, read_json, temporary_prefix
from tasksuite.core.task import canonical_json

KIND = "results"
# Settings that do not change results (how the run executes, what the report calls the method):
# they may differ between a run and its resumption.
_EXECUTION_SETTINGS = ("workers", "backend", "method")
# Fields the results folder adds to each record it saves (and strips when reading them back).
_RUN, _CHECK, _COUNT = "run", "check", "unit_records"


def run_hash(config: dict[str, Any]) -> str:
    """Hash of the settings that determine a run's results (execution settings left out)."""
    relevant = {key: value for key, value in config.items() if key not in _EXECUTION_SETTINGS}
    return hashlib.sha256(canonical_json(relevant).encode("utf-8")).hexdigest()[:16]


def digest(value: dict[str, Any]) -> str:
    """Short content digest of a JSON-able dict (its ``check`` field excluded)."""
    body = {key: item for key, item in value.items() if key != _CHECK}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()[:16]


class ResultsDir:
    """Paths and atomic reads and writes of one run's results folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._given = root  # as given: Path("") would silently mean the current folder
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.references = self.root / "references.json"
        self.units = self.root / "units"
        self.episodes = self.root / "episodes.jsonl"
        self.summary = self.root / "summary.json"
        self.report = self.root / "report.md"
        self.plots = self.root / "plots"
        self._run: str | None = None

    def claim(self) -> OwnedFolder:
        """Create or reopen the folder and lock it for this process (see :mod:`tasksuite.core.folder`)."""
        return claim_folder(self._given, KIND)

    def prepare(self, config: dict[str, Any]) -> None:
        """Check that the (claimed) folder is new or holds the same run (then resume it); save ``config``.

        Removes the temp files an interrupted write of this folder's own files left behind.
        """
        check_folder(self.root, KIND)
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
        for stale in self._temporaries():
            stale.unlink(missing_ok=True)
        atomic_write_json(self.config, config)
        self._run = run_hash(config)

    def _temporaries(self) -> list[Path]:
        """Leftovers of interrupted writes of this folder's files (never anything else in it)."""
        own = (self.config, self.references, self.episodes, self.summary, self.report)
        found = [tmp for path in own for tmp in self.root.glob(f"{temporary_prefix(path.name)}*.tmp")]
        for folder in (self.units, self.plots):
            if folder.is_dir() and not folder.is_symlink():
                found += [tmp for tmp in folder.rglob(".*.tmp") if tmp.is_file()]
        return found

    def read_config(self) -> dict[str, Any]:
        """The run's saved settings."""
        check_folder(self.root, KIND)
        if not self.config.exists():
            raise TasksuiteError(f"{self.root} is not a results folder: it has no config.json")
        config = read_json(self.config)
        if not isinstance(config, dict):
            raise IntegrityError(f"{self.config}: expected a JSON object")
        self._run = run_hash(config)
        return config

    def unit_file(self, key: str) -> Path:
        """Where unit ``key``'s episode records are saved."""
        return self.units / f"{key}.jsonl"

    def error_file(self, key: str) -> Path:
        """Where unit ``key``'s failure (error and traceback) is saved."""
        return self.units / f"{key}.error.json"

    def is_finished(self, key: str) -> bool:
        """Whether unit ``key`` finished in an earlier or this run, with records that check out.

        A unit file that does not check out (see the module docstring) counts as unfinished,
        with a warning, so that the unit runs again.
        """
        if not self.unit_file(key).exists():
            return False
        try:
            self.read_unit(key)
        except IntegrityError as error:
            warnings.warn(f"{error}; running unit {key} again", stacklevel=2)
            return False
        return True

    def save_unit(self, key: str, records: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> None:
        """Save a finished unit's records, stamped with the run hash and a digest (and forget an
        earlier failure of it)."""
        stamped = []
        for record in records:
            if record.get("unit") != key:
                raise TasksuiteError(f"internal error: a record of unit {record.get('unit')!r} saved as unit {key!r}")
            record = {**record, _RUN: self._run, _COUNT: len(records)}
            stamped.append({**record, _CHECK: digest(record)})
        # Not fsynced: a file a power loss cut short, even at a line boundary, holds fewer records
        # than each of them says, and read_unit refuses it.
        atomic_write_text(self.unit_file(key), to_jsonl(stamped), durable=False)
        self.error_file(key).unlink(missing_ok=True)

    def read_unit(self, key: str) -> list[dict[str, Any]]:
        """Unit ``key``'s records, checked: its own key, this run's hash, intact digests, finite numbers.

        Raises :class:`IntegrityError` naming the file and what does not match.
        """
        path = self.unit_file(key)
        lines = path.read_bytes().splitlines()
        if not lines:
            raise IntegrityError(f"{path}: empty unit file")
        records = []
        for number, line in enumerate(lines, start=1):
            record = parse_json(line, f"{path} line {number}")
            if not isinstance(record, dict):
                raise IntegrityError(f"{path} line {number}: a record is a JSON object")
            if record.get(_CHECK) != digest(record):
                raise IntegrityError(f"{path} line {number}: the record does not match its digest (edited?)")
            if record.get(_RUN) != self._run:
                raise IntegrityError(
                    f"{path} line {number}: written by another configuration (run {record.get(_RUN)!r}, "
                    f"this folder's run is {self._run!r})"
                )
            if record.get("unit") != key:
                raise IntegrityError(f"{path} line {number}: a record of unit {record.get('unit')!r}, not {key!r}")
            if record.get(_COUNT) != len(lines):
                raise IntegrityError(
                    f"{path} line {number}: the file holds {len(lines)} record(s), its records say "
                    f"{record.get(_COUNT)!r} (cut short by a crash while it was written?)"
                )
            records.append({k: v for k, v in record.items() if k not in (_RUN, _CHECK, _COUNT)})
        return records

    def save_error(self, key: str, error: str, traceback: str) -> None:
        """Record that unit ``key`` failed, with its traceback."""
        atomic_write_json(self.error_file(key), {"unit": key, "error": error, "traceback": traceback})

    def read_records(self) -> list[dict[str, Any]]:
        """Every finished unit's records, in a fixed order (by unit key, then episode).

        Raises :class:`IntegrityError` listing every unit file that does not check out.
        """
        self.read_config()
        records, refused = [], []
        for path in sorted(self.units.rglob("*.jsonl")) if self.units.is_dir() else []:
            try:
                records += self.read_unit(path.relative_to(self.units).with_suffix("").as_posix())
            except IntegrityError as error:
                refused.append(str(error))
        if refused:
            raise IntegrityError(
                f"{len(refused)} unit file(s) of {self.root} do not check out and are not reported "
                "(re-run the same evaluate command to recompute them): " + "; ".join(refused)
            )
        return sorted(records, key=lambda r: (r["unit"], r["task_id"], r["episode"]))

    def read_errors(self) -> list[dict[str, Any]]:
        """Every failed unit's error record."""
        return [read_json(p) for p in sorted(self.units.rglob("*.error.json"))] if self.units.is_dir() else []

    def save_references(self, references: dict[str, Any]) -> None:
        """Save the oracle/random reference returns used by this run."""
        atomic_write_json(self.references, references)

    def read_references(self) -> dict[str, Any]:
        """The saved reference returns (empty before any are saved)."""
        return read_json(self.references) if self.references.exists() else {}


def to_jsonl(records: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> str:
    """JSON lines (NaN and infinity refused, like every JSON tasksuite writes)."""
    return "".join(json.dumps(record, allow_nan=False) + "\n" for record in records)
