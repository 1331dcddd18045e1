"""Islands on two Ray nodes: a real second node in a network namespace (tests/cluster.py)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import pytest
import torch
from cluster import two_nodes

import fooling

EVOLVE = ["evolve", "--classifier", "lenet-mnist", "--encoding", "cppn", "--generations", "12",
          "--population", "40", "--workers", "2", "--migrate-every", "4", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster():
    with two_nodes() as running:
        yield running


def fooling_command(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fooling", *argv], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_islands_on_two_nodes_give_the_run_of_one_machine(cluster, tmp_path):
    assert cluster.alive_nodes() == set(cluster.addresses)
    spread = fooling_command([*EVOLVE, "--address", cluster.head, "--out", str(tmp_path / "two")],
                             cluster.env)  # fmt: skip
    assert spread.returncode == 0, spread.stderr
    local = fooling_command([*EVOLVE, "--out", str(tmp_path / "one")], cluster.env)
    assert local.returncode == 0, local.stderr
    two, one = (fooling.load_run(tmp_path / name) for name in ("two", "one"))
    assert two.islands == one.islands and len(two.islands) == 2
    assert torch.equal(two.images, one.images) and torch.equal(two.confidences, one.confidences)
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["workers"] == 2 and summary["evaluations"] == sum(summary["island_evaluations"])


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


def test_a_lost_node_costs_its_island_not_the_run(tmp_path):
    out = tmp_path / "lost"
    argv = ["evolve", "--classifier", "lenet-mnist", "--encoding", "direct", "--generations",
            "400", "--population", "40", "--workers", "2", "--migrate-every", "10",
            "--quiet"]  # fmt: skip
    with two_nodes() as cluster:
        run = subprocess.Popen([sys.executable, "-m", "fooling", *argv, "--address", cluster.head,
                                "--out", str(out)], env=cluster.env, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while not _merges(out) and time.monotonic() < deadline:
            time.sleep(0.5)
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


GATHER = """
import hashlib, json, sys
import fooling
from fooling.distributed.pool import ordered_map
from fooling.experiments.gather import Searches, search
workers, address = int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None
lenet = fooling.load_classifier("lenet-mnist", "cpu", backend="torch")
shared = Searches(lenet, list(range(10)), ["direct"], 30, 0, 0.99, [20, 40, 60])
for found in ordered_map(search, shared, range(24), workers=workers, address=address):
    digest = hashlib.sha256()
    for images, classes in found.snapshots:
        digest.update(images.numpy().tobytes() + classes.numpy().tobytes())
    print(json.dumps([found.evaluations, digest.hexdigest()]), flush=True)
"""


def test_a_lost_node_costs_ordered_work_nothing(tmp_path):
    with two_nodes() as cluster:
        spread = subprocess.Popen([sys.executable, "-W", "ignore", "-c", GATHER, "2",
                                   cluster.head], env=cluster.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)  # fmt: skip
        # three results in, a node goes; its worker holds an item still, which only a
        # replacement can finish: the results must wait for it, in order
        lines = [spread.stdout.readline().strip() for _ in range(3)]
        cluster.stop_second_node()
        rest, errors = spread.communicate(timeout=300)
        assert spread.returncode == 0, errors
    alone = subprocess.run([sys.executable, "-W", "ignore", "-c", GATHER, "1"], env=cluster.env,
                           capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    ours = [line for line in [*lines, *rest.splitlines()] if line.startswith("[")]  # (not Ray's
    assert ours == alone.stdout.splitlines()  # note that the raylet died)
