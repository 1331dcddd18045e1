"""The issue's report runs (issue 12): `reproduce ... --quick` timed, finished reports recorded.

    python benchmarks/reproduce_runs.py quick mnist|imagenet
    python benchmarks/reproduce_runs.py record REPORT_DIR NAME [NOTE]

`quick` runs `fooling reproduce DATASET --quick` as its own process in an empty folder
and records its wall time and peak memory beside the report's table. Goals on 2 cores:
mnist at most 300 s, imagenet at most 1800 s. The ratio printed is wall time over that
budget (<= 1 meets it). `record` writes the table of a report made elsewhere (such as
the full `fooling reproduce mnist --out DIR`, which takes long) with the sum of its
steps' wall times. Each writes `results/NAME.json` and the table as `results/NAME.md`.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import RESULTS, machine, save

BUDGETS_S = {"mnist": 300.0, "imagenet": 1800.0}


def quick(dataset: str) -> None:
    command = [sys.executable, "-m", "fooling", "reproduce", dataset, "--quick", "--quiet"]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report"
        started = time.perf_counter()
        subprocess.run([*command, "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        summary = json.loads((out / "summary.json").read_text())
        table = markdown_table(out)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    budget = BUDGETS_S[dataset]
    name = f"reproduce_{dataset}_quick_cpu"
    figures = {
        "benchmark": name, **machine(torch.device("cpu")),
        "run": " ".join(["fooling", *command[3:]]), "wall_seconds": round(wall, 1),
        f"ratio_to_{budget:.0f}s_budget": round(wall / budget, 3), "met": wall <= budget,
        "max_resident_set_mib": round(peak_kib / 1024), "summary": summary,
    }  # fmt: skip
    print(f"{wall:.1f} s wall, {wall / budget:.2f} of the {budget:.0f} s budget")
    _write(name, figures, table)


def record(folder: Path, name: str, note: str) -> None:
    summary = json.loads((folder / "summary.json").read_text())
    seconds = sum(step["seconds"] for step in summary["steps"])
    figures = {
        "benchmark": name, **machine(torch.device("cpu")), "report": str(folder),
        "steps_wall_seconds": round(seconds, 1), "note": note, "summary": summary,
    }  # fmt: skip
    print(f"{seconds:.1f} s of steps ({seconds / 3600:.2f} h)")
    _write(name, figures, markdown_table(folder))


def markdown_table(folder: Path) -> str:
    """The report in Markdown, as `Report.markdown` writes it: its table, notes, further
    tables and differences from the original code, steps and machine."""
    from fooling.reproduce.findings import Difference, Report, Row
    from fooling.reproduce.steps import Step, StepRecord

    summary = json.loads((folder / "summary.json").read_text())
    rows = [Row(**(row | {"steps": tuple(row["steps"])})) for row in summary["rows"]]
    steps = [Step(step["name"], ()) for step in summary["steps"]]
    records = {
        step["name"]: StepRecord(step["name"], step["command"], step["seconds"], step["reused"])
        for step in summary["steps"]
    }
    report = Report(summary["title"], summary["headline"], rows, [], steps, records,
                    summary["machine"],
                    [Difference(**entry) for entry in summary.get("differences", [])],
                    summary.get("notes", []),
                    [tuple(table) for table in summary.get("extra", [])])  # fmt: skip
    return report.markdown()


def _write(name: str, figures: dict, table: str) -> None:
    save(name, figures)
    path = RESULTS / f"{name}.md"
    path.write_text(table)
    print(table)
    print(f"saved {path}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["quick"] and len(sys.argv) == 3 and sys.argv[2] in BUDGETS_S:
        quick(sys.argv[2])
    elif sys.argv[1:2] == ["record"] and len(sys.argv) in (4, 5):
        record(Path(sys.argv[2]), sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else "")
    else:
        sys.exit(__doc__)
