"""What a report page holds: rows set beside the paper, sections of runs, the machine.

`fooling reproduce` and `fooling audit` both build a `Report` from the run
directories of their steps and write it with `fooling.reproduce.page`.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch

from fooling.machine import describe_cpu, precision_flags
from fooling.reproduce.steps import Step, StepRecord


@dataclass(frozen=True)
class Row:
    """One result: the paper's figure beside ours, and how both were made.

    Attributes:
        result: the claim, in a few words.
        paper: the paper's figure (or its words where it gives none).
        ours: our figure.
        paper_settings: the setting the paper used.
        our_settings: the setting ours used.
        steps: the names of the steps whose runs made our figure.
        source: where the paper says it.
        scale: where ours is scaled down from the paper's setting, in words; empty
            when it is not.
    """

    result: str
    paper: str
    ours: str
    paper_settings: str
    our_settings: str
    steps: tuple[str, ...]
    source: str = ""
    scale: str = ""


@dataclass(frozen=True)
class Section:
    """One experiment's runs, linked under the table: galleries and plots.

    Attributes:
        title: the experiment.
        steps: the steps whose galleries and plots are shown.
        text: a paragraph on what to look for.
        best: how many of each run's most confident images to show (0: none).
    """

    title: str
    steps: tuple[str, ...]
    text: str = ""
    best: int = 0


@dataclass(frozen=True)
class Difference:
    """A setting in which ours differs from the original code, and why."""

    setting: str
    original: str
    ours: str
    why: str


@dataclass
class Report:
    """A whole report page.

    Attributes:
        title: the page's heading.
        headline: the one line at the top (a verdict, in numbers).
        rows: the results table.
        sections: the runs behind it.
        steps: every step, in the order run.
        records: what `steps.json` says of each step (commands, wall times).
        machine: where it ran (`describe_machine`).
        differences: settings where ours differs from the original code.
        notes: paragraphs under the table (what was scaled, what was left out).
        extra: further tables, each a (heading, column names, rows of cells).
    """

    title: str
    headline: str
    rows: list[Row]
    sections: list[Section]
    steps: list[Step]
    records: dict[str, StepRecord]
    machine: dict[str, Any]
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as `summary.json` holds it."""
        return {
            "title": self.title,
            "headline": self.headline,
            "machine": self.machine,
            "rows": [row.__dict__ | {"steps": list(row.steps)} for row in self.rows],
            "steps": [self._step(step.name) for step in self.steps],
            "differences": [difference.__dict__ for difference in self.differences],
            "notes": self.notes,
            "extra": [[heading, columns, rows] for heading, columns, rows in self.extra],
        }

    def _step(self, name: str) -> dict[str, Any]:
        record = self.records[name]
        return {"name": name, "command": record.command, "seconds": round(record.seconds, 2),
                "reused": record.reused}  # fmt: skip

    def markdown(self) -> str:
        """The results table in Markdown (what `benchmarks/results/` keeps of a report)."""
        lines = [
            f"# {self.title}",
            "",
            self.headline,
            "",
            "Commands below write under DIR, the report's folder.",
            "",
            "| result | paper | ours | paper's setting | our setting | scaled down |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            cells = (row.result, row.paper, row.ours, row.paper_settings, row.our_settings,
                     row.scale or "no")  # fmt: skip
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        for note in self.notes:
            lines += ["", note]
        for heading, columns, rows in self.extra:
            lines += ["", *extra_table(heading, columns, rows)]
        if self.differences:  # (as the page shows them)
            lines += ["", *extra_table(
                "Where our settings differ from the original code",
                ["setting", "the original code", "ours", "why"],
                [[d.setting, d.original, d.ours, d.why] for d in self.differences],
            )]  # fmt: skip
        lines += ["", "| step | command | seconds |", "|---|---|---|"]
        for step in self.steps:
            record = self.records[step.name]
            lines.append(f"| {step.name} | `{record.command}` | {record.seconds:.1f} |")
        machine = ", ".join(f"{key} {value}" for key, value in self.machine.items())
        return "\n".join([*lines, "", f"Machine: {machine}.", ""])


def extra_table(heading: str, columns: list[str], rows: list[list[str]]) -> list[str]:
    """One of a report's further tables (`Report.extra`) as Markdown lines, under its heading."""
    lines = [f"## {heading}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                    for row in rows]  # fmt: skip


def describe_machine(device: str | None = None) -> dict[str, Any]:
    """The machine, device and library versions a report was made on."""
    info: dict[str, Any] = {
        "cpu": describe_cpu(),
        "cpu_precision_flags": precision_flags(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device or ("cuda" if torch.cuda.is_available() else "cpu"),
        "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if info["device"].startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info
