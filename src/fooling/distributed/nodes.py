"""Waiting for Ray actors while watching their nodes: a node that dies is noticed, not waited on.

Ray restarts an actor whose process dies, and retries its call, but it restarts one
whose whole node died only where there is room for it, and otherwise waits for
ever. So a driver that waits for its actors asks Ray every `NODE_POLL_S` seconds
which nodes are alive, and gives up on a call whose actor's node is dead (`LOST`),
to replace the actor on a live node. Ray counts a node as dead once its health
check gives up, after about 15 s (5 missed checks 3 s apart, Ray's defaults).
"""

from __future__ import annotations

from typing import Any

from fooling.errors import FoolingError

LOST = object()
"""What `NodeWatch.results` gives for a call whose actor's node Ray counts as dead."""
NODE_POLL_S = 2.0  # how often a waiting driver asks Ray which nodes are alive


class NodeWatch:
    """The Ray node each of some actors runs on, and which of them Ray counts as dead.

    Args:
        ray: the `ray` module, initialised.
        actors: actor handles with a `node()` method that returns their node's id.
    """

    def __init__(self, ray: Any, actors: list[Any]) -> None:
        self.ray = ray
        self.nodes = ray.get([actor.node.remote() for actor in actors])
        self.dead: set[str] = set()

    @property
    def lost(self) -> int:
        """Nodes of these actors that died."""
        return len(self.dead)

    def follow(self, index: int, actor: Any) -> None:
        """Actor `index` is now `actor` (a replacement)."""
        self.nodes[index] = self.ray.get(actor.node.remote())

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
            alive = {node["NodeID"] for node in ray.nodes() if node.get("Alive")}
            for index, call in list(waiting.items()):
                if call in ready:
                    try:
                        done[index] = ray.get(call)
                    except ray.exceptions.RayError:  # kept on the node that died: lost too
                        if self.nodes[index] in alive:
                            raise
                        self.dead.add(self.nodes[index])
                    del waiting[index]
            if not alive:
                raise FoolingError("every node of the Ray cluster is gone")
            for index in list(waiting):
                if self.nodes[index] not in alive:
                    self.dead.add(self.nodes[index])
                    del waiting[index]
        return done
