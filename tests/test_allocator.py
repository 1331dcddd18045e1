"""The allocator keeps what a search frees: measured as page faults, in fresh processes."""

import os
import subprocess
import sys

import pytest

# Eight rounds of what a generation does at ImageNet size: blocks of 64 and 32 MB made,
# used and freed. Prints whether the allocator was changed, then each round's page faults.
PROBE = """
import resource, sys, torch
from fooling.allocator import keep_freed_memory
changed = keep_freed_memory() if sys.argv[1] == "keep" else False
faults = []
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    images = torch.ones(16 * 2**20); levels = torch.ones(8 * 2**20)
    scores = images[::2] + levels; del images, levels, scores
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(changed, *faults)
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


def probe(mode: str, **environment: str) -> tuple[str, list[int]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    env.pop("GLIBC_TUNABLES", None)
    said = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          check=True, env={**env, **environment}).stdout.split()  # fmt: skip
    return said[0], [int(faults) for faults in said[1:]]


def test_freed_memory_is_reused_without_page_faults():
    changed, faults = probe("keep")
    _, faults_by_default = probe("leave")
    assert changed == "True"
    assert min(faults_by_default[-4:]) > 30_000  # every round faults (it touches 40,960 pages)
    # once the heap has grown, most rounds reuse it (a block's 64-byte alignment can
    # still leave one that does not fit)
    assert sum(faults[-4:]) < sum(faults_by_default[-4:]) / 4


def test_the_users_own_allocator_options_are_left_alone():
    changed, faults = probe("keep", MALLOC_ARENA_MAX="2")
    assert changed == "False" and min(faults[-3:]) > 30_000


def test_every_command_keeps_freed_memory(monkeypatch, capsys):
    from fooling import cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True))
    assert cli.main(["classify", "tests/data/hen_256.png", "--classifier", "lenet-mnist"]) == 0
    assert calls == [True] and "hen_256.png" in capsys.readouterr().out
