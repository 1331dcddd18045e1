"""A gathering's finished searches on disk, so that a gather stopped part way (its machine
taken back, Ctrl-C) continues from its last recorded search instead of its first.

Search `k` always finds the same images, and `gather` reads its searches in order, so
the searches read back from a journal followed by those run after them give the images
one uninterrupted gather would. A journal is a folder of safetensors files, each holding
a run of consecutive searches: per search, the images it found at the threshold at each
snapshot (an image already in the journal is stored once, where it was first found: a
later copy would be dropped as a repeat or refused by `keep` again), its evaluations and
whether it was given up. A file written for other settings (another network, seed,
population...) is not read.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fooling.errors import FoolingError
from fooling.runs.state import load_state, save_state

JOURNAL_FORMAT = "fooling-gather-journal-1"
FLUSH_SEARCHES = 20  # searches per file, at most
FLUSH_SECONDS = 60.0  # or this long since the last file, whichever comes first


@dataclass(frozen=True)
class Found:
    """What one search found: its elites at the threshold at each snapshot it reached
    (`uint8` images and their classes, on the CPU), its evaluations, and whether it was
    given up before its last generation."""

    snapshots: list[tuple[torch.Tensor, torch.Tensor]]
    evaluations: int
    given_up: bool


class Journal:
    """Where one gather records its searches as they finish.

    Args:
        folder: the journal's folder (created on the first write).
        settings: what decides the searches' images (JSON-able); files recorded under
            other settings are ignored.
    """

    def __init__(self, folder: Path, settings: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.settings = settings
        self._stored: set[bytes] = set()
        self._next = 0  # the number of the first search not yet written
        self._pending: list[Found] = []
        self._since = time.perf_counter()

    def recorded(self) -> tuple[list[Found], float]:
        """The searches recorded under these settings, from search 0 on with none
        missing, and the seconds they took."""
        searches: list[Found] = []
        seconds = 0.0
        for path in sorted(self.folder.glob("searches-*.safetensors")):
            try:
                state = load_state(path, kind=JOURNAL_FORMAT)
                if state.get("settings") != self.settings or state.get("first") != len(searches):
                    continue
                searches += _unpack(state)
                seconds += float(state["seconds"])
            except (FoolingError, KeyError, TypeError, ValueError, IndexError, RuntimeError):
                continue  # damaged: the searches it held are run again
        for found in searches:
            for images, _ in found.snapshots:
                self._stored.update(_keys(images))
        self._next = len(searches)
        self._since = time.perf_counter()
        return searches, seconds

    def add(self, found: Found) -> None:
        """Record the next search; written once enough searches or seconds have passed."""
        fresh = []
        for images, classes in found.snapshots:
            keys = _keys(images)
            kept = torch.tensor([key not in self._stored for key in keys], dtype=torch.bool)
            self._stored.update(keys)
            fresh.append((images[kept], classes[kept]))
        self._pending.append(Found(fresh, found.evaluations, found.given_up))
        if (len(self._pending) >= FLUSH_SEARCHES
                or time.perf_counter() - self._since >= FLUSH_SECONDS):  # fmt: skip
            self.flush()

    def flush(self) -> None:
        """Write the searches recorded since the last file (nothing when there are none).

        Raises:
            OSError: the file cannot be written.
        """
        if not self._pending:
            return
        now = time.perf_counter()
        first, count = self._next, len(self._pending)
        save_state(self.folder / f"searches-{first:07d}.safetensors",
                   _pack(self._pending, self.settings, first, now - self._since),
                   kind=JOURNAL_FORMAT)  # fmt: skip
        self._next += count
        self._pending = []
        self._since = now


def _keys(images: torch.Tensor) -> list[bytes]:
    return [hashlib.sha256(image.numpy().tobytes()).digest() for image in images]


def _pack(
    searches: list[Found], settings: dict[str, Any], first: int, seconds: float
) -> dict[str, Any]:
    """One file's state: every search's images in one tensor, `where` saying whose."""
    images, classes, where = [], [], []
    for number, found in enumerate(searches):
        for snapshot, (shot, fooled) in enumerate(found.snapshots):
            images.append(shot)
            classes.append(fooled)
            where += [(number, snapshot)] * len(shot)
    return {
        "settings": settings, "first": first, "seconds": seconds,
        "evaluations": [found.evaluations for found in searches],
        "given_up": [found.given_up for found in searches],
        "snapshots": [len(found.snapshots) for found in searches],
        "images": torch.cat(images), "classes": torch.cat(classes).long(),
        "where": torch.tensor(where, dtype=torch.long).view(-1, 2),
    }  # fmt: skip


def _unpack(state: dict[str, Any]) -> list[Found]:
    images, classes, where = state["images"], state["classes"], state["where"]
    searches = []
    for number, (evaluations, given_up, reached) in enumerate(
        zip(state["evaluations"], state["given_up"], state["snapshots"], strict=True)
    ):
        snapshots = []
        for snapshot in range(reached):
            rows = (where[:, 0] == number) & (where[:, 1] == snapshot)
            snapshots.append((images[rows], classes[rows]))
        searches.append(Found(snapshots, int(evaluations), bool(given_up)))
    return searches
