"""Shared fixtures: the real built-in LeNet, loaded once."""

import pytest

from fooling.classifiers import load_classifier


@pytest.fixture(scope="session")
def lenet():
    return load_classifier("lenet-mnist", "cpu")
