"""`fooling evolve`: a MAP-Elites run that writes a run directory and can be resumed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fooling.classifiers import Classifier
from fooling.commands.arguments import add_classifier_arguments, classifier_from, positive_int
from fooling.commands.run_directory import StopOnInterrupt, claim_run_directory
from fooling.encodings import make_encoding
from fooling.errors import FoolingError
from fooling.report.progress import ProgressLog, ProgressRow
from fooling.search.evolution import Evolution
from fooling.search.result import SearchResult

INTERRUPTED = 130


def add_arguments(parser: argparse.ArgumentParser, *, out_default: str | None) -> None:
    """The options shared by `evolve` and `demo`."""
    add_classifier_arguments(parser)
    parser.add_argument("--generations", type=positive_int, default=200)
    parser.add_argument("--population", type=positive_int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=out_default, required=out_default is None)
    parser.add_argument("--force", action="store_true", help="replace a run already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Evolve as the arguments say; returns the exit code."""
    if args.resume and args.force:
        raise FoolingError("--resume and --force contradict each other; choose one")
    classifier = classifier_from(args)
    classes = parse_classes(args.classes, classifier)
    outcome = evolve_into(
        classifier, args.encoding, args.out, generations=args.generations,
        population=args.population, seed=args.seed, classes=classes, resume=args.resume,
        force=args.force, quiet=args.quiet, checkpoint_every=args.checkpoint_every,
    )  # fmt: skip
    if outcome is None:
        return INTERRUPTED
    print(f"gallery: {args.out / 'gallery.html'}  ({headline(outcome)})")
    return 0


def evolve_into(
    classifier: Classifier,
    encoding_name: str,
    out: Path,
    *,
    generations: int,
    population: int,
    seed: int,
    classes: list[int] | None,
    resume: bool,
    force: bool,
    quiet: bool,
    checkpoint_every: int = 50,
) -> SearchResult | None:
    """Run (or resume) an evolution into the run directory `out`.

    Returns:
        The result, or None when Ctrl-C stopped the run (its checkpoint is saved).

    Raises:
        FoolingError: bad settings, an existing run without --resume/--force, or
            a missing, unreadable or foreign checkpoint.
    """
    encoding = make_encoding(encoding_name, classifier.input_shape, classifier.device)
    evolution = Evolution(classifier, encoding, population=population, seed=seed, classes=classes)
    checkpoint = out / "checkpoint"
    if resume:
        evolution.restore(checkpoint)
    else:
        claim_run_directory(out, force=force)

    with ProgressLog(out / "progress.csv") as log, StopOnInterrupt() as stop:
        log.start(fresh=not resume)
        if resume:
            log.truncate_after(evolution.generation)

        def record(row: ProgressRow) -> None:
            log.append(row)
            if row.generation % checkpoint_every == 0:
                evolution.save(checkpoint)

        result = evolution.run(
            generations, progress=not quiet, on_generation=record, should_stop=stop
        )
        evolution.save(checkpoint)
    if evolution.generation < generations:
        print(
            f"interrupted after generation {evolution.generation} of {generations}; "
            f"continue with --resume --out {out}",
            file=sys.stderr,
        )
        return None
    result.save(out)
    return result


def parse_classes(values: list[str] | None, classifier: Classifier) -> list[int] | None:
    """Class indices from `--classes` values: indices, or labels as the classifier spells them.

    Raises:
        FoolingError: a value is neither a class index nor a label.
    """
    if not values:
        return None
    indices = []
    for value in (part for item in values for part in item.split(",") if part.strip()):
        value = value.strip()
        if value.lstrip("-").isdigit():
            indices.append(int(value))
        elif value in classifier.labels:
            indices.append(classifier.labels.index(value))
        else:
            raise FoolingError(f"--classes: {value!r} is neither a class index nor a label")
    return indices


def headline(result: SearchResult) -> str:
    """`median 0.99995, 10/10 classes >= 0.99, 7.9 s`."""
    return (
        f"median confidence {result.median_confidence:.5f}, "
        f"{result.fooled()}/{len(result.classes)} classes >= 0.99, {result.seconds:.1f} s"
    )
