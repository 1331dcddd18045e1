"""Starting or joining the Ray cluster the islands run on.

A local cluster binds to the loopback address only. Ray picks the machine's own
non-loopback address for a node even when told 127.0.0.1 (`ray start
--node-ip-address`, `ray.init(_node_ip_address=...)`); its switch for single-machine
clusters, `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, makes every service of the local
cluster listen on 127.0.0.1. Ray reads it when imported, so `connect` sets it in
the environment (the cluster's processes inherit it) and in Ray's constants (for a
`ray` this process imported already), then checks the node's address.
"""

from __future__ import annotations

import logging
import os
import socket
from types import ModuleType
from typing import Any

from fooling.errors import FoolingError, first_line

INSTALL = 'pip install "fooling[ray]"'
LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = (LOOPBACK, "localhost")
AUTH_SETUP = "ray._private.authentication.authentication_token_setup"


def connect(address: str | None = None, *, cpus: int | None = None) -> ModuleType:
    """Ray, initialised: a new local cluster on 127.0.0.1, or the cluster at `address`.

    Args:
        address: None for a local cluster of this machine; `"auto"` or `HOST:PORT` to
            join a running one (`ray start --head`).
        cpus: CPUs of a local cluster (default: all).

    Returns:
        The `ray` module.

    Raises:
        FoolingError: Ray is not installed, or the cluster cannot be reached.
    """
    host = None if address in (None, "auto") else _reachable(address)
    if address is None or host in LOOPBACK_NAMES:  # (Ray would reach 127.0.0.1 by another name)
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise FoolingError(f"--workers needs Ray: {INSTALL}") from None
    if ray.is_initialized():
        return ray
    if address is None:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        if address is None:  # (Ray's note that it enabled token auth, its default, is not shown)
            logging.getLogger(AUTH_SETUP).setLevel(logging.ERROR)
            # "local": a new cluster even where `ray start` runs one on this machine
            ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)  # fmt: skip
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise FoolingError(f"cannot start or join a Ray cluster: {error}") from None
    if address is None and node_addresses(ray) != {LOOPBACK}:
        ray.shutdown()
        raise FoolingError(f"the local Ray cluster did not bind to {LOOPBACK}")
    return ray


def _reachable(address: str) -> str:
    """The host of a `HOST:PORT` address that accepts a connection (Ray would wait minutes).

    Raises:
        FoolingError: the address is malformed, or nothing answers there within 5 s.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise FoolingError(f"--address must be auto or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise FoolingError(f"no Ray cluster answers at {address} ({error})") from None
    return host


def node_addresses(ray: ModuleType) -> set[str]:
    """The addresses the cluster's nodes listen on, as Ray's own state says."""
    return {node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")}


def share(ray: ModuleType, value: Any, what: str) -> Any:
    """`ray.put(value)`: a reference every worker can read.

    Raises:
        FoolingError: `value` cannot be pickled (a model that cannot travel).
    """
    try:
        return ray.put(value)
    except FoolingError:
        raise
    except Exception as error:  # pickling fails with many kinds of error
        raise FoolingError(f"{what} cannot be sent to Ray workers: {first_line(error)}") from None


def check_room(ray: ModuleType, *, workers: int, threads: int, gpu: bool) -> None:
    """Refuse workers the cluster cannot run all at once (the run would wait for ever).

    Raises:
        FoolingError: the cluster has fewer CPUs than `workers * threads`, or, with
            `gpu`, fewer GPUs than `workers`.
    """
    have = ray.cluster_resources()
    needs = {"CPU": workers * threads, "GPU": workers if gpu else 0}
    for resource, count in needs.items():
        if count > have.get(resource, 0):
            raise FoolingError(
                f"{workers} workers need {count} {resource}s and the Ray cluster has "
                f"{have.get(resource, 0):g}: ask for fewer --workers"
                + (" or run on --device cpu" if resource == "GPU" else "")
            )


def live_cpus(ray: ModuleType) -> float:
    """The CPUs of the nodes Ray counts as alive (its node table, which learns of a dead
    node before the resource totals of `ray.cluster_resources` do)."""
    return sum(node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive"))


def restartable(ray: ModuleType, kind: type, *, threads: int, gpu: bool) -> Any:
    """`kind` as a Ray actor class that Ray restarts when its process dies, retrying its calls.

    Each actor takes `threads` CPUs and, with `gpu`, one GPU.
    """
    return ray.remote(num_cpus=threads, num_gpus=1 if gpu else 0, max_restarts=-1,
                      max_task_retries=-1)(kind)  # fmt: skip
