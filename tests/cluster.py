"""A two-node Ray cluster on one machine: the second node lives in a network namespace.

As root, `two_nodes()` makes a network namespace and a veth pair with addresses
from 10.213.N.0/24 (N from the process id and the cluster's number), both ends
inside this machine;
starts `ray start --head` on the host end and `ray start --address` inside the
namespace, each with one CPU; and tears all of it down afterwards, whatever
happens. Nothing crosses any other device. Where namespaces cannot be made (not
root, no `ip`), the tests that use it skip and say why, and the one-machine tests
that they include run instead (`also_on_two_nodes`).

Ray 2.60 authenticates with a token by default; the cluster gets one of its own
in a temporary folder (`RAY_AUTH_TOKEN_PATH`), given to both nodes and to every
driver through `TwoNodes.env`.

Each node's ports are fixed (`ports`, the recipe in docs/scale-out.md) and, where `iptables` is
installed, a firewall on each end of the veth pair drops every connection to any
other port, so that every test on the two nodes also tests that recipe.

The head checks its nodes' health every second and counts one dead after 3 missed
checks (`HEALTH_CHECK`), where Ray's defaults take about 15 s, so that a test that
loses a node waits about 3 s for Ray to notice. A real cluster can do the same.
A killed second node can be started again (`restart_second_node`), so that one
cluster serves several tests that lose it.
"""

from __future__ import annotations

import functools
import itertools
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RAY = Path(sys.executable).with_name("ray")
PORT = 6390
_CLUSTERS = itertools.count()
JOIN_SECONDS = 60
HEALTH_CHECK = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"}
COMMON = ("--num-cpus", "1", "--block", "--disable-usage-stats")
FIXED = (
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-grpc-port",
    "--dashboard-agent-listen-port",
    "--runtime-env-agent-port",
    "--metrics-export-port",
)
WORKER_PORTS = 100  # a node's worker processes, at most (outside Ray's default 10002-19999)
WATCH = """
import sys
from ray._raylet import GcsClient
from ray.core.generated.gcs_pb2 import GcsNodeInfo
client = GcsClient(address=sys.argv[1])
for _ in sys.stdin:  # a line asks: the address of each node alive
    nodes = client.get_all_node_info(timeout=30).values()
    print(*(n.node_manager_address for n in nodes if n.state == GcsNodeInfo.ALIVE), flush=True)
"""


@dataclass
class TwoNodes:
    """A running two-node cluster.

    Attributes:
        head: `HOST:PORT` of the head node, for `--address`.
        namespace: the network namespace the second node runs in.
        addresses: the host end's and the namespace end's addresses.
        env: the environment a driver needs to join (the token, no usage stats).
        ports: the `ray start` options that fix each node's ports.
        logs: the folder where each `ray start` writes what it prints.
        firewalled: whether only those ports (and the head's) are open between the nodes.
        stopped: whether the second node was killed (and not started again).
    """

    head: str
    namespace: str
    addresses: tuple[str, str]
    env: dict[str, str]
    ports: tuple[str, ...] = ()
    logs: Path = Path()
    firewalled: bool = False
    stopped: bool = False
    _processes: list[subprocess.Popen] = field(default_factory=list)
    _watcher: subprocess.Popen | None = None

    def stop_second_node(self) -> None:
        """Kill every process of the second node at once: its raylet, its store, its workers."""
        _kill_namespace(self.namespace)
        self.stopped = True

    def restart_second_node(self) -> None:
        """Once Ray counts the killed second node as dead, start a new one in its place."""
        self.stop_second_node()
        _wait_for(self, [self.addresses[0]])
        self._start_second_node()
        _wait_for(self, list(self.addresses))
        self.stopped = False

    def _start_second_node(self) -> None:
        self._processes.append(_start(
            ["ip", "netns", "exec", self.namespace, str(RAY), "start", "--address", self.head,
             "--node-ip-address", self.addresses[1], *self.ports, *COMMON],
            self.env, self.logs / f"node-{len(self._processes)}.log"))  # fmt: skip

    def alive_nodes(self) -> list[str]:
        """The address of each node Ray counts as alive, sorted.

        Asked of one process kept connected to the head's table of nodes (`WATCH`, Ray's
        own client of it): a new process that imported Ray and joined as a driver for each
        question took over a second, and a driver kept joined saw a killed node alive for
        tens of seconds.

        Raises:
            OSError: it cannot connect yet (the head is not up), or did not answer.
        """
        watcher = self._watcher
        if watcher is None or watcher.poll() is not None:
            with (self.logs / "watch.log").open("a") as log:
                watcher = self._watcher = subprocess.Popen(
                    [sys.executable, "-c", WATCH, self.head], env=self.env, text=True,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                    start_new_session=True,
                )  # fmt: skip
        try:
            watcher.stdin.write("\n")
            watcher.stdin.flush()
            answered, _, _ = select.select([watcher.stdout], [], [], JOIN_SECONDS)
            line = watcher.stdout.readline() if answered else ""
        except BrokenPipeError:
            line = ""
        if not line:  # it ended (no head to join yet) or hangs: the next question starts another
            self.stop_watching()
            raise OSError("the watcher did not answer")
        return sorted(line.split())

    def stop_watching(self) -> None:
        """End the process that `alive_nodes` keeps connected."""
        if self._watcher is not None:
            with suppress(ProcessLookupError):
                os.killpg(self._watcher.pid, signal.SIGKILL)
            self._watcher.communicate(timeout=30)  # (and closes its pipes)
            self._watcher = None


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start `ray start ... --block` in a session of its own, its output in `log`."""
    with log.open("w") as file:
        return subprocess.Popen(argv, env=env, start_new_session=True, stdout=file,
                                stderr=subprocess.STDOUT)  # fmt: skip


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def _kill_namespace(namespace: str) -> None:
    listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    for pid in listed.stdout.split():
        with suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def _fixed_ports(number: int) -> tuple[tuple[str, ...], list[str]]:
    """The `ray start` options that fix a node's ports, and those ports as iptables ranges."""
    first, workers = 6400 + 10 * number, 21000 + WORKER_PORTS * number
    options = [part for index, flag in enumerate(FIXED) for part in (flag, str(first + index))]
    options += ["--min-worker-port", str(workers),
                "--max-worker-port", str(workers + WORKER_PORTS - 1)]  # fmt: skip
    return tuple(options), [f"{first}:{first + len(FIXED) - 1}",
                            f"{workers}:{workers + WORKER_PORTS - 1}"]  # fmt: skip


def _firewall(inside: tuple[str, ...], interface: str, chain: str, ports: list[str]) -> None:
    """Drop every TCP connection that comes in on `interface` to a port not in `ports`."""
    rule = ("iptables", "-A", chain)
    _run(*inside, "iptables", "-N", chain)
    _run(*inside, *rule, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT")
    for port in ports:
        _run(*inside, *rule, "-p", "tcp", "--dport", port, "-j", "ACCEPT")
    _run(*inside, *rule, "-p", "tcp", "-j", "DROP")
    _run(*inside, "iptables", "-I", "INPUT", "-i", interface, "-j", chain)


@functools.cache
def why_not_two_nodes() -> str | None:
    """Why `two_nodes()` cannot run on this machine, or None where it can.

    Tried once per process: it makes a network namespace and deletes it again.
    """
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no `ip` (iproute2) to make network namespaces"
    if not RAY.exists():
        return "Ray is not installed"
    probe = f"foolingprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot make a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def also_on_two_nodes(test: str) -> pytest.MarkDecorator:
    """Skip a one-machine test where `test` (in tests/test_cluster.py) runs, as a superset:
    the same run on two nodes, compared with one machine. It runs where that one skips."""
    return pytest.mark.skipif(
        why_not_two_nodes() is None, reason=f"tests/test_cluster.py::{test} tests this"
    )


@contextmanager
def two_nodes() -> Iterator[TwoNodes]:
    """A two-node Ray cluster across a veth pair, removed on exit (see the module docstring)."""
    reason = why_not_two_nodes()
    if reason:
        pytest.skip(reason)
    number = next(_CLUSTERS)  # a second cluster of this process gets other names and ports
    subnet = 1 + (os.getpid() + 37 * number) % 250
    namespace, host_end, far_end = f"fooling{subnet}", f"fool{subnet}a", f"fool{subnet}b"
    chain = f"FOOLING{subnet}"
    addresses = (f"10.213.{subnet}.1", f"10.213.{subnet}.2")
    port = PORT + number
    folder = Path(tempfile.mkdtemp(prefix="fooling-ray-"))
    token = folder / "auth_token"
    token.write_text(secrets.token_hex(32))
    # without the single-machine switch that `connect` leaves in this process's environment
    # after a local cluster (a second node refuses to start under it)
    inherited = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    env = {**inherited, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
           "RAY_USAGE_STATS_ENABLED": "0"}  # fmt: skip
    cluster = TwoNodes(f"{addresses[0]}:{port}", namespace, addresses, env, logs=folder)
    try:
        try:
            _run("ip", "netns", "add", namespace)
        except subprocess.CalledProcessError as error:
            pytest.skip(f"cannot make a network namespace: {error.stderr.decode().strip()}")
        _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", far_end)
        _run("ip", "link", "set", far_end, "netns", namespace)
        _run("ip", "addr", "add", f"{addresses[0]}/24", "dev", host_end)
        _run("ip", "link", "set", host_end, "up")
        inside = ("ip", "netns", "exec", namespace)
        _run(*inside, "ip", "addr", "add", f"{addresses[1]}/24", "dev", far_end)
        _run(*inside, "ip", "link", "set", far_end, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        cluster.ports, opened = _fixed_ports(number)
        if shutil.which("iptables"):
            cluster.firewalled = True  # (first: the teardown removes what was made)
            _firewall((), host_end, chain, [str(port), *opened])
            _firewall(inside, far_end, chain, opened)
        cluster._processes.append(_start(
            [str(RAY), "start", "--head", "--node-ip-address", addresses[0], "--port", str(port),
             "--include-dashboard", "false", *cluster.ports, *COMMON],
            {**env, **HEALTH_CHECK}, folder / "node-0.log"))  # fmt: skip
        _wait_for(cluster, [addresses[0]])
        cluster._start_second_node()
        _wait_for(cluster, list(addresses))
        yield cluster
    finally:
        cluster.stop_watching()
        _kill_namespace(namespace)
        for process in cluster._processes:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        if cluster.firewalled:
            for argv in (("-D", "INPUT", "-i", host_end, "-j", chain), ("-F", chain),
                         ("-X", chain)):  # fmt: skip
                subprocess.run(["iptables", *argv], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(cluster: TwoNodes, addresses: list[str]) -> None:
    """Wait until the nodes Ray counts as alive are exactly these (one address per node)."""
    deadline = time.monotonic() + JOIN_SECONDS
    while time.monotonic() < deadline:
        try:
            if cluster.alive_nodes() == sorted(addresses):
                return
        except OSError:
            pass
        time.sleep(0.5)
    ended = [
        f"node-{index}.log, ended:\n{_tail(cluster.logs / f'node-{index}.log')}"
        for index, process in enumerate(cluster._processes)
        if process.poll() is not None
    ]
    if (cluster.logs / "watch.log").is_file():
        ended.append(f"watch.log:\n{_tail(cluster.logs / 'watch.log')}")
    raise RuntimeError(
        f"the Ray cluster did not reach nodes {addresses} in {JOIN_SECONDS} s\n" + "\n".join(ended)
    )


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
