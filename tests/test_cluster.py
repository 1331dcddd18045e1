"""Islands on two Ray nodes: a real second node in a network namespace (tests/cluster.py)."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from cluster import _fixed_ports, two_nodes

import fooling
from fooling.cli import main
from fooling.experiments.retrain import IMAGES_FORMAT, RetrainSettings
from fooling.runs.state import load_state

EVOLVE = ["evolve", "--classifier", "lenet-mnist", "--encoding", "cppn", "--population", "40",
          "--workers", "2", "--migrate-every", "4", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def nodes():
    with two_nodes() as running:
        yield running


@pytest.fixture
def cluster(nodes):
    """The module's two nodes; where a test before killed the second, a new one first."""
    if nodes.stopped:
        nodes.restart_second_node()
    return nodes


def fooling_command(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fooling", *argv], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_islands_on_two_nodes_stopped_by_ctrl_c_and_resumed_give_the_run_of_one_machine(
    cluster, tmp_path
):
    assert cluster.alive_nodes() == sorted(cluster.addresses)
    spread = tmp_path / "two"
    driver = subprocess.Popen(
        [sys.executable, "-m", "fooling", *EVOLVE, "--generations", "100000", "--address",
         cluster.head, "--out", str(spread)],
        env=cluster.env, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(_merges(spread)) < 2 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.1)
    os.killpg(driver.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the driver's group only
    _, errors = driver.communicate(timeout=120)
    assert driver.returncode == 130, errors
    lines = [line for line in errors.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1 and "Traceback" not in errors
    stopped = int(lines[0].split("interrupted after generation ")[1].split()[0])
    assert stopped % 4 == 3  # at a merge, where the checkpoint is
    total = str(stopped + 8)
    resumed = fooling_command(
        [
            "evolve",
            "--resume",
            "--generations",
            total,
            "--address",
            cluster.head,
            "--out",
            str(spread),
            "--quiet",
        ],
        cluster.env,
    )
    assert resumed.returncode == 0, resumed.stderr
    local = fooling_command([*EVOLVE, "--generations", total, "--out", str(tmp_path / "one")],
                            cluster.env)  # fmt: skip
    assert local.returncode == 0, local.stderr
    two, one = (fooling.load_run(tmp_path / name) for name in ("two", "one"))
    assert two.islands == one.islands and len(two.islands) == 2
    assert torch.equal(two.images, one.images) and torch.equal(two.confidences, one.confidences)
    summary = json.loads((spread / "summary.json").read_text())
    assert summary["workers"] == 2 and summary["evaluations"] == sum(summary["island_evaluations"])
    assert summary["lost_nodes"] == 0


def test_the_scale_out_page_gives_the_ports_that_the_two_node_tests_open():
    """The `ray start` recipe of docs/scale-out.md is the one the firewall above lets through."""
    page = (Path(__file__).parents[1] / "docs" / "scale-out.md").read_text()
    recipe = " ".join(page.replace("\\\n", " ").split())
    options, _ = _fixed_ports(0)
    assert " ".join(options) in recipe


def test_the_nodes_reach_each_other_only_on_the_ports_of_the_recipe(cluster):
    """docs/scale-out.md's ports, and no others, pass the firewall, which the tests above used."""
    if not cluster.firewalled:
        pytest.skip("no iptables: the nodes run without a firewall between them")
    far, port = cluster.addresses[1], 7999  # a port the recipe does not open
    inside = ["ip", "netns", "exec", cluster.namespace]
    listener = subprocess.Popen([*inside, sys.executable, "-m", "http.server", "--bind", far,
                                 str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        knock = f"import socket; socket.create_connection(({far!r}, {port}), timeout=1)"
        deadline = time.monotonic() + 20
        while subprocess.run([*inside, sys.executable, "-c", knock]).returncode != 0:
            assert time.monotonic() < deadline, "the listener did not start"
            time.sleep(0.2)  # it answers inside its own namespace
        with pytest.raises(OSError):  # and not across the link
            socket.create_connection((far, port), timeout=1)
        node_manager = int(cluster.ports[cluster.ports.index("--node-manager-port") + 1])
        socket.create_connection((far, node_manager), timeout=1).close()
    finally:
        listener.kill()
        listener.wait()


ONNX_RUN = """
import json, sys, torch, fooling
from pathlib import Path
folder, head = Path(sys.argv[1]), sys.argv[2]
lenet = fooling.load_classifier("lenet-mnist", "cpu")
net = lenet.model.to(memory_format=torch.contiguous_format)
torch.onnx.export(net, (torch.rand(2, 1, 28, 28),), folder / "lenet.onnx", dynamo=False,
                  input_names=["x"], output_names=["scores"],
                  dynamic_axes={"x": {0: "n"}, "scores": {0: "n"}})
classifier = fooling.load_classifier(str(folder / "lenet.onnx"), "cpu")
(folder / "lenet.onnx").unlink()  # on neither node any more: only its bytes can reach them
result = fooling.evolve(classifier, encoding="cppn", generations=4, population=20,
                        workers=2, address=head, migrate_every=2, progress=False)
print(json.dumps(result.islands))
"""


def test_an_onnx_model_reaches_the_other_node_as_its_bytes(cluster, tmp_path):
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", ONNX_RUN, str(tmp_path),
                           cluster.head], env=cluster.env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    islands = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(islands) == 2 and all(count > 0 for count in islands)


def test_a_lost_node_costs_its_island_not_the_run(cluster, tmp_path):
    out = tmp_path / "lost"
    argv = ["evolve", "--classifier", "lenet-mnist", "--encoding", "direct", "--generations",
            "400", "--population", "40", "--workers", "2", "--migrate-every", "10",
            "--quiet"]  # fmt: skip
    run = subprocess.Popen([sys.executable, "-m", "fooling", *argv, "--address", cluster.head,
                            "--out", str(out)], env=cluster.env, stderr=subprocess.PIPE,
                           text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not _merges(out) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _merges(out), "the run made no merge"
    cluster.stop_second_node()
    stopped = time.monotonic()
    _, errors = run.communicate(timeout=300)
    assert run.returncode == 0, errors
    assert len(_merges(out)) > 1 and time.monotonic() - stopped > 1  # it went on after
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lost_nodes"] == 1 and summary["generations"] == 400
    assert summary["evaluations"] == sum(summary["island_evaluations"])
    assert all(cell["confidence"] >= 0 for cell in summary["classes"])  # every class filled
    medians = [float(row["median_confidence"]) for row in _merges(out)]
    assert medians == sorted(medians)  # no merged elite was lost


def _merges(out):
    path = out / "progress.csv"
    if not path.is_file():
        return []
    with path.open() as file:
        return list(csv.DictReader(file))


# A driver, paused once its Ray workers are placed on both nodes, until the test has
# killed the second node: the workers' first items are then sure to meet a dead node.
PAUSED = """
import sys
import fooling.distributed.nodes as nodes

class Paused(nodes.NodeWatch):
    def __init__(self, *args):
        super().__init__(*args)
        print("placed", len(set(self.nodes)), flush=True)
        sys.stdin.readline()  # (at once, for the work after the first: stdin is closed)

nodes.NodeWatch = Paused
"""
COMMAND = PAUSED + "from fooling.cli import main; sys.exit(main(sys.argv[1:]))"
RETRAIN = (
    PAUSED
    + """
import fooling
from fooling.cli import main
from fooling.experiments.retrain import RetrainSettings
settings = RetrainSettings(**eval(sys.argv[1]))
fooling.retrain(out=sys.argv[2], settings=settings, progress=False, workers=2,
                address=sys.argv[3])
"""
)
# one iteration whose gatherings take many short searches, so the dead node's are needed
TINY = {"iterations": 1, "fooling_per_iteration": 40, "held_out": 20, "gather_generations": 8,
        "gather_population": 40, "epochs": 1, "max_steps": 30, "generations": 8,
        "population": 40}  # fmt: skip


def _paused(cluster, script: str, argv: list[str]) -> subprocess.CompletedProcess:
    """`script ARGV` on both nodes, the second killed once the workers are placed."""
    driver = subprocess.Popen([sys.executable, "-c", script, *argv], env=cluster.env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert driver.stdout.readline().split() == ["placed", "2"]  # one worker on each node
    cluster.stop_second_node()
    out, errors = driver.communicate("go\n", timeout=300)
    return subprocess.CompletedProcess(argv, driver.returncode, out, errors)


def test_retraining_that_loses_a_node_gathers_as_one_process(cluster, tmp_path):
    spread = _paused(cluster, RETRAIN, [repr(TINY), str(tmp_path / "two"), cluster.head])
    assert spread.returncode == 0, spread.stderr
    assert "a Ray node was lost" in spread.stderr
    fooling.retrain(out=tmp_path / "one", settings=RetrainSettings(**TINY), progress=False)
    name = Path("iterations") / "01" / "fooling.safetensors"
    two, one = (load_state(tmp_path / run / name, kind=IMAGES_FORMAT) for run in ("two", "one"))
    assert torch.equal(two["trained"], one["trained"])
    assert torch.equal(two["held_out"], one["held_out"])


def test_transfer_that_loses_a_node_gives_the_table_of_one_process(cluster, tmp_path):
    run = tmp_path / "run"
    assert main(["evolve", "--generations", "5", "--population", "20", "--quiet", "--out",
                 str(run)]) == 0  # fmt: skip
    argv = ["transfer", str(run), "--to", "lenet-mnist-b", "lenet-mnist", "lenet-mnist-b",
            "--quiet"]  # fmt: skip
    spread = _paused(cluster, COMMAND, [*argv, "--workers", "2", "--address", cluster.head,
                                        "--out", str(tmp_path / "two")])  # fmt: skip
    assert spread.returncode == 0, spread.stderr
    assert "fooling: warning: a Ray node was lost" in spread.stderr
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    two, one = (json.loads((tmp_path / name / "summary.json").read_text())["table"]
                for name in ("two", "one"))  # fmt: skip
    # a worker's scores differ from this process's in the 8th digit, on one machine too
    assert _close(two, one) and len(two) == 3


def _close(first, second) -> bool:
    """Equal, floats to within 1e-6."""
    if isinstance(first, float) and isinstance(second, float):
        return first == pytest.approx(second, rel=1e-6, abs=1e-9)
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(_close(first[k], second[k]) for k in first)
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(map(_close, first, second))
    return first == second
