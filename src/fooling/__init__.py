"""fooling: find images a classifier labels with near-certain confidence though no human would.

The public API is small: a `Classifier` wraps any model, `evolve` searches for
fooling images with MAP-Elites and a direct or CPPN encoding (`resume`
continues a saved run), `ascend` finds them by gradient ascent on the pixels,
and the returned `SearchResult` saves a run directory with `.save(dir)` and
reads one back with `load_run(dir)`. The loop's own parts (`Emitter`,
`Archive`, `Evolution`) are here too, for composing a loop of one's own.
"""

from fooling.archive import Archive
from fooling.classifiers import Classifier, load_classifier
from fooling.encodings import encoding_from_settings, make_encoding
from fooling.errors import FoolingError
from fooling.search import Emitter, Evolution, SearchResult, evolve, load_run, resume
from fooling.search.ascent import ascend
from fooling.training import Recipe, train

__version__ = "0.1.0"

__all__ = [
    "Archive",
    "Classifier",
    "Emitter",
    "Evolution",
    "FoolingError",
    "Recipe",
    "SearchResult",
    "ascend",
    "encoding_from_settings",
    "evolve",
    "load_classifier",
    "load_run",
    "make_encoding",
    "resume",
    "train",
]
