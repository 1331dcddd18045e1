"""Run a plan's steps in its report folder and write the report page."""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from fooling.errors import FoolingError
from fooling.report.study import StudyScore, score_answers
from fooling.reproduce.findings import Report
from fooling.reproduce.page import write_report_page
from fooling.reproduce.steps import Step, StepRecord, run_steps
from fooling.runs.directory import RunDirectory


class Plan(Protocol):
    """What a report runs (`steps`) and how it reads them back (`report`)."""

    def settings(self) -> dict[str, Any]:
        """What makes two reports the same; a folder made with others is not continued."""
        ...

    def steps(self) -> list[Step]:
        """The steps, in the order they run."""
        ...

    def report(self, out: Path, records: dict[str, StepRecord]) -> Report:
        """The report, read from the finished steps' runs in `out`."""
        ...


def run_plan(
    plan: Plan,
    out: str | Path,
    *,
    parser: argparse.ArgumentParser,
    force: bool = False,
    quiet: bool = False,
    answers: Sequence[str | Path] | None = None,
) -> Report:
    """Run every step of `plan` not finished yet in `out`, then write `report.html`.

    A folder that holds a report of the same settings is continued: finished
    steps are reused and the rest run.

    Args:
        plan: the report's steps and rows.
        out: the report's folder.
        parser: the `fooling` command line (`fooling.cli.build_parser()`), which runs each step.
        force: start again, replacing a run or report already in `out`.
        quiet: no progress bars.
        answers: answers files of `fooling study` pages, scored on the page.

    Returns:
        The report, also written to `out/report.html` and `out/summary.json`.

    Raises:
        FoolingError: `out` holds another run (without `force`) or a report of other
            settings, an answers file is bad, or a step failed.
    """
    scores = score_answers(answers) if answers else []  # bad files stop before any work
    directory = RunDirectory(out)
    continuing = not force and (directory.path / "steps.json").is_file()
    with directory.reopen() if continuing else directory.claim(force=force):
        records = run_steps(directory, plan.steps(), parser=parser, quiet=quiet,
                            settings=plan.settings())  # fmt: skip
        report = plan.report(directory.path, records)
        if scores:
            report.extra.append(study_table(scores))
        write_report_page(report, directory.path)
        directory.write_summary({"method": "report", **plan.settings(), **report.to_json()})
    return report


def check_packages(packages: Mapping[str, str]) -> None:
    """Check, before a report's first step, that its later steps will find their packages.

    Args:
        packages: module name -> the pip package that provides it.

    Raises:
        FoolingError: some are not installed (the line says what to install).
    """
    missing = [package for module, package in packages.items()
               if importlib.util.find_spec(module) is None]  # fmt: skip
    if missing:
        raise FoolingError(f"this report's steps need {', '.join(missing)}, not installed: "
                           f"pip install {' '.join(missing)}")  # fmt: skip


def study_table(scores: list[StudyScore]) -> tuple[str, list[str], list[list[str]]]:
    """The scores of `fooling study` answers as a table of the report."""
    rows = [
        [score.run or "all runs", score.method, score.encoding or "—",
         f"{score.recognised}/{score.answered}", f"{score.share:.0%}",
         f"{score.low:.0%}–{score.high:.0%}"]
        for score in scores
    ]  # fmt: skip
    columns = ["run", "method", "encoding", "recognised", "share", "95% interval"]
    return ("Can people see the class? (fooling study; chance: 25%)", columns, rows)
