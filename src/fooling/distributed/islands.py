"""Island-model MAP-Elites: N copies of one `Evolution` evolve apart, merging every M generations.

Each island is a Ray actor holding its own copy of the run (classifier, encoding,
archive, random stream). A round runs every island from the same merged archive
to the same generation; the driver then merges their archives (per class, the best
elite wins; a tie goes to the lower island) and the next round starts from that.
Merges happen only at round boundaries and each island's random stream is its
own, so the same seed and worker count give the same result.

An island that dies is restarted by Ray (`max_restarts`), and the round it was in
is retried on the new process (`max_task_retries`) with the same arguments: the
last merged archive. Its random stream is then drawn afresh from its seed and
its restart, so the merged archive never loses an elite.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm

from fooling.archive import Archive
from fooling.records import ProgressRow, Statistics
from fooling.search.evolution import Evolution
from fooling.search.result import SearchResult

MIGRATE_EVERY = 10
"""Generations between merges, by default."""


def island_seed(seed: int, island: int, restart: int = 0) -> int:
    """The random seed of one island (and of its `restart`-th new process)."""
    digest = hashlib.sha256(f"fooling island {seed} {island} {restart}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def merge(states: list[dict[str, Any]]) -> dict[str, Any]:
    """One archive from several of the same classes: per class, the best elite.

    Args:
        states: `Archive.state_dict()`s, in island order.

    Returns:
        The merged `state_dict`; a tie goes to the lower island.
    """
    confidence = torch.stack([state["confidence"] for state in states])  # [N, K]
    winner = confidence.argmax(dim=0)  # the first of equal maxima: the lower island
    cells = torch.arange(confidence.shape[1])

    def pick(tensors: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(tensors)[winner, cells]

    return {
        "classes": states[0]["classes"].clone(),
        "confidence": pick([state["confidence"] for state in states]),
        "found_at": pick([state["found_at"] for state in states]),
        "images": pick([state["images"] for state in states]),
        "genomes": {
            key: pick([state["genomes"][key] for state in states]) for key in states[0]["genomes"]
        },
    }


class Island:
    """One island: a copy of the run that evolves a round at a time (a Ray actor's class).

    Args:
        evolution: the run to copy (not started); its classifier comes along.
        index: the island's number.
        threads: torch threads of the island's process.
        random_state: the island's random state in a checkpoint, to continue from.
    """

    def __init__(
        self,
        evolution: Evolution,
        index: int,
        threads: int = 1,
        random_state: torch.Tensor | None = None,
    ) -> None:
        import ray

        torch.set_num_threads(threads)
        restarted = ray.get_runtime_context().was_current_actor_reconstructed
        self.evolution = evolution
        generator = evolution.emitter.generator
        if random_state is not None and not restarted:  # resumed from a checkpoint
            generator.set_state(random_state)
        else:
            generator.manual_seed(island_seed(evolution.seed, index, int(restarted)))

    def random_state(self) -> torch.Tensor:
        """The island's random state (for a checkpoint)."""
        return self.evolution.emitter.generator.get_state()

    def pid(self) -> int:
        """The island's process id (what a test kills)."""
        import os

        return os.getpid()

    def run_round(
        self, merged: dict[str, Any] | None, first: int, last: int
    ) -> tuple[dict[str, Any], int, float]:
        """Evolve generations `first` to `last`, from the merged archive (None: from scratch).

        Returns:
            The island's archive, its evaluations in this round, and its seconds.
        """
        evolution = self.evolution
        if merged is not None:
            evolution.archive = Archive.from_state_dict(merged, evolution.classifier.device)
        evolution.generation, evolution.history = first - 1, []
        before, started = evolution.evaluations, time.perf_counter()
        while evolution.generation < last:  # (not `run`: the driver reports, in fp32)
            evolution.step()
        evolution.progress()  # checks the scores; the rows are the driver's to report
        seconds = time.perf_counter() - started
        return evolution.archive.state_dict(), evolution.evaluations - before, seconds


@dataclass
class IslandRun:
    """A distributed run between merges: where it stands and what each island has done.

    Attributes:
        evolution: the run's settings, holding the merged archive and the counters
            (generation, evaluations, seconds, one history row per merge).
        workers: islands.
        migrate_every: generations between merges.
        per_island: each island's evaluations so far.
        islands: the islands' actor handles, while the run goes on.
    """

    evolution: Evolution
    workers: int
    migrate_every: int
    per_island: list[int]
    islands: list[Any]

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: the merged run's `state_dict` and every island's random state."""
        import ray

        states = ray.get([island.random_state.remote() for island in self.islands])
        return {
            **self.evolution.state_dict(),
            "islands": {
                "workers": self.workers, "migrate_every": self.migrate_every,
                "evaluations": torch.tensor(self.per_island, dtype=torch.long),
                "random_states": {str(index): state for index, state in enumerate(states)},
            },
        }  # fmt: skip


def evolve_islands(
    evolution: Evolution,
    generations: int,
    *,
    workers: int,
    migrate_every: int = MIGRATE_EVERY,
    address: str | None = None,
    threads: int = 1,
    after_merge: Callable[[IslandRun], None] | None = None,
    progress: bool = True,
    restore: dict[str, Any] | None = None,
) -> SearchResult:
    """Run `evolution` as `workers` islands on Ray, merging every `migrate_every` generations.

    Args:
        evolution: the run's settings (classifier, encoding, population, seed,
            classes), not started, or restored from a checkpoint (`restore`); it
            ends holding the merged archive.
        generations: the last generation.
        workers: islands.
        migrate_every: generations between merges.
        address: a running cluster to join (`"auto"`), or None for a local one.
        threads: torch threads per island.
        after_merge: called after each merge (to write progress and checkpoints).
        progress: one progress bar over the whole run, moved at each merge.
        restore: the `"islands"` part of a checkpoint (`IslandRun.state_dict`) to
            continue from; `evolution` then holds the checkpoint's merged run.

    Returns:
        The merged result, its figures in fp32 as any run's.

    Raises:
        FoolingError: Ray is missing or its cluster cannot be reached.
    """
    from fooling.distributed.cluster import connect

    ray = connect(address, cpus=None if address else workers * threads)
    actor = ray.remote(num_cpus=threads, max_restarts=-1, max_task_retries=-1)(Island)
    template = ray.put(evolution)  # kept until the end: a restarted island is built from it
    saved = [None] * workers if restore is None else [
        restore["random_states"][str(index)] for index in range(workers)]  # fmt: skip
    islands = [actor.remote(template, index, threads, saved[index]) for index in range(workers)]
    per_island = [0] * workers if restore is None else restore["evaluations"].tolist()
    run = IslandRun(evolution, workers, migrate_every, per_island, islands)
    merged = None if restore is None else evolution.archive.state_dict()
    started = time.perf_counter() - evolution.seconds
    bar = tqdm(total=generations + 1, initial=evolution.generation + 1, unit="gen",
               disable=not progress, leave=False, dynamic_ncols=True,
               desc=f"evolve {evolution.encoding.name} x{workers}")  # fmt: skip
    while evolution.generation < generations:
        last = min(evolution.generation + migrate_every, generations)
        shared = None if merged is None else ray.put(merged)
        rounds = ray.get([
            island.run_round.remote(shared, evolution.generation + 1, last) for island in islands
        ])  # fmt: skip
        merged = merge([state for state, _, _ in rounds])
        for index, (_, evaluations, _) in enumerate(rounds):
            run.per_island[index] += evaluations
        evolution.archive = Archive.from_state_dict(merged, evolution.classifier.device)
        evolution.generation, evolution.evaluations = last, sum(run.per_island)
        evolution.seconds = time.perf_counter() - started
        figures = Statistics.of(evolution.archive.confidence)
        row = ProgressRow.at(last, evolution.evaluations, evolution.seconds, figures)
        evolution.history.append(row)
        bar.update(last + 1 - bar.n)
        bar.set_postfix(median=f"{figures.median:.5f}", fooled=figures.fooled)
        if after_merge is not None:
            after_merge(run)
    bar.close()
    for island in islands:
        ray.kill(island)
    return dataclasses.replace(evolution.result(), islands=run.per_island)
