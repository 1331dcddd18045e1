"""A run directory: claimed and locked before a command writes, so that no run is lost by accident.

Every command that writes results (evolve, ascend, adversarial, figure1,
train, demo) writes them into a `RunDirectory`, inside a `with` block that
holds the directory's lock:

    with RunDirectory(out).claim(force=force) as directory:
        ...  # write into directory.path

Claiming refuses a directory that already holds a run unless the user said
`--force`, and `--force` removes only `RUN_FILES`, and only from a folder that
fooling itself made a run directory. The marker file `.fooling-run` says so,
and it carries the lock. The lock is advisory (`filelock`, an `flock` on
POSIX), so the system drops it when its process dies, even by `kill -9`. A
second command on the same directory is refused while the first runs. A
directory holds no symbolic links among its run files. Leftover temporary
files of an interrupted write are removed whenever the directory is claimed
or resumed. See docs/runs.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock, Timeout

from fooling.errors import FoolingError
from fooling.records import TEMPORARY_SUFFIX, atomic_write_text

Pages = Callable[[Any, Path], Path]
"""Writes the pages of a result (gallery.html, plots) into its run directory and returns
the main one: `fooling.write_pages`. Searches and experiments write runs but sit below
the pages, so whoever calls them hands one in."""

MARKER = ".fooling-run"
"""The file that marks a folder as a run directory and carries its lock."""

RUN_FILES = (
    "summary.json",
    "elites.safetensors",
    "gallery.html",
    "progress.csv",
    "images",
    "plots",
    "checkpoint",
    "figure1.png",
    "weights.safetensors",
    "iterations",
    "report.html",
    "steps.json",
    "runs",
    "study.html",
)
"""Everything any command writes in its run directory (and all that `--force` removes)."""

_FOLDERS = ("images", "plots", "checkpoint")
_TREES = ("iterations", "runs")  # folders of runs within the run, checked all the way down
_TEMPORARY = re.compile(
    r"^\..+\.\d+\.[0-9a-f]{8}" + re.escape(TEMPORARY_SUFFIX) + "$"  # `atomic_file`'s
    r"|^\.tmp[0-9A-Za-z]{6}$"  # safetensors' own, beside the file it writes (a checkpoint's)
)


class RunDirectory:
    """The folder one run writes into, and the names of what it writes there.

    Args:
        path: the folder (it need not exist yet).

    Raises:
        FoolingError: the path is empty.
    """

    def __init__(self, path: str | Path) -> None:
        if not str(path).strip():
            raise FoolingError("the run directory must be a path, not an empty string")
        self.path = Path(path)
        self.summary = self.path / "summary.json"
        self.elites = self.path / "elites.safetensors"
        self.gallery = self.path / "gallery.html"
        self.progress = self.path / "progress.csv"
        self.checkpoint = self.path / "checkpoint"
        self._lock: FileLock | None = None

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    def run_files(self) -> list[str]:
        """The names of `RUN_FILES` that exist in the folder (links included)."""
        return [name for name in RUN_FILES if os.path.lexists(self.path / name)]

    def has_checkpoint(self) -> bool:
        """Whether the folder holds a checkpoint to `--resume` from."""
        return (self.checkpoint / "state.safetensors").is_file()

    # --------------------------------------------------------- claiming
    def claim(self, *, force: bool = False) -> RunDirectory:
        """Lock the folder and make it ready for a new run, refusing to replace one unless `force`.

        Args:
            force: replace a run already there; only `RUN_FILES` are removed, and
                only from a folder that fooling made a run directory.

        Returns:
            This run directory, created if missing and locked until `release` (or
            the end of its `with` block).

        Raises:
            FoolingError: the path is a file or cannot be made a directory, another
                process holds the lock, the folder holds a run and `force` is False,
                or `force` would remove files from a folder fooling did not make.
        """
        existed = self._lock_folder()
        try:
            existing = self.run_files()
            if existing and not force:
                resume = ", or --resume to continue it" if self.has_checkpoint() else ""
                raise FoolingError(
                    f"{self.path} already holds a run ({', '.join(existing)}); "
                    f"pass --force to replace it{resume}"
                )
            if existing and not (existed or self._legacy_run()):
                raise FoolingError(
                    f"{self.path} holds {', '.join(existing)} but is not a fooling run "
                    "directory, so --force will not delete them: choose another --out"
                )
            for name in existing:
                _remove(self.path / name)
            self._remove_temporary_files()
        except OSError as error:
            self.release()
            raise FoolingError(f"cannot prepare {self.path} for a run: {_reason(error)}") from None
        except FoolingError:
            self.release(forget=not existed)
            raise
        return self

    def resumable(self) -> RunDirectory:
        """Lock the folder and check that it holds a checkpoint to continue from.

        Returns:
            This run directory, locked until `release` (or the end of its `with` block).

        Raises:
            FoolingError: there is no checkpoint, another process holds the lock, or
                the folder holds a symbolic link among its run files.
        """
        if not self.has_checkpoint():
            again = "; start it again with --force" if self.run_files() else ""
            raise FoolingError(f"no checkpoint in {self.path}: nothing to --resume{again}")
        return self.reopen()

    def reopen(self) -> RunDirectory:
        """Lock a run directory to continue the run in it, keeping what is there.

        Returns:
            This run directory, locked until `release` (or the end of its `with` block).

        Raises:
            FoolingError: another process holds the lock, or the folder holds a
                symbolic link among its run files.
        """
        self._lock_folder()
        try:
            self._refuse_links()
            self._remove_temporary_files()
        except OSError as error:
            self.release()
            raise FoolingError(f"cannot prepare {self.path} to resume: {_reason(error)}") from None
        except FoolingError:
            self.release()
            raise
        return self

    def release(self, *, forget: bool = False) -> None:
        """Let go of the lock (`forget`: and remove the marker this claim created)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
            if forget:
                (self.path / MARKER).unlink(missing_ok=True)

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    # --------------------------------------------------------- summary
    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write `summary.json` atomically (written last, it marks a finished run).

        Raises:
            ValueError: a value is NaN or infinite (it would not be valid JSON).
        """
        atomic_write_text(self.summary, json.dumps(summary, indent=2, allow_nan=False) + "\n")
        return self.summary

    def read_summary(self) -> dict[str, Any]:
        """The run's `summary.json`.

        Raises:
            FoolingError: there is none, or it is not a JSON object.
        """
        try:
            summary = json.loads(self.summary.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FoolingError(f"{self.path} holds no finished run (no summary.json)") from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise FoolingError(f"cannot read {self.summary}: {error}") from None
        if not isinstance(summary, dict):
            raise FoolingError(f"{self.summary} is not a run summary")
        return summary

    # --------------------------------------------------------- inside
    def _lock_folder(self) -> bool:
        """Create the folder if needed and take its lock; returns whether the marker existed.

        Raises:
            FoolingError: the folder cannot be made or locked, or is locked by another process.
        """
        if os.path.lexists(self.path) and not self.path.is_dir():
            raise FoolingError(f"{self.path} exists and is not a directory")
        marker = self.path / MARKER
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            existed = os.path.lexists(marker)
            lock = FileLock(marker, timeout=0)
            lock.acquire()
        except Timeout:
            raise FoolingError(
                f"{self.path} is in use by another fooling process; wait for it to finish "
                "or choose another --out"
            ) from None
        except OSError as error:
            reason = _reason(error)
            raise FoolingError(f"cannot use {self.path} as a run directory: {reason}") from None
        self._lock = lock
        return existed

    def _legacy_run(self) -> bool:
        """Whether the folder holds a run written before run directories had a marker.

        That is a `summary.json` naming its method or, as `fooling demo` left them, a
        `gallery.html` beside folders that are all such runs.
        """
        try:
            return "method" in self.read_summary()
        except FoolingError:
            pass
        if not self.gallery.is_file():
            return False
        folders = [path for path in self.path.iterdir() if path.is_dir()]
        return bool(folders) and all(RunDirectory(folder)._legacy_run() for folder in folders)

    def _refuse_links(self) -> None:
        """Raise FoolingError if a run file, or anything in a run folder, is a symbolic link."""
        for name in self.run_files():
            path = self.path / name
            inside = []
            if name in _FOLDERS and not path.is_symlink():
                inside = list(path.iterdir())
            elif name in _TREES and path.is_dir() and not path.is_symlink():
                inside = list(path.rglob("*"))
            for candidate in (path, *inside):
                if candidate.is_symlink():
                    raise FoolingError(
                        f"{candidate} is a symbolic link; fooling will not write through it: "
                        "remove it and run again"
                    )

    def _remove_temporary_files(self) -> None:
        """Remove what interrupted atomic writes left (the lock says no write is under way)."""
        for folder in (self.path, *(self.path / name for name in _FOLDERS)):
            if not folder.is_dir() or folder.is_symlink():
                continue
            for path in folder.iterdir():
                if _TEMPORARY.match(path.name) and not path.is_symlink() and path.is_file():
                    path.unlink()


def _reason(error: OSError) -> str:
    """An OS error in words, without repeating the path the message already names."""
    return error.strerror or str(error)


def _remove(path: Path) -> None:
    """Remove a file, a link (not what it points to) or a folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
