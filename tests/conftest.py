"""Shared fixtures: the real built-in classifiers, each loaded once."""

import pytest

from fooling.classifiers import load_classifier


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
