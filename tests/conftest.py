"""Shared fixtures: the real built-in classifiers, each loaded once."""

import pytest

from fooling.classifiers import load_classifier


@pytest.fixture(scope="session")
def lenet():
    return load_classifier("lenet-mnist", "cpu")


@pytest.fixture(scope="session")
def efficientnet():
    return load_classifier("efficientnet-lite0", "cpu")
