"""`fooling evolve`: a MAP-Elites run that writes a run directory and can be resumed."""

from __future__ import annotations

import argparse
import sys

from fooling.classifiers import Classifier
from fooling.commands.arguments import (
    add_classifier_arguments,
    add_output_arguments,
    add_real_image_arguments,
    add_worker_arguments,
    classifier_from,
    classifier_options,
    split_classes,
    worker_options,
)
from fooling.detectors import DETECTORS
from fooling.detectors.against import PENALTIES, AgainstDetector, against_detector
from fooling.encodings import ENCODINGS, make_encoding
from fooling.errors import FoolingError
from fooling.limits import (
    CHECKPOINT_INTERVAL,
    GENERATIONS,
    HIDDEN_NODES,
    MIGRATION_INTERVAL,
    POPULATION,
)
from fooling.report.pages import write_pages
from fooling.search import evolve, resume
from fooling.search.driver import DEFAULTS
from fooling.search.evolution import ADMISSION_DEFAULTS
from fooling.search.refine import REFINE_EVERY, REFINE_STEPS, Refinement
from fooling.search.result import ADMISSIONS

HELP = "Evolve fooling images with MAP-Elites (direct or CPPN encoding)."
EXAMPLE = (
    "fooling evolve --classifier lenet-mnist --encoding cppn --generations 200 "
    "--population 200 --seed 0 --out runs/cppn"
)
INTERRUPTED = 130  # the exit code of a run stopped by Ctrl-C


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `evolve`."""
    add_classifier_arguments(parser, int8=True)
    add_search_arguments(parser, command="evolve", resumable=True)
    parser.add_argument("--encoding", choices=ENCODINGS, help="default: direct")
    parser.add_argument("--classes", nargs="+", help="target classes (indices or labels)")
    parser.add_argument(
        "--max-hidden", type=HIDDEN_NODES.parse, metavar="N",
        help="CPPN: the most hidden nodes a network can grow to (default: 8; the paper's "
        "code had no limit, and each slot costs memory and time)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true",
        help="continue the run in --out; its settings come from its checkpoint",
    )  # fmt: skip
    parser.add_argument(
        "--admission", choices=ADMISSIONS,
        help="below fp32 (bf16, int8), how the archive stays honest: fp32 scores every image "
        "about to enter it again in fp32 first and keeps fp32 values only; report ranks in "
        "the search's own precision and scores the elites in fp32 when the run reports "
        f"(default: {', '.join(f'{value} for {key}' for key, value in ADMISSION_DEFAULTS.items())}"
        "; see docs/cpu.md)",
    )  # fmt: skip
    add_worker_arguments(parser, "islands (MAP-Elites archives, merged every --migrate-every)")
    parser.add_argument(
        "--migrate-every", type=MIGRATION_INTERVAL.parse, metavar="M",
        help="with --workers, generations between merges of the islands' archives (default: 1 "
        "where a CPU generation is costly, as for ImageNet models; else 10)",
    )  # fmt: skip
    parser.add_argument(
        "--refine-steps", type=REFINE_STEPS.parse, metavar="K",
        help="with --encoding cppn: every --refine-every generations, in place of mutants, "
        "each elite found since the last refinement takes K Adam steps on its weights "
        "toward its class, through the classifier, and is scored again (default: 0, plain "
        "evolution); the network's shape stays as evolution made it",
    )  # fmt: skip
    parser.add_argument(
        "--refine-every", type=REFINE_EVERY.parse, metavar="G",
        help="with --refine-steps: refine the elites every G-th generation (default: half "
        "of --generations, so at the middle and at the end)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoint-every", type=CHECKPOINT_INTERVAL.parse, metavar="G",
        help="write a checkpoint every G generations (and always at the end); default: "
        "every 50, or fewer where writing them would take over 5%% of the run's time",
    )  # fmt: skip
    against = parser.add_argument_group("against a detector too (beyond the paper)")
    against.add_argument(
        "--against", choices=DETECTORS, metavar="DETECTOR",
        help=f"fit this out-of-distribution detector ({', '.join(DETECTORS)}) on the "
        "classifier's real images and evolve images it lets through: an image it catches "
        "scores less (see --against-penalty)",
    )  # fmt: skip
    against.add_argument(
        "--against-penalty", choices=PENALTIES,
        help="soft: a caught image's probabilities fall by e for each spread past the "
        "threshold (default); gate: a caught image scores 0",
    )  # fmt: skip
    add_real_image_arguments(against)


def add_search_arguments(
    parser: argparse.ArgumentParser, *, command: str, resumable: bool = False
) -> None:
    """`--generations`, `--population` and the output options, shared with `demo`.

    A resumable command leaves `--population` and `--seed` at None when not given,
    so that a resumed run takes them from its checkpoint.
    """
    parser.add_argument("--generations", type=GENERATIONS.parse, default=200)
    parser.add_argument(
        "--population", type=POPULATION.parse, default=None if resumable else 200,
        help="images per generation, each island's with --workers (default: 200)",
    )  # fmt: skip
    add_output_arguments(parser, command, seed=None if resumable else 0)


def run(args: argparse.Namespace) -> int:
    """Evolve (or resume) as the arguments say; returns the exit code."""
    given = {
        "encoding": args.encoding, "population": args.population, "seed": args.seed,
        "classes": split_classes(args.classes),
    }  # fmt: skip
    if args.resume:
        if args.force:
            raise FoolingError("--resume and --force contradict each other; choose one")
        for option in (
            "admission",
            "migrate_every",
            "refine_steps",
            "refine_every",
            "against",
            "data",
            "fit_count",
            "held_out_count",
        ):
            if getattr(args, option) is not None:
                flag = "--" + option.replace("_", "-")
                raise FoolingError(f"{flag} of a resumed run comes from its checkpoint")
        result = resume(
            args.out, generations=args.generations, classifier=args.classifier,
            device=args.device, progress=not args.quiet, checkpoint_every=args.checkpoint_every,
            expect={**given, "max_hidden": args.max_hidden}, **classifier_options(args),
            workers=args.workers if args.workers > 1 else None, address=args.address,
            pages=write_pages,
        )  # fmt: skip
    else:
        workers = worker_options(args)
        if args.migrate_every is not None and args.workers == 1:
            raise FoolingError("--migrate-every is for the islands of --workers N > 1")
        settings = {key: DEFAULTS[key] if value is None else value
                    for key, value in given.items() if key != "classes"}  # fmt: skip
        if args.max_hidden is not None and settings["encoding"] != "cppn":
            raise FoolingError("--max-hidden is for --encoding cppn")
        refinement = refinement_from(args, settings["encoding"])
        classifier = classifier_from(args)
        evaluator = against_from(args, classifier)
        if args.max_hidden is not None:
            settings["encoding"] = make_encoding(
                "cppn", classifier.input_shape, classifier.device, max_hidden=args.max_hidden
            )
        result = evolve(
            classifier, **settings, classes=given["classes"],
            generations=args.generations, progress=not args.quiet, out=args.out,
            force=args.force, checkpoint_every=args.checkpoint_every, **workers,
            migrate_every=args.migrate_every, refinement=refinement, evaluator=evaluator,
            admission=args.admission, pages=write_pages,
        )  # fmt: skip
    if result.generations < args.generations:
        print(
            f"interrupted after generation {result.generations} of {args.generations}; "
            f"continue with --resume --out {args.out}",
            file=sys.stderr,
        )
        return INTERRUPTED
    print(f"gallery: {args.out / 'gallery.html'}  ({result.headline()})")
    if result.against is not None:
        against = result.against
        print(f"against {against['detector']}: {against['fooled_and_passed']}/"
              f"{len(result.classes)} classes at >= 99% that it lets through; it lets "
              f"{against['passed']} of {len(against['elites'])} elites through")  # fmt: skip
    return 0


def against_from(args: argparse.Namespace, classifier: Classifier) -> AgainstDetector | None:
    """The evaluator `--against` asks for, fitted; None without it.

    Raises:
        FoolingError: real-image options without `--against`, `--against` with
            `--workers` or `--precision int8`, or as `against_detector`.
    """
    if args.against is None:
        for option in ("against_penalty", "data", "fit_count", "held_out_count"):
            if getattr(args, option) is not None:
                raise FoolingError(f"--{option.replace('_', '-')} is for --against DETECTOR")
        return None
    if args.workers > 1:
        raise FoolingError("--against runs in one process: leave out --workers")
    if args.precision == "int8":
        raise FoolingError("--against scores through the detector's torch features, "
                           "where --precision int8 does not apply: leave it out")  # fmt: skip
    return against_detector(classifier, args.against, penalty=args.against_penalty or "soft",
                            data=args.data, fit_count=args.fit_count,
                            held_out_count=args.held_out_count)  # fmt: skip


def refinement_from(args: argparse.Namespace, encoding: str) -> Refinement | None:
    """The gradient refinement `--refine-steps` and `--refine-every` ask for, if any.

    Raises:
        FoolingError: refinement for another encoding than CPPN, or `--refine-every`
            without `--refine-steps`.
    """
    if args.refine_steps is None:
        if args.refine_every is not None:
            raise FoolingError("--refine-every is for --refine-steps K")
        return None
    if encoding != "cppn":
        raise FoolingError("--refine-steps refines CPPN weights: it is for --encoding cppn")
    every = args.refine_every or max(1, args.generations // 2)
    return Refinement(steps=args.refine_steps, every=every)
