"""What every benchmark records about where it ran, and where results go."""

from __future__ import annotations

import json
import os
import platform
import sys
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
