"""Files a hostile or careless user might hand fooling, made here by the tests themselves."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fooling.runs.state import _checksum


class Trap:
    """Unpickling this creates `marker`: proof that a pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def exported_lenet(net: torch.nn.Module, folder: Path) -> dict[str, Path]:
    """The real LeNet as a TorchScript file and a torch.export `.pt2` (dynamic batch)."""
    folder.mkdir(parents=True, exist_ok=True)
    net = net.to(memory_format=torch.contiguous_format)
    example = torch.rand(2, 1, 28, 28)
    files = {"torchscript": folder / "lenet.ts", "export": folder / "lenet.pt2"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(net).save(files["torchscript"])
        batch = ({0: torch.export.Dim("batch")},)
        program = torch.export.export(net, (example,), dynamic_shapes=batch)
        torch.export.save(program, files["export"])
    net.to(memory_format=torch.channels_last)
    return files


def hostile_pt2(legitimate: Path, out: Path, marker: Path) -> Path:
    """A real `.pt2` whose sample inputs are a pickle that would create `marker`.

    `torch.export.load` first reads them with `weights_only=True`, fails, then
    retries with a full unpickle: the code execution the issue found.
    """
    payload = io.BytesIO()
    torch.save((Trap(marker),), payload)
    with zipfile.ZipFile(legitimate) as source, zipfile.ZipFile(out, "w") as archive:
        names = [info.filename for info in source.infolist()]
        assert any("sample_inputs" in name for name in names), names
        for info in source.infolist():
            data = source.read(info.filename)
            if "sample_inputs" in info.filename:
                data = payload.getvalue()
            archive.writestr(info, data)
    return out


def forge_checkpoint(path: Path, change: Callable[[dict, dict], None]) -> None:
    """Edit a state file as a hostile user would: `change(tensors, data)`, then re-sign it."""
    import json

    tensors = load_file(path)
    with safe_open(path, "pt") as handle:
        metadata = handle.metadata()
    data = json.loads(metadata["data"])
    change(tensors, data)
    metadata["data"] = json.dumps(data)
    metadata["checksum"] = _checksum(metadata["format"], metadata["data"], tensors)
    save_file(tensors, path, metadata=metadata)


def png_claiming(width: int, height: int, path: Path) -> Path:
    """A PNG whose header claims `width` x `height` pixels (and holds a few bytes of data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    pixels = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (links as where they point)."""
    return {
        str(path.relative_to(folder)): (
            f"-> {os.readlink(path)}".encode() if path.is_symlink() else path.read_bytes()
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file() or path.is_symlink()
    }
