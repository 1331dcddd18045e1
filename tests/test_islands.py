"""Island-model MAP-Elites on a real local Ray cluster (2 CPUs, bound to 127.0.0.1)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import fooling
from fooling.cli import main
from fooling.encodings import make_encoding
from fooling.search.evolution import Evolution

ray = pytest.importorskip("ray")
from fooling.distributed.cluster import LOOPBACK, connect, node_addresses  # noqa: E402
from fooling.distributed.islands import evolve_islands, merge  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    yield connect(cpus=2)
    ray.shutdown()


def make_run(lenet_classifier, seed=0) -> Evolution:
    encoding = make_encoding("cppn", lenet_classifier.input_shape)
    return Evolution(lenet_classifier, encoding, population=60, seed=seed)


@pytest.fixture(scope="module")
def classifier():
    return fooling.load_classifier("lenet-mnist", "cpu", backend="torch")


def test_the_local_cluster_listens_on_loopback_only(cluster):
    assert node_addresses(cluster) == {LOOPBACK}
    assert cluster.get_runtime_context().gcs_address.startswith(f"{LOOPBACK}:")


def test_the_same_seed_and_workers_give_the_same_result(cluster, classifier):
    first = evolve_islands(make_run(classifier), 25, workers=2, migrate_every=5)
    again = evolve_islands(make_run(classifier), 25, workers=2, migrate_every=5)
    assert torch.equal(first.confidences, again.confidences)
    assert torch.equal(first.images, again.images)
    assert first.evaluations == 2 * 26 * 60
    assert [row.generation for row in first.history] == [4, 9, 14, 19, 24, 25]


def test_a_killed_island_is_restarted_and_the_run_completes(cluster, classifier):
    pids = []

    def after_merge(run):
        pids.append(ray.get(run.islands[0].pid.remote()))
        if run.evolution.generation == 9:
            os.kill(pids[-1], signal.SIGKILL)

    result = evolve_islands(make_run(classifier), 30, workers=2, migrate_every=5,
                            after_merge=after_merge)  # fmt: skip
    assert len(set(pids)) == 2  # island 0 ran on a new process after the kill
    assert bool((result.confidences >= 0).all())  # every class filled
    floors = [row.lowest_confidence for row in result.history]
    assert floors == sorted(floors)  # no merge lost an elite


def test_merge_keeps_the_best_elite_per_class_and_ties_go_to_the_lower_island():
    def state(confidence, tag):
        confidence = torch.tensor(confidence)
        return {"classes": torch.arange(3), "confidence": confidence,
                "found_at": torch.full((3,), tag), "images": torch.full((3, 1, 2, 2), tag),
                "genomes": {"pixels": torch.full((3, 4), float(tag))}}  # fmt: skip

    merged = merge([state([0.5, 0.9, 0.2], 0), state([0.7, 0.9, -1.0], 1)])
    assert merged["confidence"].tolist() == pytest.approx([0.7, 0.9, 0.2])
    assert merged["found_at"].tolist() == [1, 0, 0]
    assert merged["genomes"]["pixels"][:, 0].tolist() == [1.0, 0.0, 0.0]


def test_a_distributed_run_resumes_after_its_driver_is_killed(tmp_path, cluster):
    argv = ["evolve", "--encoding", "cppn", "--workers", "2", "--population", "60",
            "--migrate-every", "5", "--checkpoint-every", "10", "--quiet"]  # fmt: skip
    whole = tmp_path / "whole"
    assert main([*argv, "--generations", "40", "--out", str(whole)]) == 0
    cut = tmp_path / "cut"
    driver = subprocess.Popen(
        [sys.executable, "-m", "fooling", *argv, "--generations", "40", "--out", str(cut)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    checkpoint = cut / "checkpoint" / "state.safetensors"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert checkpoint.exists() and not (cut / "summary.json").exists()
    assert main(["evolve", "--resume", "--generations", "40", "--out", str(cut), "--quiet"]) == 0
    done, again = fooling.load_run(whole), fooling.load_run(cut)
    assert torch.equal(done.confidences, again.confidences)
    assert torch.equal(done.images, again.images)
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["workers"] == 2 and sum(summary["island_evaluations"]) == done.evaluations
