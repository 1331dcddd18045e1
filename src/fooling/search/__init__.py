"""Searches for fooling images; each one fills an Archive and returns a SearchResult.

The loop's parts are public so that a caller can drive it: an `Emitter` asks
(parents by a `Selection`, mutation, rendering), any evaluator scores, and the
`Archive` is told. `Evolution` composes the three with counters, history and
state; `evolve` and `resume` drive one to its end, in memory or into a run
directory.
"""

from fooling.search.driver import evolve, resume, run_in_directory
from fooling.search.emitter import Emitter, Offspring
from fooling.search.evolution import Evolution
from fooling.search.result import SearchResult, load_run
from fooling.search.selection import Selection, uniform

__all__ = [
    "Emitter",
    "Evolution",
    "Offspring",
    "SearchResult",
    "Selection",
    "evolve",
    "load_run",
    "resume",
    "run_in_directory",
    "uniform",
]
