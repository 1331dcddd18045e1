"""One function over many items, on a few Ray actors, results in the items' order.

The experiments' unit of work: `retrain` runs its gathering searches one seed per
item, `transfer` scores one target per item. Each actor receives the shared
`context` (a classifier, the runs to score) once; the items go to the actors one
at a time each, as they become free, and their results come back in the order of
the items, so a caller that stops early (it has enough) sees exactly
what a run in one process would have seen. An actor that dies is restarted by
Ray and its item retried; one whose whole node dies is replaced on a live node
(`fooling.distributed.nodes`) and its item given to the replacement. Where a lost
node leaves fewer CPUs than workers, the workers it has no room for share the CPUs
of the others. With one worker the items run in this process, and Ray is not needed.

A run that maps several times (retraining gathers twice an iteration) keeps one
`Workers` for all of them, so that it starts its actors, and places them on the
nodes, once rather than for every map.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

import torch

from fooling.distributed.cluster import check_room, connect, live_cpus, restartable, share
from fooling.distributed.nodes import LOST, NodeWatch

Context = TypeVar("Context")
Item = TypeVar("Item")
Result = TypeVar("Result")


class Worker:
    """An actor's class: holds the context and applies the function to one item at a time.

    The context reaches it in a list (as `Island`'s run does), read from the object
    store on the first call, so a restarted worker is built from small arguments.
    """

    def __init__(self, threads: int) -> None:
        torch.set_num_threads(threads)
        self.context: Any = None
        self.loaded: str | None = None  # the object id of the context held

    def call(self, function: Callable[[Any, Any], Any], context: list[Any], item: Any) -> Any:
        if self.loaded != context[0].hex():  # the first item of a map
            import ray

            self.context, self.loaded = ray.get(context[0]), context[0].hex()
        return function(self.context, item)

    def node(self) -> str:
        """The id of the Ray node the worker runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()


class Workers:
    """Ray actors kept for the maps of one run; a context manager that ends them.

    Args:
        workers: actors to start.
        address: a running Ray cluster to join (`"auto"`), or None for a local one.
        threads: torch threads (and Ray CPUs) of each actor.
        gpu: give each actor one GPU.

    Raises:
        FoolingError: Ray is missing, or its cluster cannot be reached or has too few
            GPUs for the actors. Actors the cluster has no CPUs for share them.
    """

    def __init__(
        self, workers: int, *, address: str | None = None, threads: int = 1, gpu: bool = False
    ) -> None:
        self.ray = ray = connect(address, cpus=None if address else workers * threads)
        if gpu:
            check_room(ray, workers=workers, threads=threads, gpu=gpu)
        actor = restartable(ray, Worker, threads=threads, gpu=gpu)
        # where a node was lost earlier in the run, the actors it had room for share the rest
        room = workers if gpu else int(live_cpus(ray) // threads)
        self.actors = [(actor if index < room else actor.options(num_cpus=0)).remote(threads)
                       for index in range(workers)]  # fmt: skip
        spare = actor.options(num_cpus=0)
        self.watch = NodeWatch(ray, self.actors, lambda _: spare.remote(threads))
        self.closed = False

    def close(self) -> None:
        """End the actors, any item in hand with them."""
        if not self.closed:
            for actor in self.actors:
                self.ray.kill(actor)
            self.closed = True

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def ordered_map(
    function: Callable[[Context, Item], Result],
    context: Context,
    items: Iterable[Item],
    *,
    workers: int | Workers = 1,
    address: str | None = None,
    threads: int = 1,
    gpu: bool = False,
) -> Iterator[Result]:
    """`function(context, item)` for each item, yielded in the items' order.

    Items are taken from `items` only as workers become free, so it may be
    endless. Closing the iterator early ends the workers and the items in hand, unless
    the workers are a `Workers` of the caller's: those are kept for a later map, whose
    items wait for the ones in hand to finish, unread. An error (Ctrl-C) ends them at
    once either way.

    Args:
        function: a module-level function (it is pickled to the workers).
        context: what every call shares; sent once to each worker.
        items: the work, one call each.
        workers: Ray actors working at once, started for this map; 1 runs everything
            in this process; or `Workers` already started (then `address`, `threads`
            and `gpu` are theirs).
        address: a running Ray cluster to join (`"auto"`), or None for a local one.
        threads: torch threads (and Ray CPUs) of each worker.
        gpu: give each worker one GPU.

    Yields:
        Each item's result, in order.

    Raises:
        FoolingError: as `Workers`.
    """
    if isinstance(workers, Workers):
        yield from _mapped(function, context, items, workers)
        return
    if workers <= 1:
        for item in items:
            yield function(context, item)
        return
    with Workers(workers, address=address, threads=threads, gpu=gpu) as started:
        yield from _mapped(function, context, items, started)


def _mapped(
    function: Callable[[Context, Item], Result],
    context: Context,
    items: Iterable[Item],
    pool: Workers,
) -> Iterator[Result]:
    ray, actors, watch = pool.ray, pool.actors, pool.watch
    shared = [share(ray, context, "the work")]  # kept to the end: a restarted worker reads it

    def submit(item: Item, index: int) -> list[Any]:  # [item, worker, call], in item order
        return [item, index, actors[index].call.remote(function, shared, item)]

    pending = iter(items)
    queue = deque(submit(item, index) for index, item in enumerate(islice(pending, len(actors))))
    try:
        while queue:
            item, index, call = queue[0]
            result = watch.results({index: call})[index]
            if result is LOST:  # its node is gone: a new worker on a live node takes its items
                watch.replace(index)
                for entry in queue:
                    if entry[1] == index:
                        entry[:] = submit(entry[0], index)
                continue
            queue.popleft()
            for item in islice(pending, 1):
                queue.append(submit(item, index))
            yield result
    except BaseException as error:
        if not isinstance(error, GeneratorExit):
            pool.close()
        raise
