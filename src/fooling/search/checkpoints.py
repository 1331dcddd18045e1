"""When a run in a directory writes its next checkpoint.

By default every `EVERY` generations, but never so often that writing checkpoints takes
more than `SHARE` of the run's time. Most runs' checkpoints take milliseconds and keep
the 50; a direct-encoding run on ImageNet holds 1000 images and their genomes in fp32,
750 MB, seconds to write, which every 50 generations took a fifth or more of the run
(`benchmarks/checkpoint_cost.py`). An interval given by the caller is kept as given.
"""

from __future__ import annotations

import time
from collections.abc import Callable

EVERY = 50
"""Generations between checkpoints, by default at least."""
SHARE = 0.05
"""The most of a run's time its checkpoints may take, by default."""


class CheckpointSchedule:
    """Says when a run writes its next checkpoint, and times each one written.

    Args:
        every: generations between checkpoints; None: every `EVERY`, skipping a
            multiple of it where the time since the last checkpoint is still under
            `1 / SHARE - 1` times what writing that one took.
        saved: the generation of the last checkpoint (-1: none yet, so the first
            generation checked is due).
        clock: seconds, for timing (a test may pass its own).
    """

    def __init__(self, every: int | None = None, *, saved: int = -1,
                 clock: Callable[[], float] = time.perf_counter) -> None:  # fmt: skip
        self.every = EVERY if every is None else every
        self.adaptive = every is None
        self.saved = saved
        """The generation of the last checkpoint."""
        self._passed = saved  # the last generation that was, or could have been, saved
        self._clock = clock
        self._finished = clock()  # when the last checkpoint was written
        self._cost = 0.0  # how long writing it took

    def due(self, generation: int) -> bool:
        """Whether to write a checkpoint after `generation`: the first generation checked
        past a multiple of `every` (with islands, merges need not fall on one) and, by
        default, one whose checkpoint is worth its cost by now."""
        if generation // self.every <= self._passed // self.every:
            return False
        self._passed = generation
        waited = self._clock() - self._finished
        return not self.adaptive or waited >= self._cost * (1 / SHARE - 1)

    def write(self, generation: int, save: Callable[[], object]) -> None:
        """Call `save` to write the checkpoint of `generation`, and time it."""
        started = self._clock()
        save()
        self._finished = self._clock()
        self._cost = self._finished - started
        self.saved = self._passed = generation
