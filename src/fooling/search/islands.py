"""Island-model MAP-Elites: N copies of one `Evolution` evolve apart, merging every M generations.

Each island is a Ray actor holding its own copy of the run (classifier, encoding,
archive, random stream). A round runs every island from the same merged archive
to the same generation; the driver then merges what they changed (per class, the
best elite wins; a tie goes to the lower island) and the next round starts from
that. Only changed cells travel: each island sends the cells it improved, and the
driver sends back the cells the merge changed, so a round of a 1000-class archive
costs what its few new elites weigh, not the whole archive. Merges happen only at
round boundaries and each island's random stream is its own, so the same seed and
worker count give the same result.

An island that dies is restarted by Ray (`max_restarts`), and the round it was in
is retried on the new process (`max_task_retries`). The new process holds no
archive, so it asks for the whole merged one and runs the round from there; its
random stream is drawn afresh from its seed and its restart. The merged archive
never loses an elite.

A whole node that goes (its raylet and every worker on it) is another matter:
the driver notices it while it waits for a round (`fooling.distributed.nodes`) and
replaces each island that was there by a new one on a live node, sharing that
node's CPUs; the round runs again there from the whole merged archive. The round
the lost island was in never counts, so evaluations are counted once; the run
records the nodes it lost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm

from fooling.archive import Archive
from fooling.distributed.cluster import check_room, connect, restartable, share
from fooling.distributed.nodes import LOST, NodeWatch
from fooling.records import ProgressRow, Statistics
from fooling.search.evolution import Evolution
from fooling.search.result import SearchResult

COSTLY_GENERATION = 2**20
"""Image values (population x C x H x W) from which a CPU generation is costly enough to
merge after every one: an ImageNet-sized population of 7 or more, never an MNIST one."""


def default_migrate_every(device: torch.device, population: int, input_shape: Sequence[int]) -> int:
    """Generations between merges when none is asked for: 1 for costly CPU generations, else 10.

    A merge costs a few milliseconds (6-9 ms measured on 2 cores). Where a generation
    costs far more (EfficientNet-Lite0 on one CPU thread: 0.25 s for 50 images) merging after
    each one is free and keeps the islands as close to one search as they can be;
    merging every 10 generations made the median confidence of short runs lower
    (`benchmarks/ray_quality.py`). Where a generation costs milliseconds (LeNet, or
    any model on a GPU) merging every generation would double its time.

    Args:
        device: where the classifier runs.
        population: each island's images per generation.
        input_shape: the classifier's `(C, H, W)`.
    """
    values = population
    for size in input_shape:
        values *= size
    return 1 if device.type == "cpu" and values >= COSTLY_GENERATION else 10


def island_seed(seed: int, island: int, restart: int = 0) -> int:
    """The random seed of one island (and of its `restart`-th new process)."""
    digest = hashlib.sha256(f"fooling island {seed} {island} {restart}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def shipped(tensors: dict[str, Any]) -> dict[str, Any]:
    """`Archive.rows` or a `state_dict` as numpy arrays, for Ray to send.

    Ray sends numpy arrays without pickling them; torch tensors are pickled one
    by one, which made a round trip of an MNIST archive's changes 15x slower.
    """
    return {key: shipped(value) if isinstance(value, dict) else value.cpu().numpy()
            for key, value in tensors.items()}  # fmt: skip


def received(arrays: dict[str, Any]) -> dict[str, Any]:
    """What `shipped` sent, as tensors again (copied: Ray's arrays are read-only)."""
    return {key: received(value) if isinstance(value, dict) else torch.from_numpy(value.copy())
            for key, value in arrays.items()}  # fmt: skip


def merge(confidence: torch.Tensor, changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The cells that the islands' changes win, as `Archive.rows`.

    Args:
        confidence: `[K]` the merged archive's confidences before the round.
        changes: each island's improved cells (`Archive.rows`), in island order.

    Returns:
        Per class, the best change that beats `confidence`; a tie goes to the lower island.
    """
    best = confidence.clone()
    island = torch.full_like(best, -1, dtype=torch.long)
    row = torch.full_like(best, -1, dtype=torch.long)
    for index, change in enumerate(changes):
        better = change["confidence"] > best[change["cells"]]  # strictly: ties stay lower
        cells = change["cells"][better]
        best[cells] = change["confidence"][better]
        island[cells], row[cells] = index, better.nonzero().squeeze(1)
    cells = (island >= 0).nonzero().squeeze(1)
    parts = [(change, row[cells][island[cells] == index])
             for index, change in enumerate(changes)]  # fmt: skip
    order = torch.cat([cells[island[cells] == index] for index in range(len(changes))])

    def pick(tensors: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([tensor[rows] for tensor, (_, rows) in zip(tensors, parts, strict=True)])

    genomes = changes[0]["genomes"]
    return {
        "cells": order,
        "confidence": pick([change["confidence"] for change, _ in parts]),
        "found_at": pick([change["found_at"] for change, _ in parts]),
        "images": pick([change["images"] for change, _ in parts]),
        "genomes": {key: pick([change["genomes"][key] for change, _ in parts]) for key in genomes},
    }


class Island:
    """One island: a copy of the run that evolves a round at a time (a Ray actor's class).

    The run itself reaches the island with its first round (`run_round`), as a
    reference to the object store: a restarted island is built again from small
    arguments alone and reads the run from that reference when its round is retried.

    Args:
        seed: the run's seed.
        index: the island's number.
        threads: torch threads of the island's process.
        random_state: the island's random state in a checkpoint, to continue from.
        islands: how many islands the run has: each climbs its own share of the
            elites at a refinement (`Evolution.refine_part`).
        refined_at: the island's last refinement generation in that checkpoint.
        replaced: how many islands of this number were replaced before (after the loss
            of their node): a replacement draws its random stream afresh.
    """

    def __init__(
        self,
        seed: int,
        index: int,
        threads: int = 1,
        random_state: torch.Tensor | None = None,
        islands: int = 1,
        refined_at: int = -1,
        replaced: int = 0,
    ) -> None:
        import ray

        torch.set_num_threads(threads)
        restarted = int(ray.get_runtime_context().was_current_actor_reconstructed) + replaced
        self.evolution: Evolution | None = None
        self.reached = -2  # the last generation this process ran to
        self.seed = island_seed(seed, index, 2 * replaced + int(restarted > replaced))
        self.saved = None if restarted else random_state  # a checkpoint's, when resumed
        self.refined_at = -1 if restarted else refined_at
        self.part = (index, islands)

    def _load(self, template: list[Any]) -> Evolution:
        """The run, read from the object store the first time."""
        if self.evolution is None:
            import ray

            evolution = ray.get(template[0])
            generator = evolution.emitter.generator
            if self.saved is not None:
                generator.set_state(self.saved)
            else:
                generator.manual_seed(self.seed)
            evolution.refine_part, evolution.refined_at = self.part, self.refined_at
            self.evolution = evolution
        return self.evolution

    def state(self, template: list[Any]) -> tuple[torch.Tensor, int]:
        """The island's random state and last refinement generation, for a checkpoint
        (those of a new process, restarted since its last round, are the fresh ones it
        will start from)."""
        evolution = self._load(template)
        return evolution.emitter.generator.get_state(), evolution.refined_at

    def pid(self) -> int:
        """The island's process id (what a test kills)."""
        import os

        return os.getpid()

    def node(self) -> str:
        """The id of the Ray node the island runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def run_round(
        self,
        template: list[Any],
        merged: dict[str, Any] | None,
        changes: dict[str, Any] | None,
        first: int,
        last: int,
    ) -> tuple[dict[str, Any], int, int, float, int] | None:
        """Evolve generations `first` to `last` from the merged archive.

        Args:
            template: `[ObjectRef]` of the run (in a list, so that Ray hands the
                reference over instead of the run itself at every round).
            merged: the whole merged archive (`state_dict`, `shipped`) to start from, or None.
            changes: the cells the last merge changed (`Archive.rows`, `shipped`), or None.
            first: the round's first generation.
            last: its last generation.

        Returns:
            The cells the island improved (`Archive.rows`, `shipped`), its evaluations and
            refinement steps (`Evolution.refined`) in this round, its seconds, and the
            offspring it scored again in fp32 (`Evolution.rescored`). None,
            having run nothing, when it was given only `changes` but holds no archive to
            apply them to (a restarted island): it then needs `merged`.
        """
        evolution = self._load(template)
        if merged is not None:
            evolution.archive = Archive.from_state_dict(
                received(merged), evolution.classifier.device
            )
        elif changes is not None:
            if self.reached != first - 1:
                return None
            evolution.archive.put(received(changes))
        evolution.generation, evolution.history = first - 1, []
        before, refined, rescored = evolution.evaluations, evolution.refined, evolution.rescored
        started = time.perf_counter()
        start = evolution.archive.confidence.clone()
        while evolution.generation < last:  # (not `run`: the driver reports, in fp32)
            evolution.step()
        evolution.progress()  # checks the scores; the rows are the driver's to report
        self.reached = last
        improved = (evolution.archive.confidence > start).nonzero().squeeze(1)
        seconds = time.perf_counter() - started
        rows = shipped(evolution.archive.rows(improved, "cpu"))
        return (rows, evolution.evaluations - before, evolution.refined - refined, seconds,
                evolution.rescored - rescored)  # fmt: skip


@dataclass
class IslandRun:
    """A distributed run between merges: where it stands and what each island has done.

    Attributes:
        evolution: the run's settings, holding the merged archive and the counters
            (generation, evaluations, seconds, one history row per merge).
        migrate_every: generations between merges.
        per_island: each island's evaluations so far.
        islands: the islands' actor handles, while the run goes on.
        template: `[ObjectRef]` of the run the islands were built from.
        lost_nodes: Ray nodes the run lost while it ran (their islands replaced).
    """

    evolution: Evolution
    migrate_every: int
    per_island: list[int]
    islands: list[Any]
    template: list[Any]
    lost_nodes: int = 0

    @property
    def workers(self) -> int:
        """Islands."""
        return len(self.islands)

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint: the merged run's `state_dict` and every island's random state
        and last refinement generation."""
        import ray

        states = ray.get([island.state.remote(self.template) for island in self.islands])
        return {
            **self.evolution.state_dict(),
            "islands": {
                "workers": self.workers, "migrate_every": self.migrate_every,
                "evaluations": torch.tensor(self.per_island, dtype=torch.long),
                "random_states": {str(index): state for index, (state, _) in enumerate(states)},
                "refined_at": torch.tensor([refined_at for _, refined_at in states]),
                "lost_nodes": torch.tensor(self.lost_nodes),
            },
        }  # fmt: skip


def evolve_islands(
    evolution: Evolution,
    generations: int,
    *,
    workers: int,
    migrate_every: int = 10,
    address: str | None = None,
    threads: int = 1,
    after_merge: Callable[[IslandRun], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
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
        should_stop: asked after each merge; True ends the run there (Ctrl-C).
        progress: one progress bar over the whole run, moved at each merge.
        restore: the `"islands"` part of a checkpoint (`IslandRun.state_dict`) to
            continue from; `evolution` then holds the checkpoint's merged run.

    Returns:
        The merged result, its figures in fp32 as any run's; short of `generations`
        when `should_stop` ended it.

    Raises:
        FoolingError: Ray is missing, its cluster cannot be reached or has too few
            CPUs (GPUs, for a classifier on CUDA) for the islands.
    """
    ray = connect(address, cpus=None if address else workers * threads)
    gpu = evolution.classifier.device.type == "cuda"
    check_room(ray, workers=workers, threads=threads, gpu=gpu)
    actor = restartable(ray, Island, threads=threads, gpu=gpu)
    # kept until the end: a restarted island reads it again
    template = [share(ray, evolution, f"the run against {evolution.classifier.name}")]
    saved = [None] * workers if restore is None else [
        restore["random_states"][str(index)] for index in range(workers)]  # fmt: skip
    refined_at = [-1] * workers if restore is None else restore["refined_at"].tolist()
    islands = [actor.remote(evolution.seed, index, threads, saved[index], workers,
                            refined_at[index]) for index in range(workers)]  # fmt: skip
    per_island = [0] * workers if restore is None else restore["evaluations"].tolist()
    lost = 0 if restore is None else int(restore.get("lost_nodes", 0))
    run = IslandRun(evolution, migrate_every, per_island, islands, template, lost)
    replaced = [0] * workers

    def start(index: int) -> Any:  # in place of an island whose node is gone: a new stream
        replaced[index] += 1
        return actor.options(num_cpus=0).remote(
            evolution.seed, index, threads, None, workers, -1, replaced[index]
        )

    watch = NodeWatch(ray, islands, start)

    whole = None if restore is None else ray.put(shipped(evolution.archive.state_dict()))
    changes = None
    started = time.perf_counter() - evolution.seconds
    bar = tqdm(total=generations + 1, initial=evolution.generation + 1, unit="gen",
               disable=not progress, leave=False, dynamic_ncols=True,
               desc=f"evolve {evolution.encoding.name} x{workers}")  # fmt: skip
    try:
        while evolution.generation < generations:
            first, last = evolution.generation + 1, min(evolution.generation + migrate_every,
                                                        generations)  # fmt: skip
            calls = [island.run_round.remote(template, whole, changes, first, last)
                     for island in islands]  # fmt: skip
            finished = watch.results(dict(enumerate(calls)))
            while any(done is None or done is LOST for done in finished.values()):
                again = {}
                for index, done in finished.items():
                    if done is LOST:
                        watch.replace(index)
                    if done is None or done is LOST:  # a new process, holding no archive
                        whole = ray.put(shipped(evolution.archive.state_dict()))
                        again[index] = islands[index].run_round.remote(template, whole, None,
                                                                       first, last)  # fmt: skip
                finished.update(watch.results(again))
            rounds = [finished[index] for index in range(workers)]
            run.lost_nodes = lost + watch.lost
            merged = merge(
                evolution.archive.confidence.cpu(), [received(done[0]) for done in rounds]
            )
            evolution.archive.put(merged)
            whole, changes = None, ray.put(shipped(merged))
            before = evolution.evaluations
            rescored = 0
            for index, (_, evaluations, refined, _, island_rescored) in enumerate(rounds):
                run.per_island[index] += evaluations
                evolution.refined += refined
                rescored += island_rescored
            evolution.rescored += rescored
            evolution.generation, evolution.evaluations = last, sum(run.per_island)
            evolution.seconds = time.perf_counter() - started
            figures = Statistics.of(evolution.archive.confidence)
            row = ProgressRow.at(
                last,
                evolution.evaluations,
                evolution.seconds,
                figures,
                rescored / max(evolution.evaluations - before, 1),
            )
            evolution.history.append(row)
            bar.update(last + 1 - bar.n)
            bar.set_postfix(median=f"{figures.median:.5f}", fooled=figures.fooled)
            if after_merge is not None:
                after_merge(run)
            if should_stop is not None and should_stop():
                break
    finally:
        bar.close()
        for island in islands:
            ray.kill(island)
    return dataclasses.replace(
        evolution.result(), islands=run.per_island, migrate_every=migrate_every,
        lost_nodes=run.lost_nodes,
    )  # fmt: skip
