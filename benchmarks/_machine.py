"""What every benchmark records about where it ran, where results go, and how it times."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from fooling.machine import cpu_model, describe_cpu, precision_flags

RESULTS = Path(__file__).parent / "results"


def machine(device: torch.device) -> dict[str, Any]:
    """The machine, torch and device a figure was measured on."""
    info = {
        "command": " ".join(["python", *sys.argv]),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_precision_flags": precision_flags(),
        "cpu": describe_cpu(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def save(name: str, figures: dict[str, Any]) -> Path:
    """Write `results/<name>.json` and print where it went."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"saved {path}")
    return path


def fastest(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The fewest seconds `function()` took in `repeats` calls, and its last answer."""
    best, answer = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        answer = function()
        best = min(best, time.perf_counter() - started)
    return best, answer
