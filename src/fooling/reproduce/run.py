"""Run a plan's steps in its report folder and write the report page."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from fooling.reproduce.report import Report
from fooling.reproduce.steps import Step, StepRecord, run_steps
from fooling.run_directory import RunDirectory


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


def run_plan(plan: Plan, out: str | Path, *, force: bool = False, quiet: bool = False) -> Report:
    """Run every step of `plan` not finished yet in `out`, then write `report.html`.

    A folder that holds a report of the same settings is continued: finished
    steps are reused and the rest run.

    Args:
        plan: the report's steps and rows.
        out: the report's folder.
        force: start again, replacing a run or report already in `out`.
        quiet: no progress bars.

    Returns:
        The report, also written to `out/report.html` and `out/summary.json`.

    Raises:
        FoolingError: `out` holds another run (without `force`) or a report of other
            settings, or a step failed.
    """
    from fooling.report.report_page import write_report_page

    directory = RunDirectory(out)
    continuing = not force and (directory.path / "steps.json").is_file()
    with directory.reopen() if continuing else directory.claim(force=force):
        records = run_steps(directory, plan.steps(), quiet=quiet, settings=plan.settings())
        report = plan.report(directory.path, records)
        write_report_page(report, directory.path)
        directory.write_summary({"method": "report", **plan.settings(), **report.to_json()})
    return report
