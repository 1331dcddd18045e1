"""fooling: find images a classifier labels with near-certain confidence though no human would.

The public API is small: a `Classifier` wraps any model, `evolve` searches for
fooling images with MAP-Elites and a direct or CPPN encoding, `ascend` finds them
by gradient ascent on the pixels, and the returned `SearchResult` saves a run
directory with `.save(dir)`.
"""

from fooling.classifiers import Classifier, load_classifier
from fooling.errors import FoolingError
from fooling.search import SearchResult, evolve
from fooling.search.ascent import ascend

__version__ = "0.1.0"

__all__ = ["Classifier", "FoolingError", "SearchResult", "ascend", "evolve", "load_classifier"]
