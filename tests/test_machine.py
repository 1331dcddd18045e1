"""The CPU recorded beside every figure: its model and the flags that decide bf16 speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fooling import machine
from fooling.reproduce.findings import describe_machine

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cpu(monkeypatch):
    """Stand a CPU of the given model and flags in for this machine's."""

    def use(model: str, *flags: str) -> None:
        monkeypatch.setattr(machine, "_cpuinfo", lambda: (model, frozenset(flags)))

    return use


def test_this_machines_cpu_is_read_from_proc_cpuinfo():
    info = Path("/proc/cpuinfo")
    if not info.is_file():
        pytest.skip("no /proc/cpuinfo here")
    flags = next(line for line in info.read_text().splitlines() if line.startswith("flags"))
    found = set(flags.split(":", 1)[1].split())
    assert machine.precision_flags() == {flag: flag in found for flag in machine.PRECISION_FLAGS}
    assert machine.cpu_model() in info.read_text()
    assert machine.describe_cpu().startswith(machine.cpu_model())


def test_a_cpu_is_described_by_what_it_has_and_lacks(cpu):
    cpu("AMD EPYC", "fpu", "avx512f", "avx512_bf16")
    assert machine.describe_cpu() == "AMD EPYC (AVX-512-BF16, AVX-512; no AMX-BF16)"
    cpu("Intel Xeon", "amx_bf16", "avx512_bf16", "avx512f")
    assert machine.describe_cpu() == "Intel Xeon (AMX-BF16, AVX-512-BF16, AVX-512)"
    cpu("Some CPU")
    assert machine.describe_cpu() == "Some CPU (no AMX-BF16, no AVX-512-BF16, no AVX-512)"


def test_reports_name_the_cpu_and_its_precision_flags(cpu):
    cpu("AMD EPYC", "avx512f", "avx512_bf16")
    described = describe_machine()
    assert described["cpu"] == "AMD EPYC (AVX-512-BF16, AVX-512; no AMX-BF16)"
    assert described["cpu_precision_flags"] == {
        "amx_bf16": False, "avx512_bf16": True, "avx512f": True,
    }  # fmt: skip


def test_benchmarks_record_the_cpu_model_and_its_precision_flags():
    code = (
        "import sys, json, torch; sys.path.insert(0, 'benchmarks'); from _machine import machine;"
        "print(json.dumps(machine(torch.device('cpu'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    recorded = json.loads(out)
    assert recorded["cpu_model"] == machine.cpu_model()
    assert recorded["cpu_precision_flags"] == machine.precision_flags()
    assert recorded["cpu"] == machine.describe_cpu()
