"""The one place that opens files a user hands in: models, weights, images and label lists.

No user file ever reaches an unpickler that could run code. Weights load
from safetensors, or through `torch.load(weights_only=True)`. Model files
(TorchScript, torch.export `.pt2`, ONNX) load under `no_unpickling`. That
guard covers the archives a library opens for us. `torch.export.load`, for
one, falls back to a full unpickle of a `.pt2`'s sample inputs when the safe
load fails. The guard is a Python audit hook on `pickle.find_class`, the step
through which every pickle reaches code. While it is active, any attempt to
resolve a global refuses the whole file.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import pickle
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from safetensors import SafetensorError
from safetensors.torch import load_file

from fooling.errors import FoolingError, first_line
from fooling.limits import IMAGE_SIDE

MAX_IMAGE_PIXELS = int(IMAGE_SIDE.high) ** 2
"""The largest image `read_image` opens: a header that claims more is refused before decoding."""

_refusing: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "fooling_refusing_pickles", default=None
)
_hook_installed = False


class _PickleRefused(Exception):
    """Raised inside an unpickler to stop it; `no_unpickling` turns it into one line."""


def _refuse_globals(event: str, arguments: tuple) -> None:
    if event != "pickle.find_class":
        return
    refused = _refusing.get()
    if refused is not None:
        refused.append(f"{arguments[0]}.{arguments[1]}")
        raise _PickleRefused(f"pickled {arguments[0]}.{arguments[1]}")


@contextlib.contextmanager
def no_unpickling(path: str | Path) -> Iterator[None]:
    """While active, no pickle may name a Python global: the file at `path` is refused if one does.

    Library loggers are silenced meanwhile: a library that logs its failed
    attempts (as torch.export does, with tracebacks) must not print them.

    Raises:
        FoolingError: something tried to unpickle a Python object from the file,
            even if the library caught that and carried on.
    """
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_refuse_globals)  # hooks cannot be removed: it acts only when asked
        _hook_installed = True
    refused: list[str] = []
    token = _refusing.set(refused)
    logging.disable(logging.CRITICAL)
    try:
        yield
    except _PickleRefused:
        pass  # reported below
    finally:
        logging.disable(logging.NOTSET)
        _refusing.reset(token)
        if refused:
            raise FoolingError(
                f"{path} holds pickled Python objects ({refused[0]}); fooling never unpickles "
                "a user's file, as that could run any code: save the model with its tensors only"
            )


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a `.safetensors` file, or from a `torch.save` file of tensors only.

    Raises:
        FoolingError: the file is missing, unreadable, or holds more than tensors.
    """
    if not path.is_file():
        raise FoolingError(f"no weights file at {path}")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        with no_unpickling(path):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Weights only load failed" in str(error):  # a Python object among the tensors
            raise FoolingError(
                f"{path} holds more than tensors (pickled Python objects), and fooling loads "
                "weights as tensors only"
            ) from None
        raise FoolingError(f"{path} is not a safetensors or torch.save weights file") from None
    except (OSError, SafetensorError, RuntimeError, ValueError, EOFError) as error:
        raise FoolingError(f"cannot read weights from {path}: {first_line(error)}") from None
    if not isinstance(state, dict) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise FoolingError(f"{path} is not a state dict of tensors")
    return state


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """An image file as `float32 [C, H, W]` in `[0, 1]`.

    Args:
        path: any format Pillow reads (PNG, JPEG, ...).
        channels: 1 for gray, 3 for RGB.

    Returns:
        The image tensor.

    Raises:
        FoolingError: the file is missing, is not an image, or claims more than
            `MAX_IMAGE_PIXELS` pixels.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
            image = Image.open(path)
        with image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise FoolingError(
                    f"{path} claims {width} x {height} pixels; the most fooling opens is "
                    f"{MAX_IMAGE_PIXELS:,}"
                )
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    except FileNotFoundError:
        raise FoolingError(f"no such image file: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise FoolingError(f"cannot read {path} as an image: {first_line(error)}") from None
    tensor = torch.from_numpy(pixels.copy()).float().div(255)
    return tensor.unsqueeze(0) if channels == 1 else tensor.permute(2, 0, 1)


def read_labels(path: Path, count: int) -> list[str]:
    """Class names from a UTF-8 text file, one per line, exactly `count` of them.

    Raises:
        FoolingError: the file is unreadable or has another number of lines.
    """
    try:
        names = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise FoolingError(f"cannot read labels from {path}: {error}") from None
    if len(names) != count:
        raise FoolingError(f"{path} has {len(names)} labels but the model has {count} outputs")
    return names


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
