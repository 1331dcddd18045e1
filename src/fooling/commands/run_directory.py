"""Claiming a run directory without losing earlier results, and stopping cleanly on Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import threading
from pathlib import Path
from types import FrameType, TracebackType

from fooling.errors import FoolingError
from fooling.report.run_directory import RUN_FILES


def claim_run_directory(out: Path, *, force: bool) -> None:
    """Make `out` ready for a new run.

    A directory that already holds a run is refused unless `force`, in which
    case only the files a run writes are removed; anything else in it is kept.

    Raises:
        FoolingError: `out` is a file, or holds a run and `force` is False.
    """
    if out.exists() and not out.is_dir():
        raise FoolingError(f"{out} exists and is not a directory")
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not force:
        raise FoolingError(
            f"{out} already holds a run ({', '.join(existing)}); "
            "pass --resume to continue it or --force to replace it"
        )
    for name in existing:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


class StopOnInterrupt:
    """While active, the first Ctrl-C only asks the loop to stop after this generation.

    A second Ctrl-C interrupts at once as usual. Outside the main thread it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: signal.Handlers | None = None

    def __call__(self) -> bool:
        return self.requested

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
