"""The CPU a figure was made on: its model, and the features that decide how fast bf16 runs.

Figures differ between machines of one kind: a 2-core Xeon with AMX ran the
ImageNet CPPN loop at 516 evaluations/s, an AMD EPYC with AVX-512-BF16 but no AMX
at 113 (`../shared/ENVIRONMENT.md`). Every report and benchmark records this, so
that figures are compared as ratios on the same CPU, never as times across CPUs.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

PRECISION_FLAGS = {
    "amx_bf16": "AMX-BF16",
    "avx512_bf16": "AVX-512-BF16",
    "avx512f": "AVX-512",
}
"""The `/proc/cpuinfo` flags that decide bf16 and fp32 speed, with their usual names."""


@functools.cache
def _cpuinfo() -> tuple[str, frozenset[str]]:
    """The first processor's model name and flags (`platform`'s words off Linux)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine(), frozenset()
    fields = [line.split(":", 1) for line in lines if ":" in line]
    name = next((value.strip() for key, value in fields if key.strip() == "model name"), "")
    flags = next((value.split() for key, value in fields if key.strip() == "flags"), [])
    return name or platform.machine(), frozenset(flags)


def cpu_model() -> str:
    """The CPU's model name, e.g. `"AMD EPYC"`."""
    return _cpuinfo()[0]


def precision_flags() -> dict[str, bool]:
    """Which of `PRECISION_FLAGS` the CPU has, by flag name."""
    flags = _cpuinfo()[1]
    return {flag: flag in flags for flag in PRECISION_FLAGS}


def cpu_flags() -> frozenset[str]:
    """Every flag of the CPU (what `-march=native` code depends on)."""
    return _cpuinfo()[1]


def describe_cpu() -> str:
    """One line: the model and the precision features it has and lacks.

    E.g. `"AMD EPYC (AVX-512-BF16, AVX-512; no AMX-BF16)"`.
    """
    has = precision_flags()
    present = [PRECISION_FLAGS[flag] for flag, found in has.items() if found]
    missing = [PRECISION_FLAGS[flag] for flag, found in has.items() if not found]
    parts = [", ".join(present)] if present else []
    if missing:
        parts.append("no " + ", no ".join(missing))
    return f"{cpu_model()} ({'; '.join(parts)})"
