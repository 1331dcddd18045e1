"""When a run in a directory writes its next checkpoint.

By default every `EVERY` generations, but no more often than keeps writing them under
`SHARE` of the run's time, as long as none takes longer than the slowest before it. Most
runs' checkpoints take milliseconds and keep the 50; a direct-encoding run on ImageNet
holds 1000 images and their genomes in fp32, 750 MB, about 4 seconds to write on a
2-core Xeon and longer under load: every 50 generations, 9% of the run's time there
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
            `1 / SHARE - 1` times the longest any has taken to write.
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
        self._cost = 0.0  # the longest a checkpoint has taken to write

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
        self._cost = max(self._cost, self._finished - started)
        self.saved = self._passed = generation
