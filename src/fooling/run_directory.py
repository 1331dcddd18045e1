"""A run directory: claimed before a command writes, so that no run is lost by accident.

Every command that writes results (evolve, ascend, adversarial, figure1,
train, demo) writes them into a `RunDirectory`. Claiming one refuses a
directory that already holds a run unless the user said `--force` (which then
removes only the files a run writes) or continues it with `--resume`. See
"A run on disk" in DESIGN.md for what lies inside.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from fooling.errors import FoolingError
from fooling.records import atomic_write_text

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
)
"""Everything any command writes in its run directory (and all that `--force` removes)."""


class RunDirectory:
    """The folder one run writes into, and the names of what it writes there.

    Args:
        path: the folder (it need not exist yet).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.summary = self.path / "summary.json"
        self.elites = self.path / "elites.safetensors"
        self.gallery = self.path / "gallery.html"
        self.progress = self.path / "progress.csv"
        self.checkpoint = self.path / "checkpoint"

    def __repr__(self) -> str:
        return f"RunDirectory({str(self.path)!r})"

    def run_files(self) -> list[str]:
        """The names of `RUN_FILES` that exist in the folder."""
        return [name for name in RUN_FILES if (self.path / name).exists()]

    def claim(self, *, force: bool = False) -> RunDirectory:
        """Make the folder ready for a new run, refusing to replace one unless `force`.

        Args:
            force: replace a run already there; only `RUN_FILES` are removed, and
                anything else in the folder is kept.

        Returns:
            This run directory, created if missing.

        Raises:
            FoolingError: the path is a file, or holds a run and `force` is False.
        """
        if self.path.exists() and not self.path.is_dir():
            raise FoolingError(f"{self.path} exists and is not a directory")
        existing = self.run_files()
        if existing and not force:
            raise FoolingError(
                f"{self.path} already holds a run ({', '.join(existing)}); "
                "pass --force to replace it (or --resume, where a command can continue it)"
            )
        for name in existing:
            path = self.path / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def resumable(self) -> RunDirectory:
        """This run directory, checked to hold a checkpoint to continue from.

        Raises:
            FoolingError: there is no checkpoint.
        """
        if not (self.checkpoint / "state.safetensors").is_file():
            raise FoolingError(f"no checkpoint at {self.checkpoint}: nothing to --resume")
        return self

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write `summary.json` atomically (written last, it marks a finished run)."""
        atomic_write_text(self.summary, json.dumps(summary, indent=2) + "\n")
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
