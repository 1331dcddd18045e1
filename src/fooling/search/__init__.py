"""Searches for fooling images; each one fills an Archive and returns a SearchResult."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fooling.classifiers import Classifier, load_classifier
from fooling.encodings import Encoding, make_encoding
from fooling.errors import FoolingError
from fooling.search.evolution import Evolution
from fooling.search.result import SearchResult


def evolve(
    classifier: Classifier | str,
    *,
    encoding: Encoding | str = "direct",
    generations: int = 200,
    population: int = 200,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> SearchResult:
    """Evolve fooling images for every target class of a classifier (MAP-Elites).

    Args:
        classifier: a `Classifier`, or the name of a built-in one (e.g. `"lenet-mnist"`).
        encoding: `"direct"`, `"cppn"`, or an `Encoding` instance.
        generations: generations after the random start.
        population: images per generation.
        seed: the random seed; the same seed on the same device gives the same result.
        classes: target class indices; all classes when None.
        device: where to run a classifier given by name (default: CUDA if present).
        progress: show a progress bar.

    Returns:
        The per-class elites, their confidences and the run's history; `.save(dir)`
        writes a run directory.

    Raises:
        FoolingError: an unknown name, a bad number or class, or a bare `nn.Module`.
    """
    if isinstance(classifier, nn.Module):
        raise FoolingError(
            "wrap the model first: fooling.Classifier(model, input_shape=(C, H, W), labels=[...])"
        )
    if isinstance(classifier, str):
        classifier = load_classifier(classifier, device)
    if isinstance(encoding, str):
        encoding = make_encoding(encoding, classifier.input_shape, classifier.device)
    run = Evolution(classifier, encoding, population=population, seed=seed, classes=classes)
    return run.run(generations, progress=progress)


__all__ = ["Evolution", "SearchResult", "evolve"]
