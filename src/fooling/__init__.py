"""fooling: find images a classifier labels with near-certain confidence though no human would.

The public API is small: a `Classifier` wraps any model, `evolve` searches for
fooling images with MAP-Elites and a direct or CPPN encoding (`resume`
continues a saved run), `ascend` finds them by gradient ascent on the pixels,
`detect` asks whether out-of-distribution detectors would catch them,
and the returned `SearchResult` saves a run directory with `.save(dir)` and
reads one back with `load_run(dir)`; `write_pages(result, dir)` adds its gallery
and plots. The loop's own parts (`Emitter`, `Archive`, `Evolution`) are here too,
for composing a loop of one's own.

`evolve`, `resume`, `ascend`, `retrain`, `transfer` and `ablate` here write a run's
pages with its data when given `out`, as the commands do: they are the functions of
`fooling.search` and `fooling.experiments` with `pages=write_pages` (those layers sit
below the pages and write none unless handed a writer).
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import TYPE_CHECKING

# OpenVINO and NNCF, which `fooling` imports on its users' behalf, send usage events to
# Google Analytics, each from a process forked for it, unless a file under ~/intel opts
# out (over 600 forks in one run of the tests). Both turn it off when their telemetry
# package cannot be imported. A process that imported it before `fooling` keeps it.
sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from fooling.archive import Archive
    from fooling.classifiers import Classifier, load_classifier
    from fooling.encodings import encoding_from_settings, make_encoding
    from fooling.errors import FoolingError
    from fooling.experiments.ablate import ablate
    from fooling.experiments.detect import detect
    from fooling.experiments.retrain import retrain
    from fooling.experiments.transfer import transfer
    from fooling.report.pages import write_pages
    from fooling.search import Emitter, Evolution, SearchResult, evolve, load_run, resume
    from fooling.search.ascent import ascend
    from fooling.search.priors import Transforms
    from fooling.search.refine import Refinement
    from fooling.training import Recipe, train

_HOMES = {
    "Archive": "fooling.archive",
    "Classifier": "fooling.classifiers",
    "load_classifier": "fooling.classifiers",
    "encoding_from_settings": "fooling.encodings",
    "make_encoding": "fooling.encodings",
    "FoolingError": "fooling.errors",
    "ablate": "fooling.experiments.ablate",
    "detect": "fooling.experiments.detect",
    "transfer": "fooling.experiments.transfer",
    "retrain": "fooling.experiments.retrain",
    "Emitter": "fooling.search",
    "Evolution": "fooling.search",
    "SearchResult": "fooling.search",
    "evolve": "fooling.search",
    "load_run": "fooling.search",
    "resume": "fooling.search",
    "ascend": "fooling.search.ascent",
    "Transforms": "fooling.search.priors",
    "Refinement": "fooling.search.refine",
    "Recipe": "fooling.training",
    "train": "fooling.training",
    "write_pages": "fooling.report.pages",
}
_WRITE_PAGES = {"evolve", "resume", "ascend", "retrain", "transfer", "ablate"}
"""The functions that take `pages=`: here they write the pages too."""


def __getattr__(name: str) -> object:
    """Import the public names on first use, so `import fooling.cli` starts quickly."""
    if name not in _HOMES:
        raise AttributeError(f"module 'fooling' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    if name in _WRITE_PAGES:
        from fooling.report.pages import write_pages

        value = functools.update_wrapper(functools.partial(value, pages=write_pages), value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__version__ = "0.1.0"

__all__ = [
    "Archive",
    "Classifier",
    "Emitter",
    "Evolution",
    "FoolingError",
    "Recipe",
    "Refinement",
    "SearchResult",
    "Transforms",
    "ablate",
    "ascend",
    "detect",
    "encoding_from_settings",
    "evolve",
    "load_classifier",
    "load_run",
    "make_encoding",
    "resume",
    "retrain",
    "train",
    "transfer",
    "write_pages",
]
