"""Waiting for Ray actors while watching their nodes: a node that dies is noticed, not waited on.

Ray restarts an actor whose process dies, and retries its call, but it restarts one
whose whole node died only where there is room for it, and otherwise waits for
ever. So a driver that waits for its actors asks Ray every `NODE_POLL_S` seconds
which nodes are alive, and gives up on a call whose actor's node is dead (`LOST`),
to replace the actor on a live node. Ray counts a node as dead once its health
check gives up, after about 15 s (5 missed checks 3 s apart, Ray's defaults). Each
node lost is a warning, once.

The same holds while the actors are being placed: one that waits for a place when a
node dies may have been meant for that node, and is started again on a live one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from fooling.errors import FoolingError

LOST = object()
"""What `NodeWatch.results` gives for a call whose actor's node Ray counts as dead."""
NODE_POLL_S = 2.0  # how often a waiting driver asks Ray which nodes are alive


class NodeWatch:
    """The Ray node each of some actors runs on, and which of them Ray counts as dead.

    Args:
        ray: the `ray` module, initialised.
        actors: actor handles with a `node()` method that returns their node's id; an
            actor replaced is replaced in this list.
        start: `start(index)` starts a new actor in place of actor `index`, sharing a
            live node's CPUs (`num_cpus=0`), so that there is always room for it.
    """

    def __init__(self, ray: Any, actors: list[Any], start: Callable[[int], Any]) -> None:
        self.ray, self.actors, self.start = ray, actors, start
        self.dead: set[str] = set()
        self.nodes = self._placed()

    def _alive(self) -> set[str]:
        return {node["NodeID"] for node in self.ray.nodes() if node.get("Alive")}

    def _placed(self) -> list[str]:
        """Each actor's node, once it has one; an actor still waiting for one when a
        node dies is started again (`start`)."""
        ray, nodes = self.ray, {}
        alive = self._alive()
        waiting = {index: actor.node.remote() for index, actor in enumerate(self.actors)}
        while waiting:
            ready, _ = ray.wait(list(waiting.values()), num_returns=len(waiting),
                                timeout=NODE_POLL_S)  # fmt: skip
            for index in [index for index, call in waiting.items() if call in ready]:
                nodes[index] = ray.get(waiting.pop(index))
            now = self._alive()
            if waiting and not alive <= now:
                for node in alive - now:
                    self._lose(node)
                for index in waiting:
                    waiting[index] = self._restart(index).node.remote()
            alive = now
        return [nodes[index] for index in range(len(self.actors))]

    def _restart(self, index: int) -> Any:
        self.ray.kill(self.actors[index], no_restart=True)
        self.actors[index] = self.start(index)
        return self.actors[index]

    def replace(self, index: int) -> Any:
        """A new actor in place of actor `index`, whose node is gone, on a live node.

        Returns:
            The new actor (also at `actors[index]`).
        """
        actor = self._restart(index)
        self.nodes[index] = self.ray.get(actor.node.remote())
        return actor

    @property
    def lost(self) -> int:
        """Nodes that died while these actors ran on them or waited to be placed."""
        return len(self.dead)

    def results(self, calls: dict[int, Any]) -> dict[int, Any]:
        """The results of calls to the actors numbered by the keys; `LOST` for a call whose
        actor's node died before it returned.

        Raises:
            FoolingError: every node of the cluster is gone.
        """
        ray, done = self.ray, dict.fromkeys(calls, LOST)
        waiting = dict(calls)
        while waiting:
            ready, _ = ray.wait(list(waiting.values()), num_returns=len(waiting),
                                timeout=NODE_POLL_S)  # fmt: skip
            alive = self._alive()
            for index, call in list(waiting.items()):
                if call in ready:
                    try:
                        done[index] = ray.get(call)
                    except ray.exceptions.RayError:  # kept on the node that died: lost too
                        if self.nodes[index] in alive:
                            raise
                        self._lose(self.nodes[index])
                    del waiting[index]
            if not alive:
                raise FoolingError("every node of the Ray cluster is gone")
            for index in list(waiting):
                if self.nodes[index] not in alive:
                    self._lose(self.nodes[index])
                    del waiting[index]
        return done

    def _lose(self, node: str) -> None:
        if node not in self.dead:
            warnings.warn(f"fooling: a Ray node was lost ({node[:12]}); its work goes to a "
                          "replacement on a live node", stacklevel=3)  # fmt: skip
        self.dead.add(node)
