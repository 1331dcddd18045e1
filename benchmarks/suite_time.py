"""How long the test suite takes: in one process, and as `scripts/test.sh` runs it.

    python benchmarks/suite_time.py [--repeats 3]

Runs the whole suite, one run after the other, each in a fresh cache folder
(`XDG_CACHE_HOME`: no compiled models, no backend races remembered, as on a fresh
clone): first in one pytest process (`-n 0`, the baseline), then `--repeats` times on
the two pytest-xdist workers of `scripts/test.sh` (`-n 2 --dist loadfile
--no-loadscope-reorder`, one thread each, the longest files first: tests/conftest.py).
How the two workers' files happen to overlap moves that time by 15 s or more from run to
run, so `test_sh` is the slowest of its runs (every run's times are kept too). Saved for
each: the wall time, the CPU time (user and system, of pytest and the processes it
waited for, not of the Ray daemons it kills) and pytest's counts. The ratio printed is
the baseline's wall time over `scripts/test.sh`'s slowest (> 1: the two workers are faster).
Goal (issue 23): under 10 minutes on 2 cores of the slower kind of machine here, an AMD
EPYC without AMX (it took 10.6 min on an earlier suite of 581 tests that a Xeon with
AMX ran in 5: compare the ratio, not the seconds, across machines).
Lint and set-up are not timed. Run it on a quiet machine: a run beside it shares the cores.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

ROOT = Path(__file__).parents[1]
RUNS = {
    "one_process": ["-n", "0"],
    "test_sh": ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"],  # as scripts/test.sh
}


def counts(line: str) -> dict[str, int]:
    """pytest's last line, e.g. `703 passed, 15 skipped in 301.37s`, as counts."""
    return {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", line)
            if word in ("passed", "skipped", "failed", "errors", "error")}  # fmt: skip


def cpu_of_children() -> float:
    """User and system seconds of the processes this one waited for, and theirs."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_suite(options: list[str]) -> dict:
    """The suite once with these pytest options, in a cache folder of its own."""
    with tempfile.TemporaryDirectory(prefix="fooling-suite-") as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        argv = [sys.executable, "-m", "pytest", "-p", "no:warnings", "-p", "no:cacheprovider",
                *options]  # fmt: skip
        before = cpu_of_children()
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        cpu = cpu_of_children() - before
    lines = done.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    return {
        "pytest_options": " ".join(options),
        "exit_code": done.returncode,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "counts": counts(last),
        "last_line": last,
        # which tests did not pass (pytest's short summary), so that a failure can be found
        "not_passed": [line for line in lines if line.startswith(("FAILED ", "ERROR "))],
    }


def timed(name: str) -> dict:
    """One run of the suite in `RUNS[name]`'s way, printed."""
    result = run_suite(RUNS[name])
    print(f"{name} ({result['pytest_options']}): {result['wall_seconds']:.0f} s wall, "
          f"{result['cpu_seconds']:.0f} s CPU, {result['last_line']}")  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of scripts/test.sh's way")
    args = parser.parse_args()
    one = timed("one_process")
    every = [timed("test_sh") for _ in range(args.repeats)]
    two = max(every, key=lambda result: result["wall_seconds"])
    figures: dict = {"benchmark": "suite_time", **machine(torch.device("cpu")),
                     "runs": {"one_process": one, "test_sh": two}}  # fmt: skip
    figures["test_sh_every_run"] = [
        {key: result[key] for key in ("wall_seconds", "cpu_seconds", "exit_code", "last_line")}
        for result in every
    ]
    figures["ratio_one_process_over_test_sh"] = round(one["wall_seconds"] / two["wall_seconds"], 2)
    print(f"ratio (one process / scripts/test.sh's slowest): "
          f"{figures['ratio_one_process_over_test_sh']}")  # fmt: skip
    save("suite_time_cpu", figures)
    if one["exit_code"] or any(result["exit_code"] for result in every):
        sys.exit("a run did not pass: see its last line")


if __name__ == "__main__":
    main()
