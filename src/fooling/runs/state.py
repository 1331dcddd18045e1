"""Nested state (tensors and plain data) in one safetensors file: written atomically, never pickled.

A state is a dict whose leaves are tensors or JSON-able values, nested in
dicts. Tensors go into the safetensors file under dotted keys
(`archive.confidence`); everything else goes, as JSON, into the file's
metadata, beside a `format` tag that tells a checkpoint from other files and
a SHA-256 `checksum` over the tag, the data and every tensor, which
`load_state` verifies: a damaged or edited file is refused, not trusted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from fooling.errors import FoolingError
from fooling.records import atomic_file, hash_tensors

State = dict[str, Any]


def save_state(path: str | Path, state: State, *, kind: str) -> Path:
    """Write `state` to `path` atomically.

    Args:
        path: the `.safetensors` file (its folder is created if missing).
        state: nested dicts with string keys, whose leaves are tensors (on any device)
            or JSON-able values; the keys on the way to a tensor must not contain dots.
        kind: the format tag that `load_state` will ask for.

    Returns:
        The path written.

    Raises:
        OSError: the file cannot be written.
    """
    tensors: dict[str, torch.Tensor] = {}
    data = json.dumps(_split(state, (), tensors), allow_nan=False)
    cpu = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    metadata = {"format": kind, "data": data, "checksum": _checksum(kind, data, cpu)}
    with atomic_file(path) as temporary:
        try:
            save_file(cpu, str(temporary), metadata=metadata)
        except SafetensorError as error:  # a full disk, among others: an OS failure
            raise OSError(f"cannot write {path}: {error}") from None
    return Path(path)


def load_state(path: str | Path, *, kind: str, unchecked: tuple[str, ...] = ()) -> State:
    """Read what `save_state` wrote, tensors on the CPU, after verifying its checksum.

    Args:
        path: the file.
        kind: the format tag it must carry.
        unchecked: older tags also accepted, from before files carried a checksum.

    Raises:
        FoolingError: the file is missing, unreadable, of another format, or its
            contents do not match their checksum.
    """
    path = Path(path)
    if not path.is_file():
        raise FoolingError(f"{path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        found = metadata.get("format")
        if found != kind and found not in unchecked:
            raise ValueError(f"it is a {found!r} file, not {kind!r}")
        tensors = load_file(str(path))
        if found == kind and metadata.get("checksum") != _checksum(kind, metadata["data"], tensors):
            raise FoolingError(f"{path} is damaged: its contents do not match their checksum")
        state = json.loads(metadata["data"])
        if not isinstance(state, dict):
            raise ValueError("its data is not a mapping")
        for key, tensor in tensors.items():
            *parents, leaf = key.split(".")
            folder = state
            for parent in parents:
                folder = folder.setdefault(parent, {})
            folder[leaf] = tensor
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise FoolingError(f"unreadable {path}: {error}") from None
    return state


def _checksum(kind: str, data: str, tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256(f"{kind}\n{data}\n".encode())
    hash_tensors(digest, tensors)
    return digest.hexdigest()


def _split(state: State, parents: tuple[str, ...], tensors: dict[str, torch.Tensor]) -> State:
    """Move the tensors of `state` into `tensors` (under dotted keys) and return the rest."""
    data: State = {}
    for key, value in state.items():
        path = (*parents, key)
        if isinstance(value, torch.Tensor):
            if any("." in part for part in path):
                raise ValueError(f"a tensor's keys must not contain dots: {path}")
            tensors[".".join(path)] = value
        elif isinstance(value, dict):
            data[key] = _split(value, path, tensors)
        else:
            data[key] = value
    return data
