"""Checkpoints: one safetensors file, written atomically, read without unpickling."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from fooling.errors import FoolingError

FORMAT = "fooling-checkpoint-1"
FILENAME = "state.safetensors"


def write_checkpoint(folder: Path, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> Path:
    """Save tensors and JSON-able `info` as `folder/state.safetensors`, atomically.

    Args:
        folder: the checkpoint folder (created if missing).
        tensors: named tensors, on any device.
        info: plain data stored as JSON in the file's metadata.

    Returns:
        The path of the checkpoint file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILENAME
    cpu = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    metadata = {"format": FORMAT, "info": json.dumps(info)}
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".state-", suffix=".tmp")
    os.close(handle)
    try:
        save_file(cpu, temporary, metadata=metadata)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def read_checkpoint(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load what `write_checkpoint` saved.

    Args:
        folder: the checkpoint folder.

    Returns:
        The tensors (on the CPU) and the info dict.

    Raises:
        FoolingError: the file is missing, unreadable, or not a fooling checkpoint.
    """
    path = folder / FILENAME
    if not path.is_file():
        raise FoolingError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
        if metadata.get("format") != FORMAT:
            raise ValueError(f"format {metadata.get('format')!r}, expected {FORMAT!r}")
        info = json.loads(metadata["info"])
    except (OSError, SafetensorError, ValueError, KeyError) as error:
        raise FoolingError(f"unreadable checkpoint {path}: {error}") from None
    return tensors, info
