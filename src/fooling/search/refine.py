"""Gradients through the CPPN: a few Adam steps on a genome's weights, toward its class.

Evolution finds a CPPN's shape (its nodes, connections and activation functions)
slowly, a mutation at a time; once a shape is there, its weights can also be climbed
directly, by gradient through the renderer and the classifier. `refine_weights` takes a
batch of CPPN genomes with a target class each, keeps every shape fixed, and
climbs the log-odds of the class (log p - log(1 - p), which keeps pulling when p is
near 1, where log p stops moving) through the differentiable renderer and the
classifier. The refined genomes are still CPPNs within the encoding's weight bounds,
so their images stay CPPN images, and they enter the archive as any offspring does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from fooling.classifiers import Classifier
from fooling.encodings.base import Genomes
from fooling.encodings.cppn import CPPNEncoding
from fooling.errors import FoolingError
from fooling.limits import whole
from fooling.search.ascent import log_odds

REFINE_STEPS = whole("refine_steps", 0, 10_000)
REFINE_EVERY = whole("refine_every", 1, 10**9)
LEARNING_RATE = 0.03
"""Adam's step on weights that lie in [-10, 10] (the CPPN encoding's default range). Measured
on the 50 elites of a 40,000-evaluation EfficientNet-Lite0 run, 50 steps each: their median
rose from 0.131 to 0.194 at 0.003, 0.209 at 0.01, 0.226 at 0.03 and 0.218 at 0.1."""
REFINE_EVERY_DEFAULT = 500
"""Generations between refinements (`evolve` takes half the run's). In
`benchmarks/hybrid_cppn.py`, refining every 10 generations did worse than plain evolution at
the same compute, and refining at the middle and near the end did better: early in a run a
mutation gains more per evaluation, and a climb pays on elites that are already good."""
CHUNK = 32
"""Genomes refined at once (a backward pass through an ImageNet model holds a lot)."""


@dataclass(frozen=True)
class Refinement:
    """When and how much a search refines its elites by gradient.

    Attributes:
        steps: Adam steps per refinement (0: never).
        every: every `every`-th generation (never generation 0) refines the elites
            instead of mutating them.
        learning_rate: Adam's learning rate.
    """

    steps: int = 0
    every: int = REFINE_EVERY_DEFAULT
    learning_rate: float = LEARNING_RATE

    def __post_init__(self) -> None:
        REFINE_STEPS.check(self.steps)
        REFINE_EVERY.check(self.every)
        if not 0 < self.learning_rate <= 10:
            raise FoolingError(f"learning_rate must be in (0, 10], got {self.learning_rate}")

    def due(self, generation: int) -> bool:
        """Whether `generation` refines the elites."""
        return self.steps > 0 and generation > 0 and generation % self.every == 0


def refine_weights(
    encoding: CPPNEncoding,
    classifier: Classifier,
    genomes: Genomes,
    classes: torch.Tensor,
    *,
    steps: int,
    learning_rate: float = LEARNING_RATE,
    chunk: int = CHUNK,
) -> Genomes:
    """`steps` Adam steps on each genome's weights, up the log-odds of its class.

    Each genome's weights are their own problem (the loss is a sum over genomes, and
    Adam works weight by weight), so the batch is refined `chunk` genomes at a time,
    with the same result, to bound the memory a backward pass takes. The genomes may
    be inference tensors (as `Emitter.ask` makes them): each chunk is copied first.

    Args:
        encoding: the CPPN encoding the genomes belong to.
        classifier: a differentiable classifier (`Classifier.log_probabilities`).
        genomes: `B` CPPN genomes; left unchanged.
        classes: `long [B]` each genome's target class (an index into the outputs).
        steps: Adam steps; each costs one forward and one backward pass per genome.
        learning_rate: Adam's learning rate.
        chunk: genomes refined at once.

    Returns:
        The genomes with refined weights, clipped to the encoding's range;
        everything else the same tensors.

    Raises:
        FoolingError: the encoding is not a CPPN, or the classifier is a black box.
    """
    if not isinstance(encoding, CPPNEncoding):
        raise FoolingError(f"only CPPN genomes have weights to refine, not {encoding.name}'s")
    weights = [
        _refine_chunk(encoding, classifier, {key: value[start : start + chunk].clone()
                                             for key, value in genomes.items()},
                      classes[start : start + chunk].clone(), steps, learning_rate)
        for start in range(0, len(classes), chunk)
    ]  # fmt: skip
    return {**genomes, "weight": torch.cat(weights)}


def _refine_chunk(
    encoding: CPPNEncoding,
    classifier: Classifier,
    genomes: Genomes,
    classes: torch.Tensor,
    steps: int,
    learning_rate: float,
) -> torch.Tensor:
    """The refined weights of a few genomes.

    Adam on sines overshoots now and then, so a climb that fell after its best scored
    weights returns those. One whose best was its start or its last scored weights
    returns its last weights, which no step scores: a climb still rising at the end
    is likelier to have risen once more than to have fallen.
    """
    weight = genomes["weight"].detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([weight], lr=learning_rate)
    best = weight.detach().clone()
    best_score = torch.full(classes.shape, -math.inf, device=best.device)
    best_step = torch.zeros(classes.shape, dtype=torch.long, device=best.device)
    with torch.enable_grad():
        for step in range(steps):
            images = encoding.render_differentiable({**genomes, "weight": weight})
            scores = log_odds(classifier.log_probabilities(images), classes)
            with torch.no_grad():
                better = scores > best_score
                best_score = torch.where(better, scores, best_score)
                best_step[better] = step
                best[better] = weight[better]
            # the genomes' gradient only: `backward()` would also compute (and keep) the
            # classifier's weights' (`benchmarks/gradient_weights.py`)
            (weight.grad,) = torch.autograd.grad(-scores.sum(), weight)
            optimizer.step()
            with torch.no_grad():
                weight.clamp_(-encoding.weight_range, encoding.weight_range)
    last = (best_step == 0) | (best_step == steps - 1)
    best[last] = weight.detach()[last]
    return best
