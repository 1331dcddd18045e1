"""Ctrl-C as a request: a long loop stops after its current step and keeps what it has.

Outside such a loop, `InterruptAnywhere` (the command line's) makes Ctrl-C interrupt as usual,
but never lets it be lost: CPython only prints a KeyboardInterrupt raised inside a callback
(a weak reference's, while importing), so the Ctrl-C is remembered and raised again at the
next `StopOnInterrupt`.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType

_pending = False  # a Ctrl-C arrived under InterruptAnywhere and may have been swallowed


class InterruptAnywhere:
    """While active, Ctrl-C raises KeyboardInterrupt where the program is, and is remembered.

    One raised inside a callback, where Python prints and drops it, is not printed and is raised
    again when the next `StopOnInterrupt` starts. Outside the main thread it does nothing.
    """

    def __enter__(self) -> InterruptAnywhere:
        global _pending
        _pending = False
        self._active = threading.current_thread() is threading.main_thread()
        if self._active:
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._previous_hook = sys.unraisablehook
            sys.unraisablehook = self._hide_dropped_interrupt
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _pending
        _pending = False
        if self._active:
            signal.signal(signal.SIGINT, self._previous)
            sys.unraisablehook = self._previous_hook
        if kind is KeyboardInterrupt:
            _forget_unhandled_interrupt()

    @staticmethod
    def _handle(signum: int, frame: FrameType | None) -> None:
        global _pending
        _pending = True
        raise KeyboardInterrupt

    def _hide_dropped_interrupt(self, unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            self._previous_hook(unraisable)


def _forget_unhandled_interrupt() -> None:
    """Keep the exit code a caught KeyboardInterrupt returns.

    CPython marks a KeyboardInterrupt that leaves code run by `exec` on a string (dataclasses
    builds its methods that way) as never caught, and at exit `python -m fooling` then kills
    itself by SIGINT instead of returning 130. Running any string with `exec` clears the mark.
    """
    exec("pass")


class StopOnInterrupt:
    """While active, the first Ctrl-C only asks the loop to stop; calling it tells whether it did.

    A second Ctrl-C interrupts at once as usual. Outside the main thread it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: signal.Handlers | None = None

    def __call__(self) -> bool:
        return self.requested

    def __enter__(self) -> StopOnInterrupt:
        if _pending:  # a Ctrl-C before the loop that Python dropped
            raise KeyboardInterrupt
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
