"""Island-model MAP-Elites on a real local Ray cluster (2 CPUs, bound to 127.0.0.1)."""

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

import fooling
from fooling.archive import Archive
from fooling.cli import main
from fooling.encodings import make_encoding
from fooling.search.evolution import Evolution
from fooling.search.islands import default_migrate_every
from fooling.search.refine import Refinement

ray = pytest.importorskip("ray")
from fooling.distributed.cluster import LOOPBACK, node_addresses  # noqa: E402
from fooling.search.islands import evolve_islands, merge  # noqa: E402


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    return ray_cluster


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
    pids, merged = [], []

    def after_merge(run):
        pids.append(ray.get(run.islands[0].pid.remote()))
        merged.append(run.evolution.archive.confidence.clone())
        if run.evolution.generation == 19:  # SIGKILL island 0 while it runs the next round
            threading.Timer(0.05, os.kill, (pids[-1], signal.SIGKILL)).start()

    result = evolve_islands(make_run(classifier), 80, workers=2, migrate_every=20,
                            after_merge=after_merge)  # fmt: skip
    assert len(set(pids)) == 2  # island 0 ran on a new process after the kill
    assert bool((result.confidences >= 0).all())  # every class filled
    for before, after in itertools.pairwise(merged):
        assert bool((after >= before).all())  # no class fell below its last merge
    assert result.evaluations == 2 * 81 * 60  # the round was run again, and counted once


def test_merge_keeps_the_best_change_per_class_and_ties_go_to_the_lower_island():
    def change(cells, confidence, tag):
        size = len(cells)
        return {"cells": torch.tensor(cells), "confidence": torch.tensor(confidence),
                "found_at": torch.full((size,), tag), "images": torch.full((size, 1, 2, 2), tag),
                "genomes": {"pixels": torch.full((size, 4), float(tag))}}  # fmt: skip

    before = torch.tensor([0.1, 0.3, 0.2, 0.6])
    merged = merge(before, [change([0, 1], [0.5, 0.9], 0), change([0, 1, 3], [0.7, 0.9, 0.4], 1)])
    won = dict(zip(merged["cells"].tolist(), merged["confidence"].tolist(), strict=True))
    assert won == pytest.approx({0: 0.7, 1: 0.9})  # cell 2 unchanged; 0.4 does not beat 0.6
    source = dict(zip(merged["cells"].tolist(), merged["found_at"].tolist(), strict=True))
    assert source == {0: 1, 1: 0}  # the tie at 0.9 goes to island 0
    pixels = dict(zip(merged["cells"].tolist(), merged["genomes"]["pixels"][:, 0].tolist(),
                      strict=True))  # fmt: skip
    assert pixels == {0: 1.0, 1: 0.0}
    assert merged["images"].shape == (2, 1, 2, 2)


def test_an_archive_rebuilt_from_its_rows_is_the_same(classifier):
    run = make_run(classifier)
    run.run(3, progress=False)
    copy = Archive(run.archive.classes.tolist())
    copy.put(run.archive.rows(torch.arange(len(run.archive))))
    for name, tensor in run.archive.state_dict().items():
        if name != "genomes":
            assert torch.equal(copy.state_dict()[name], tensor)


def test_a_distributed_run_resumes_after_its_driver_is_killed(tmp_path, cluster):
    argv = ["evolve", "--encoding", "cppn", "--workers", "2", "--population", "60",
            "--migrate-every", "5", "--checkpoint-every", "10", "--quiet",
            "--refine-steps", "1", "--refine-every", "3"]  # fmt: skip
    whole = tmp_path / "whole"
    assert main([*argv, "--generations", "20", "--out", str(whole)]) == 0
    cut = tmp_path / "cut"
    driver = subprocess.Popen(
        [sys.executable, "-m", "fooling", *argv, "--generations", "20", "--out", str(cut)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    checkpoint = cut / "checkpoint" / "state.safetensors"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert checkpoint.exists() and not (cut / "summary.json").exists()
    assert main(["evolve", "--resume", "--generations", "20", "--out", str(cut), "--quiet"]) == 0
    done, again = fooling.load_run(whole), fooling.load_run(cut)
    assert torch.equal(done.confidences, again.confidences)
    assert torch.equal(done.images, again.images)
    assert done.refined == again.refined > 0  # each island's last refinement was saved
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["workers"] == 2 and sum(summary["island_evaluations"]) == done.evaluations
    assert summary["migrate_every"] == 5


def test_merges_are_every_generation_only_where_a_cpu_generation_is_costly():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert default_migrate_every(cpu, 200, (1, 28, 28)) == 10  # LeNet: milliseconds
    assert default_migrate_every(cpu, 50, (3, 224, 224)) == 1  # Lite0: 0.2 s a generation
    assert default_migrate_every(gpu, 400, (3, 224, 224)) == 10


def test_ctrl_c_stops_a_distributed_run_at_a_merge_and_it_resumes(tmp_path):
    out = tmp_path / "run"
    argv = ["evolve", "--encoding", "cppn", "--workers", "2", "--population", "60",
            "--migrate-every", "5", "--generations", "100000", "--out", str(out)]  # fmt: skip
    command = [sys.executable, "-m", "fooling", *argv, "--quiet"]
    driver = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, start_new_session=True)
    progress = out / "progress.csv"
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline
        and driver.poll() is None
        and (not progress.exists() or len(progress.read_text().splitlines()) < 4)
    ):
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    assert "interrupted after generation" in err and "Traceback" not in err
    stopped = int(err.split("interrupted after generation ")[1].split()[0])
    assert stopped % 5 == 4  # at a merge
    resumed = ["evolve", "--resume", "--generations", str(stopped + 10), "--out", str(out)]
    assert main([*resumed, "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["generations"] == stopped + 10


def test_islands_share_the_climbs_of_a_refinement_and_the_driver_counts_them(cluster, classifier):
    encoding = make_encoding("cppn", classifier.input_shape)
    run = Evolution(
        classifier, encoding, population=10, seed=0, refinement=Refinement(steps=3, every=2)
    )
    result = evolve_islands(run, 2, workers=2, migrate_every=1)
    assert result.refined == 3 * 10  # generation 2: each island climbs its 5 of the 10 elites
    assert result.summary()["backward_passes"] == 30
