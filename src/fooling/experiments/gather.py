"""Many distinct fooling images at once: the elites of many independent searches.

Retraining needs thousands of fooling images per iteration (the paper added
about 6000 on MNIST, the size of one class), where one search leaves one elite
per class. So `gather` runs many searches, each from its own seed and
alternating encodings when asked, and keeps every elite at or above the
threshold, read from each search's archive at a few points along the way
(an elite that improved is another image). Images seen before are dropped, so
every image kept is distinct to the byte. Separate seeds give separate
lineages, which is what makes the set varied: the offspring of one search at
one point are near-copies of their parents. A search that scores in bf16 has
its candidates re-scored in fp32, so every image kept is at the threshold.

A search that is plainly not getting there is given up at a snapshot: its best
elite is below the threshold scaled by the share of its generations run (below
0.495 halfway through, for 0.99). Against a network retrained on fooling images
the direct encoding gets nowhere near (in a `retrain --quick` run, direct searches
of 100 generations reached a median of 0.09, 0.13 and 0.0000003 against the three
retrained LeNets, CPPN 0.99998, 0.998 and 0.90; its third iteration gave up 1119
of 2222 gathering searches: `earlier_runs` in benchmarks/results/retrain_quick_cpu.json),
and such searches now cost a share of their evaluations (a quarter with four
snapshots, a twentieth with twenty) instead of all of them. The rule
depends on the search alone, so the images gathered are the same for any number
of workers.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from fooling.archive import Archive
from fooling.classifiers import Classifier
from fooling.distributed.pool import Workers, ordered_map
from fooling.encodings import ENCODINGS, make_encoding
from fooling.errors import FoolingError
from fooling.experiments.gather_journal import Found, Journal
from fooling.records import FOOLED_AT
from fooling.search.evolution import Evolution

SNAPSHOTS = 4  # times each search's archive is read, evenly spaced over its generations


@dataclass(frozen=True)
class Gathered:
    """Fooling images and what finding them cost.

    Attributes:
        images: `uint8 [M, C, H, W]`, each at or above the threshold for some class.
        classes: `long [M]` the class each image fools.
        searches: searches run.
        evaluations: images scored in all.
        seconds: wall-clock time, earlier tries' included.
        capped: the searches stopped at `max_searches` with fewer images than asked for.
        given_up: searches given up early, not on course to reach the threshold.
        resumed: searches read back from the journal, run by an earlier try.
        earlier_seconds: the time those searches took in earlier tries.
    """

    images: torch.Tensor
    classes: torch.Tensor
    searches: int
    evaluations: int
    seconds: float
    capped: bool = False
    given_up: int = 0
    resumed: int = 0
    earlier_seconds: float = 0.0


@dataclass(frozen=True)
class Searches:
    """What every gathering search shares (sent once to each worker).

    Attributes:
        classifier: the network to fool.
        classes: the target classes.
        encodings: the encodings the searches take in turn.
        population: each search's images per generation.
        seed: search `k` uses seed `seed + k`.
        threshold: the confidence an image must reach.
        stops: the generations at which each search's archive is read.
    """

    classifier: Classifier
    classes: Sequence[int]
    encodings: Sequence[str]
    population: int
    seed: int
    threshold: float
    stops: list[int]


def search(searches: Searches, number: int) -> Found:
    """Run search `number`, up to its last stop or until it is plainly not getting there."""
    classifier = searches.classifier
    name = searches.encodings[number % len(searches.encodings)]
    encoding = make_encoding(name, classifier.input_shape, classifier.device)
    evolution = Evolution(classifier, encoding, population=searches.population,
                          seed=searches.seed + number, classes=searches.classes)  # fmt: skip
    found = []
    last = searches.stops[-1]
    for stop in searches.stops:
        evolution.run(stop, progress=False)
        found.append(_at_threshold(classifier, evolution.archive, searches.threshold))
        best = float(evolution.archive.confidence.max())
        if stop < last and best < searches.threshold * stop / last:
            return Found(found, evolution.evaluations, given_up=True)
    return Found(found, evolution.evaluations, given_up=False)


def gather(
    classifier: Classifier,
    count: int,
    *,
    classes: Sequence[int],
    encodings: Sequence[str] | None = None,
    generations: int = 50,
    population: int = 100,
    seed: int = 0,
    threshold: float = FOOLED_AT,
    snapshots: int = SNAPSHOTS,
    max_searches: int = 100_000,
    keep: Callable[[torch.Tensor], torch.Tensor] | None = None,
    capped_ok: bool = False,
    progress: bool = True,
    workers: int | Workers = 1,
    address: str | None = None,
    journal: str | Path | None = None,
) -> Gathered:
    """Collect `count` distinct images the classifier puts in one of `classes` at `threshold`.

    Args:
        classifier: the network to fool.
        count: images to collect.
        classes: the target classes (for retraining, the real ones only).
        encodings: the encodings the searches take in turn (default: every one).
        generations: each search's generations.
        population: each search's images per generation.
        seed: search `k` uses seed `seed + k`.
        threshold: the confidence an image must reach.
        snapshots: times each search's archive is read, evenly spaced.
        max_searches: give up after this many searches.
        keep: which of a search's images count (`uint8 [M, C, H, W]` -> `bool [M]`), e.g.
            only those far from every real image; all of them when None.
        capped_ok: at `max_searches`, return the images found so far (marked `capped`)
            instead of failing.
        progress: show a progress bar.
        workers: searches at once on Ray (`fooling.distributed.pool`), or `Workers`
            already started; 1 runs them here. The images are the same either way:
            searches are read in order.
        address: with `workers`, a Ray cluster to join (`"auto"`).
        journal: a folder where each search is recorded as it finishes
            (`gather_journal`); a gather stopped part way and started again with the
            same settings and journal reads the searches recorded there instead of
            running them again, and gathers the same images.

    Returns:
        The images (exactly `count`, or fewer when capped) with their classes and costs.

    Raises:
        FoolingError: `max_searches` searches found fewer than `count` images (without
            `capped_ok`, or none at all), or Ray is missing or unreachable with
            `workers` > 1.
        OSError: the journal cannot be written.
    """
    started = time.perf_counter()
    found: list[torch.Tensor] = []
    found_classes: list[int] = []
    seen: set[bytes] = set()
    stops = sorted({max(1, generations * (k + 1) // snapshots) for k in range(snapshots)})
    encodings = list(encodings or ENCODINGS)
    shared = Searches(classifier, list(classes), encodings, population, seed, threshold,
                      stops)  # fmt: skip
    searches = evaluations = given_up = 0
    log = None if journal is None else _journal(journal, shared)
    recorded, earlier = ([], 0.0) if log is None else log.recorded()
    recorded = recorded[:max_searches]
    fresh = ordered_map(search, shared, range(len(recorded), max_searches), workers=workers,
                        address=address, gpu=classifier.device.type == "cuda")  # fmt: skip
    bar = tqdm(total=count, desc="gather", unit="img", disable=not progress, leave=False)
    try:
        with closing(fresh), bar:  # closing ends the searches not needed (on workers not kept)
            for number, one in enumerate(itertools.chain(recorded, fresh)):
                if log is not None and number >= len(recorded):
                    log.add(one)
                for images, fooled in _kept(one.snapshots, keep):
                    for image, value in zip(images, fooled.tolist(), strict=True):
                        key = hashlib.sha256(image.numpy().tobytes()).digest()
                        if key not in seen and len(found) < count:
                            seen.add(key)
                            found.append(image)
                            found_classes.append(value)
                            bar.update(1)
                searches += 1
                evaluations += one.evaluations
                given_up += one.given_up
                if len(found) >= count:
                    break
    finally:  # every search that finished stays recorded, however the gather ends
        if log is not None:
            log.flush()
    if len(found) < count and not (capped_ok and found):
        raise FoolingError(
            f"{searches} searches found only {len(found)} of {count} images at "
            f">= {threshold} against {classifier.name}"
        )
    return Gathered(
        images=torch.stack(found), classes=torch.tensor(found_classes), searches=searches,
        evaluations=evaluations, seconds=time.perf_counter() - started + earlier,
        capped=len(found) < count, given_up=given_up, resumed=min(len(recorded), searches),
        earlier_seconds=earlier,
    )  # fmt: skip


def _journal(folder: str | Path, shared: Searches) -> Journal:
    """The journal of the searches `shared` describes, under what decides their images."""
    return Journal(Path(folder), {
        "classifier": shared.classifier.identity(),
        "classes": [int(index) for index in shared.classes],
        "encodings": list(shared.encodings), "population": shared.population,
        "seed": shared.seed, "threshold": shared.threshold, "stops": shared.stops,
    })  # fmt: skip


def _kept(
    snapshots: list[tuple[torch.Tensor, torch.Tensor]],
    keep: Callable[[torch.Tensor], torch.Tensor] | None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A search's snapshots with only the images `keep` accepts (judged in one call)."""
    if keep is None or not snapshots:
        return snapshots
    kept = keep(torch.cat([images for images, _ in snapshots]))
    parts = kept.split([len(images) for images, _ in snapshots])
    return [(images[part], fooled[part]) for (images, fooled), part in zip(snapshots, parts,
                                                                          strict=True)]  # fmt: skip


def _at_threshold(
    classifier: Classifier, archive: Archive, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The archive's elites at `threshold` or above, in fp32 whatever the search ran in:
    `uint8` images on the CPU and their classes."""
    cells = (archive.confidence >= threshold).nonzero().flatten()
    assert archive.images is not None
    images, classes = archive.images[cells], archive.classes[cells]  # copies: the archive changes
    if not classifier.exact and len(cells):
        exact = classifier.exact_confidences(images, classes, archive.confidence[cells])
        keep = (exact >= threshold).to(images.device)
        images, classes = images[keep], classes[keep]
    return images.cpu(), classes.cpu()
