"""Shared fixtures: the real built-in classifiers, each loaded once.

`scripts/test.sh` runs the tests on two pytest-xdist workers, each a whole test file at
a time (`--dist loadfile`). Each worker computes on one thread (two workers of two
threads each, on two cores, ran the suite slower than one process). The files that take
longest start first (`--no-loadscope-reorder` keeps this order; xdist would order the
files by their number of tests), so that no long file is left to run alone at the end.
"""

import os

import pytest
import torch

from fooling.classifiers import load_classifier

# 24 s or more each, longest first (two workers, a fresh cache, a Xeon with AMX: 99 s to 24 s)
LONGEST_FILES = [
    "test_cluster", "test_retrain", "test_reproduce", "test_islands",
    "test_backends", "test_run_directory", "test_pool", "test_int8",
]  # fmt: skip

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"  # and for the commands the tests start
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """On xdist workers: the longest files first (every worker sorts alike)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: index for index, name in enumerate(LONGEST_FILES)}
        items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))


@pytest.fixture(scope="session")
def lenet():
    return load_classifier("lenet-mnist", "cpu")


@pytest.fixture(scope="session")
def efficientnet():
    return load_classifier("efficientnet-lite0", "cpu")


@pytest.fixture(scope="module")
def ray_cluster():
    """A real local Ray cluster of 2 CPUs, bound to 127.0.0.1, for one test module."""
    ray = pytest.importorskip("ray")
    from fooling.distributed.cluster import connect

    yield connect(cpus=2)
    ray.shutdown()
