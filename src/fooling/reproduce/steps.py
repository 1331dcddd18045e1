"""Steps: `fooling` commands run one after another, each into its own run directory.

A report (`fooling reproduce`, `fooling audit`) is a list of steps and the rows
read from what they wrote. Each step is a real command line, parsed by the
`fooling` parser and run in this process, so the command a report shows is the
command that made its figure, and can be pasted into a shell.

`DIR/steps.json` records, per step, its command and its wall time; it is written
before the first step, so that a report stopped at any point continues. A step whose
run directory holds a finished `summary.json` made by the same command is reused,
so running the report again after an interruption continues where it stopped. An
interrupted step starts again: `--resume` for a command that can (evolve, retrain),
else `--force` on its own run directory. A run in a step's folder that `steps.json`
does not record is continued or reused only where its recorded settings are the
step's; otherwise the report stops and names the setting that differs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fooling.classifiers.registry import BUILT_IN
from fooling.errors import FoolingError
from fooling.records import atomic_write_text
from fooling.runs.directory import RunDirectory
from fooling.search.driver import DEFAULTS

OUT = "{out}"
"""Stands for the report's own folder in a step's arguments (e.g. `{out}/runs/cppn-0`)."""
REPORT_DIR = "DIR"
"""Stands for the report's own folder in the commands `steps.json` records."""

INTERRUPTED = 130  # the exit code of a step stopped by Ctrl-C
RESUMABLE = ("evolve", "retrain")
"""Commands whose interrupted run continues with `--resume` rather than `--force`."""
COMPARED = ("classifier", "encoding", "seed", "population", "generations")
"""Settings of a run's `summary.json` that a step's own must match for the run to be its."""


@dataclass(frozen=True)
class Step:
    """One `fooling` command of a report.

    Attributes:
        name: the step's folder under `DIR/runs/` (and its key in `steps.json`).
        arguments: the command's arguments after `fooling`, without `--out`; `{out}`
            stands for the report's folder.
    """

    name: str
    arguments: tuple[str, ...]

    @property
    def command_name(self) -> str:
        return self.arguments[0]

    def argv(self, out: Path) -> list[str]:
        """The arguments to run, `--out` included, with `{out}` filled in."""
        filled = [argument.replace(OUT, str(out)) for argument in self.arguments]
        return [*filled, "--out", str(run_folder(out, self.name))]

    def command(self, out: Path) -> str:
        """The command line, as a user would type it."""
        return shlex.join(["fooling", *self.argv(out)])


@dataclass
class StepRecord:
    """What `steps.json` says of a finished step.

    Attributes:
        name: the step's name.
        command: its command line, with `DIR` for the report's folder.
        seconds: wall time of the run that made it; for a run resumed across invocations
            (evolve, retrain), the time its own summary counts over all of them.
        reused: whether this invocation found it done and did not run it.
    """

    name: str
    command: str
    seconds: float
    reused: bool = False


def run_folder(out: Path, name: str) -> Path:
    """The run directory of step `name` in the report folder `out`."""
    return out / "runs" / name


def run_steps(
    directory: RunDirectory,
    steps: Sequence[Step],
    *,
    parser: argparse.ArgumentParser,
    quiet: bool,
    settings: dict[str, Any],
) -> dict[str, StepRecord]:
    """Run each step not already finished, recording it in `steps.json` as it ends.

    Args:
        directory: the report's run directory, claimed or reopened by the caller.
        steps: the steps, in order (a step may read the runs of earlier ones).
        parser: the `fooling` command line (`fooling.cli.build_parser()`), which runs each step.
        quiet: pass `--quiet` to every step.
        settings: the report's settings; `steps.json` made with others is refused.

    Returns:
        Every step's record, by name.

    Raises:
        FoolingError: a step failed (its command is in the message), or the folder
            holds steps of other settings.
    """
    out = directory.path
    manifest = read_manifest(out)
    if manifest and manifest.get("settings") != settings:
        done = len(manifest.get("steps") or {})
        raise FoolingError(
            f"{out} holds a report made with {manifest.get('settings')}, not {settings}: "
            f"choose another --out, or pass --force to delete its {done} finished steps "
            "and start again there"
        )
    records = {
        name: StepRecord(name, entry["command"], float(entry["seconds"]), reused=True)
        for name, entry in (manifest.get("steps") or {}).items()
    }
    write_manifest(out, settings, records)  # so that a report stopped in its first step continues
    for step in steps:
        template = shlex.join(["fooling", *step.argv(Path(REPORT_DIR))])
        record = records.get(step.name)
        if record is not None and record.command == template and _finished(out, step):
            record.seconds = max(record.seconds, _own_seconds(out, step))  # (older records)
            continue
        argv = step.argv(out) + (["--quiet"] if quiet else [])
        folder = run_folder(out, step.name)
        if (folder / ".fooling-run").exists():  # interrupted, or made by another command
            resumable = step.command_name in RESUMABLE and (folder / "checkpoint").is_dir()
            if resumable and record is None:  # a run steps.json does not know: is it the step's?
                _check_settings(folder, step, parser.parse_args(argv))
            argv.append("--resume" if resumable and record is None else "--force")
        args = parser.parse_args(argv)
        started = time.perf_counter()
        code = args.run(args)
        if code == INTERRUPTED:  # the step saved what it had; running the report again resumes
            raise KeyboardInterrupt
        if code != 0:
            raise FoolingError(f"step {step.name} stopped (exit code {code}): {step.command(out)}")
        seconds = max(time.perf_counter() - started, _own_seconds(out, step))
        records[step.name] = StepRecord(step.name, template, seconds)
        write_manifest(out, settings, records)
    write_manifest(out, settings, records)
    return records


def read_manifest(out: Path) -> dict[str, Any]:
    """`steps.json` of the report folder `out`, or {} when there is none.

    Raises:
        FoolingError: it is not JSON, or not a report's list of steps.
    """
    path = out / "steps.json"
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise FoolingError(f"cannot read {path}: {error}") from None
    steps = manifest.get("steps", {}) if isinstance(manifest, dict) else None
    if not isinstance(steps, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("command"), str)
        and isinstance(entry.get("seconds"), (int, float))
        for entry in steps.values()
    ):  # fmt: skip
        raise FoolingError(f"{path} is not a report's list of steps")
    return manifest


def write_manifest(out: Path, settings: dict[str, Any], records: dict[str, StepRecord]) -> None:
    """Write `steps.json` atomically."""
    steps = {
        name: {"command": record.command, "seconds": round(record.seconds, 2)}
        for name, record in records.items()
    }
    text = json.dumps({"settings": settings, "steps": steps}, indent=2) + "\n"
    atomic_write_text(out / "steps.json", text)


def _own_seconds(out: Path, step: Step) -> float:
    """The time a resumable step's run says it took over every invocation (an evolution
    carries its clock over in its checkpoint; a retraining times each iteration), where
    this invocation may have only finished it: 0 for other steps, or without a summary."""
    if step.command_name not in RESUMABLE:
        return 0.0
    try:
        summary = RunDirectory(run_folder(out, step.name)).read_summary()
    except FoolingError:
        return 0.0
    try:
        if "iterations" in summary:
            return sum(float(row.get("seconds") or 0.0) for row in summary["iterations"])
        return float(summary.get("seconds") or 0.0)
    except (AttributeError, TypeError, ValueError):  # a summary of another shape: no clock
        return 0.0


def _finished(out: Path, step: Step) -> bool:
    """Whether the step's run directory holds a finished summary."""
    try:
        summary = RunDirectory(run_folder(out, step.name)).read_summary()
    except FoolingError:
        return False
    return summary.get("finished", True) is True


def _check_settings(folder: Path, step: Step, args: Any) -> None:
    """Refuse a finished run in a step's folder whose recorded settings are not the step's.

    A run with fewer generations is continued to the step's (as if never stopped); one
    with more cannot be, and any other difference makes it another experiment. An
    unfinished run is checked by `--resume` itself.

    Raises:
        FoolingError: the setting that differs, with the step and what to do.
    """
    try:
        summary = RunDirectory(folder).read_summary()
    except FoolingError:
        return
    defaults = DEFAULTS if step.command_name == "evolve" else {}
    for key in COMPARED:
        ours, theirs = getattr(args, key, None), summary.get(key)
        ours = defaults.get(key) if ours is None else ours
        if ours is None or theirs is None:
            continue
        if key == "classifier" and str(ours) not in BUILT_IN:
            continue  # a model file: its summary names it otherwise
        if key == "generations" and theirs <= ours:
            continue
        if str(theirs) != str(ours):
            raise FoolingError(
                f"{folder} holds a finished run made with {key} {theirs}, but step "
                f"{step.name} is `{step.command(folder.parents[1])}` ({key} {ours}): it is "
                "not this report's run. Move it out of the report folder and run the same "
                "command again (or --force, which starts the whole report again)"
            )
