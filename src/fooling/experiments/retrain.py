"""Retraining with a fooling class (the paper's experiment 4), iteration by iteration.

Iteration i gathers fooling images against DNN(i-1) on the real classes,
trains DNN(i) from scratch on the real training set plus every fooling image
gathered so far as one more class, "fooling", and then evolves new fooling
images against DNN(i). Iteration 0 only evolves against the network given.
Every iteration is written to disk as it finishes, so a run stopped between
iterations continues with `resume=True` from the last one finished; one stopped
in the middle of an iteration starts it again, but reads back the gathering
searches it had finished (`gather_journal`) instead of running them again.

Where the networks come from is a `Networks` (`retrain_networks`): MNIST is
built in for the LeNets, each DNN(i) a LeNet with 11 outputs trained from
scratch by the generic trainer with `LENET_RECIPE`; any other PyTorch classifier
brings a folder of labelled images, and each DNN(i) is DNN(0) with one more
output, fine-tuned from DNN(0)'s weights (its head, or all of it).

On disk, beside the usual `summary.json` (one row per iteration), `plots/`
and `gallery.html` (the elites evolved against each network):

    iterations/NN/weights.safetensors   DNN(NN), with the fooling class
    iterations/NN/fooling.safetensors   the images gathered against DNN(NN-1):
                                        trained on, and held out
    iterations/NN/evolved/              the run evolved against DNN(NN)
    iterations/NN/missed/               held-out images DNN(NN) puts in a real class
    iterations/NN/gathering/            the searches gathering has finished, until the
                                        iteration is
    checkpoint/state.safetensors        the settings and every finished iteration's row
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fooling.classifiers import Classifier, load_classifier
from fooling.classifiers.lenet import SHIPPED_WEIGHTS
from fooling.data.image_folder import read_image_folder
from fooling.distributed.cluster import check_room, connect
from fooling.distributed.pool import Workers
from fooling.encodings import ENCODINGS, encodings_named, make_encoding
from fooling.errors import FoolingError, first_line
from fooling.experiments.gather import SNAPSHOTS, gather
from fooling.experiments.near_real import NearReal
from fooling.experiments.retrain_networks import (
    MNIST_SOURCE,
    FineTunedOnFolder,
    LeNetsOnMnist,
    Networks,
)
from fooling.limits import EPOCHS, GENERATIONS, MAX_STEPS, POPULATION, SEED, WORKERS, Limit, whole
from fooling.records import FOOLED_AT, Statistics
from fooling.runs.directory import Pages, RunDirectory
from fooling.runs.images import save_png
from fooling.runs.state import load_state, save_state
from fooling.search.evolution import Evolution
from fooling.search.result import SearchResult
from fooling.training.train_lenet import LENET_RECIPE, save_weights
from fooling.user_files import read_weights

ITERATIONS = whole("iterations", 1, 1000)
FOOLING_IMAGES = whole("fooling_per_iteration", 1, 10**6)
HELD_OUT = whole("held_out", 1, 10**6)
THRESHOLD = Limit("threshold", 0.0, 1.0, low_open=True)
STATE_FORMAT = "fooling-retrain-1"
IMAGES_FORMAT = "fooling-retrain-images-1"
MAX_SEARCHES = whole("max_searches", 1, 10**7)
JOURNAL = "gathering"  # an iteration's folder of the gathering searches finished
GATHER_SNAPSHOTS = whole("gather_snapshots", 1, 1000)
GATHER = ("all", "far")
"""What an iteration trains on: every image gathered (the paper's), or only those far
from every real image (`fooling.experiments.near_real`)."""
HOLDOUT_SEEDS = 500_000  # held-out images come from searches seeded this far apart
MISSED_SHOWN = 48  # held-out fooling images put in a real class, written to show


@dataclass(frozen=True)
class RetrainSettings:
    """How big each part of an iteration is.

    Attributes:
        iterations: networks retrained after the first.
        fooling_per_iteration: fooling images gathered and trained on per iteration;
            None: the size of one real class (the paper: about 6000 on MNIST).
        held_out: images gathered apart from them, from other searches, to measure
            whether the new network recognises fooling images it was not trained on;
            None: a sixth of `fooling_per_iteration` (1000 on MNIST).
        threshold: the confidence for a real class that a gathered image must reach.
        encodings: the encodings the searches take in turn.
        gather_generations: generations of each search that gathers images (the paper's
            200 on MNIST: against a network that has a fooling class, 30-generation
            searches found 4x fewer images per evaluation).
        gather_population: images per generation of those searches.
        gather_snapshots: times each of those searches' archive is read, evenly spaced
            (`fooling.experiments.gather`): an elite that improved since is another image.
        epochs: training passes over the real and fooling images (a LeNet, or a whole
            network fine-tuned; a head alone has `fooling.training.fine_tune.HEAD_RECIPE`).
        max_steps: stop training after this many updates (None: all epochs).
        generations: generations of the search evolved against each network.
        population: images per generation of that search.
        seed: seeds the searches and the training.
        gather: `"all"` (the paper's) trains on every image gathered; `"far"` keeps only
            those far from every real image. The held-out images are gathered the
            paper's way in both, so the two schemes are measured alike.
        max_searches: the most searches each gathering (trained and held-out) of an
            iteration may run; one that hits it goes on with the images it found and
            its row says so. None: no cap.
    """

    iterations: int = 15
    fooling_per_iteration: int | None = None
    held_out: int | None = None
    threshold: float = FOOLED_AT
    encodings: tuple[str, ...] = dataclasses.field(default_factory=lambda: tuple(ENCODINGS))
    gather_generations: int = 200
    gather_population: int = 100
    gather_snapshots: int = SNAPSHOTS
    epochs: int = LENET_RECIPE.epochs
    max_steps: int | None = None
    generations: int = 200
    population: int = 200
    seed: int = 0
    gather: str = "all"
    max_searches: int | None = None

    @classmethod
    def preset(cls, *, quick: bool, **changes: Any) -> RetrainSettings:
        """The paper's setting, or `quick`: the same code scaled down to minutes."""
        if quick:
            # gathering searches of 200 generations read 20 times found 1.5x and 2.1x the
            # images per evaluation of searches of 100 read 4 times against the first and
            # second retrained LeNets; the run took 278.4 s against 543.0 s, recall far from
            # real 0.947-0.962 (benchmarks/results/retrain_quick_cpu.json, `gather_yields`)
            base = cls(
                fooling_per_iteration=4000, held_out=300, gather_generations=200,
                gather_population=50, gather_snapshots=20, epochs=3, generations=100,
            )  # fmt: skip
            return dataclasses.replace(base, **changes)
        return cls(**changes)

    def sized(self, class_size: int) -> RetrainSettings:
        """These settings with the fooling class's sizes filled in from a real class's."""
        fooling = self.fooling_per_iteration or class_size
        held_out = self.held_out or max(1, round(fooling / 6))
        return dataclasses.replace(self, fooling_per_iteration=fooling, held_out=held_out)

    def check(self) -> None:
        """Raise FoolingError for a size out of range or an unknown encoding."""
        ITERATIONS.check(self.iterations)
        if self.fooling_per_iteration is not None:
            FOOLING_IMAGES.check(self.fooling_per_iteration)
        if self.held_out is not None:
            HELD_OUT.check(self.held_out)
        THRESHOLD.check(self.threshold)
        GENERATIONS.check(self.gather_generations)
        GATHER_SNAPSHOTS.check(self.gather_snapshots)
        GENERATIONS.check(self.generations)
        POPULATION.check(self.gather_population)
        POPULATION.check(self.population)
        EPOCHS.check(self.epochs)
        if self.max_steps is not None:
            MAX_STEPS.check(self.max_steps)
        SEED.check(self.seed)
        if self.max_searches is not None:
            MAX_SEARCHES.check(self.max_searches)
        if self.gather not in GATHER:
            raise FoolingError(f"gather must be one of {', '.join(GATHER)}, not {self.gather!r}")
        if not self.encodings or any(name not in ENCODINGS for name in self.encodings):
            raise FoolingError(
                f"encodings must be some of {', '.join(ENCODINGS)}, not {self.encodings!r}"
            )

    def json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "encodings": list(self.encodings)}


@dataclass
class RetrainResult:
    """The figures of every iteration finished so far.

    Attributes:
        classifier: the network retrained (its name).
        settings: the settings.
        iterations: one dict per iteration, 0 first (see `retrain`).
        seconds: wall-clock time of the iterations run by this call.
    """

    classifier: str
    settings: RetrainSettings
    iterations: list[dict[str, Any]]
    seconds: float

    def summary(self) -> dict[str, Any]:
        """The `summary.json` content."""
        return {
            "classifier": self.classifier,
            "method": "retrain",
            "settings": self.settings.json(),
            "finished": len(self.iterations) > self.settings.iterations,
            "iterations": self.iterations,
        }


def retrain(
    classifier: str | Classifier = "lenet-mnist",
    *,
    out: str | Path,
    iterations: int = 15,
    quick: bool = False,
    encoding: str = "both",
    seed: int = 0,
    weights: str | Path | None = None,
    data: str | Path | None = None,
    full: bool = False,
    mnist_root: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    settings: RetrainSettings | None = None,
    workers: int = 1,
    address: str | None = None,
    pages: Pages | None = None,
) -> RetrainResult:
    """Retrain a classifier with a class of fooling images, `iterations` times.

    Each iteration's row in `summary.json["iterations"]`: `test_accuracy` (held-out
    real images, all classes counted), `fooling_recall` (the share of held-out
    fooling images from the previous network that the new one puts in the
    fooling class), `fooling_recall_far_from_real` (the same share among the
    held-out images not near a real image, `fooling.experiments.near_real`; None
    when all are), `gathered_near_real` (the share of the images gathered that
    lie near a real one), `missed_held_out` (the first held-out images put in a
    real class: image, label, confidence, near_real), `median_confidence` and
    `fooled_at_0.99` of the images then evolved against the new network on the
    real classes (per class, the better of the encodings),
    `fooled_at_0.99_far_from_real` (the classes with such an elite far from real images),
    `trained_fooling_images`, and the iteration's cost: `gathered` and
    `gathered_held_out` (images), `gathered_searches`, `gathering_given_up` (searches
    given up as not on course, `fooling.experiments.gather`), `gathering_capped` (a gathering
    stopped at `settings.max_searches` short of its count), `gathering_seconds`,
    `evaluations`, `seconds`.

    Args:
        classifier: the network to start from: a name or file as for
            `load_classifier`, or a `Classifier`. The MNIST LeNets have MNIST built
            in; any other needs `data`.
        out: the run directory.
        iterations: networks to retrain after the first (the paper: 15 on MNIST).
        quick: the same code scaled down (fewer images, shorter training and
            searches) to run in minutes.
        encoding: `"direct"`, `"cppn"` or `"both"` for the searches.
        seed: seeds every search and every training run.
        weights: weights for a built-in first network (by default the shipped ones).
        data: a folder with one sub-folder of images per class (see
            `fooling.data.image_folder`). Each network is then the first with one more
            output, fine-tuned from its weights; a fifth of each class is the test set.
        full: with `data`, fine-tune the whole network, not only its last layer.
        mnist_root: a folder of MNIST IDX files (see `fooling.data.mnist.load_mnist`).
        force: replace a run already in `out`.
        resume: continue the run in `out` after its last finished iteration (its
            settings and data must be the same; `iterations` may be raised).
        device: where to run, for a classifier given by name (default: CUDA if present).
        progress: show progress bars.
        settings: every size at once, in place of `iterations`, `quick`, `encoding`
            and `seed` (for experiments of one's own, and tests).
        workers: gathering searches at once, on Ray (see `gather`); the images
            gathered are the same for any number.
        address: with `workers`, a Ray cluster to join (`"auto"`).
        pages: writes the pages into `out` after every iteration, the run's and each
            evolved search's (`fooling.write_pages`); None writes none.

    Returns:
        Every finished iteration's figures.

    Raises:
        FoolingError: a classifier with no built-in dataset and no `data`, one that
            cannot be given another class, unreadable data, a bad number or encoding,
            MNIST not found, `out` holding a run without `force`, nothing to resume,
            or Ray missing or unreachable with `workers` > 1.
    """
    encodings = encodings_named(encoding)
    if settings is None:
        settings = RetrainSettings.preset(
            quick=quick, iterations=iterations, encodings=encodings, seed=seed
        )
    settings.check()
    WORKERS.check(workers)
    if isinstance(classifier, Classifier):
        if weights is not None:
            raise FoolingError("weights are for a classifier given by name")
        first = classifier
    else:
        check_dataset(classifier, data, full)
        first = load_classifier(classifier, device, weights)
    networks = _networks(first, data, full, mnist_root, settings.seed)
    settings = settings.sized(networks.class_size)
    settings.check()
    if workers > 1:  # Ray, and room for the workers, before `out` is touched
        ray = connect(address, cpus=None if address else workers)
        check_room(ray, workers=workers, threads=1, gpu=first.device.type == "cuda")
    directory = RunDirectory(out)
    with (
        directory.resumable() if resume else directory.claim(force=force),
        _workers(workers, address, first) as started,
    ):
        gathering = {"workers": started}
        retraining = _Retraining(directory, settings, networks, progress, gathering, pages)
        return retraining.run(resume=resume)


def _workers(
    workers: int, address: str | None, first: Classifier
) -> contextlib.AbstractContextManager[int | Workers]:
    """The gatherings' workers, started once for the whole run (1: this process)."""
    if workers == 1:
        return contextlib.nullcontext(1)
    return Workers(workers, address=address, gpu=first.device.type == "cuda")


def _networks(
    first: Classifier, data: str | Path | None, full: bool, mnist_root: str | Path | None,
    seed: int,
) -> Networks:  # fmt: skip
    """MNIST LeNets, or the first network fine-tuned on `data`."""
    if data is not None:
        return FineTunedOnFolder(first, read_image_folder(data, first), full=full, seed=seed)
    check_dataset(first.name, data, full)
    return LeNetsOnMnist(first, mnist_root)


def check_dataset(name: str, data: str | Path | None, full: bool) -> None:
    """Refuse, before any model is loaded, a classifier that needs `data` and has none.

    Raises:
        FoolingError: no `data` for a classifier other than the MNIST LeNets, or
            `full` without `data`.
    """
    if data is not None:
        return
    if full:
        raise FoolingError("--full fine-tunes on --data; the MNIST LeNets train from scratch")
    if name not in SHIPPED_WEIGHTS:
        raise FoolingError(
            f"retrain has a built-in dataset only for the MNIST LeNets, not {name}; "
            "give --data FOLDER (one sub-folder of images per class)"
        )


class _Retraining:
    """One retraining run inside its claimed directory."""

    def __init__(
        self,
        directory: RunDirectory,
        settings: RetrainSettings,
        networks: Networks,
        progress: bool,
        gathering: dict[str, Any],
        pages: Pages | None,
    ) -> None:
        self.directory = directory
        self.pages = pages
        self.gathering = gathering  # where the searches run: {"workers": 1 or Workers}
        self.settings = settings
        self.networks = networks
        self.first = networks.first
        self.progress = progress
        self.state_path = directory.checkpoint / "state.safetensors"
        self.near_real: NearReal | None = None

    def run(self, *, resume: bool) -> RetrainResult:
        started = time.perf_counter()
        rows: list[dict[str, Any]] = []
        if resume:
            rows = self._restore()
        else:
            rows.append(self._first_row())
            self._save(rows)
        network = self.first if len(rows) == 1 else self._network(len(rows) - 1)
        while len(rows) <= self.settings.iterations:
            rows.append(self._iteration(len(rows), network))
            network = self._network(len(rows) - 1)
            self._save(rows)
            shutil.rmtree(self._folder(len(rows) - 1) / JOURNAL, ignore_errors=True)
        return RetrainResult(self.first.name, self.settings, rows, time.perf_counter() - started)

    # ------------------------------------------------------------ one iteration
    def _first_row(self) -> dict[str, Any]:
        """Iteration 0: the network given, and what evolution does against it."""
        started = time.perf_counter()
        accuracy = self._accuracy(self.first)
        evolved, evaluations = self._evolve(self.first, 0)
        return {
            "iteration": 0, "test_accuracy": accuracy, "fooling_recall": None,
            **evolved, "trained_fooling_images": 0, "gathered_searches": 0,
            "evaluations": evaluations, "seconds": round(time.perf_counter() - started, 3),
        }  # fmt: skip

    def _iteration(self, number: int, previous: Classifier) -> dict[str, Any]:
        """Gather against `previous`, train network `number`, evolve against it."""
        started = time.perf_counter()
        settings = self.settings
        assert settings.fooling_per_iteration is not None and settings.held_out is not None
        options = {
            "classes": self.networks.classes, "encodings": settings.encodings,
            "generations": settings.gather_generations,
            "population": settings.gather_population, "snapshots": settings.gather_snapshots,
            "threshold": settings.threshold, "progress": self.progress, **self.gathering,
        }  # fmt: skip
        if settings.max_searches is not None:
            options.update(max_searches=settings.max_searches, capped_ok=True)
        keep = self._near_real().far if settings.gather == "far" else None
        seed = settings.seed + number * 2 * HOLDOUT_SEEDS
        folder = self._folder(number)
        trained = gather(previous, settings.fooling_per_iteration, seed=seed, keep=keep,
                         journal=folder / JOURNAL / "trained", **options)  # fmt: skip
        held_out = gather(previous, settings.held_out, seed=seed + HOLDOUT_SEEDS,
                          journal=folder / JOURNAL / "held-out", **options)  # fmt: skip
        save_state(folder / "fooling.safetensors",
                   {"trained": trained.images, "held_out": held_out.images},
                   kind=IMAGES_FORMAT)  # fmt: skip
        fooling = torch.cat([self._fooling_images(index) for index in range(1, number + 1)])
        network = self.networks.train(
            number, fooling, epochs=settings.epochs, max_steps=settings.max_steps,
            seed=settings.seed + number, progress=self.progress,
        )  # fmt: skip
        save_weights(network, folder / "weights.safetensors")
        classifier = self.networks.classifier(network, number)
        checked = self._check_held_out(classifier, number, held_out.images)
        gathered = torch.cat([trained.images, held_out.images])
        earlier = trained.earlier_seconds + held_out.earlier_seconds  # searches resumed
        gathered_near = self._near_real().near(gathered).float().mean()
        evolved, evaluations = self._evolve(classifier, number)
        return {
            "iteration": number, "test_accuracy": self._accuracy(classifier),
            **checked, "gathered_near_real": float(gathered_near),
            **evolved, "trained_fooling_images": len(fooling),
            "gathered": len(trained.images), "gathered_held_out": len(held_out.images),
            "gathered_searches": trained.searches + held_out.searches,
            "gathering_given_up": trained.given_up + held_out.given_up,
            "gathering_capped": trained.capped or held_out.capped,
            "gathering_seconds": round(trained.seconds + held_out.seconds, 3),
            "gathering_resumed": trained.resumed + held_out.resumed,
            "evaluations": trained.evaluations + held_out.evaluations + evaluations,
            "seconds": round(time.perf_counter() - started + earlier, 3),
        }  # fmt: skip

    def _check_held_out(
        self, classifier: Classifier, number: int, held_out: torch.Tensor
    ) -> dict[str, Any]:
        """Recall on the held-out fooling images, also among those far from any real image,
        and the ones put in a real class written to `iterations/NN/missed/` (the first
        `MISSED_SHOWN`)."""
        probabilities = classifier.exact_probabilities(held_out.float().div(255)).cpu()
        confidences, predicted = probabilities.max(dim=1)
        caught = predicted == self.first.num_classes
        near = self._near_real().near(held_out)
        far = caught[~near]
        shutil.rmtree(self._folder(number) / "missed", ignore_errors=True)  # a stopped try's
        missed = []
        for index in (~caught).nonzero().flatten()[:MISSED_SHOWN].tolist():
            image = Path("missed") / f"{len(missed):03d}.png"
            save_png(held_out[index].float().div(255), self._folder(number) / image)
            missed.append({
                "image": image.as_posix(), "label": classifier.labels[int(predicted[index])],
                "confidence": float(confidences[index]), "near_real": bool(near[index]),
            })  # fmt: skip
        return {
            "fooling_recall": float(caught.float().mean()),
            "fooling_recall_far_from_real": float(far.float().mean()) if len(far) else None,
            "held_out_far": len(far),  # what that recall is measured on
            "missed_held_out": missed,
        }

    def _near_real(self) -> NearReal:
        """The nearest-real-image measure, calibrated on the real images once per run."""
        if self.near_real is None:
            self.near_real = NearReal.calibrate(
                self.networks.train_images, self.networks.test_images, seed=self.settings.seed
            )
        return self.near_real

    def _accuracy(self, classifier: Classifier) -> float:
        """The share of held-out real images the classifier puts in their class (of all)."""
        probabilities = classifier.exact_probabilities(self.networks.test_images)
        labels = self.networks.test_labels.to(probabilities.device)
        return float((probabilities.argmax(dim=1) == labels).float().mean())

    def _evolve(self, classifier: Classifier, number: int) -> tuple[dict[str, Any], int]:
        """Evolve against `classifier` on the real classes, once per encoding; write the runs."""
        results = []
        for name in self.settings.encodings:
            encoding = make_encoding(name, classifier.input_shape, classifier.device)
            evolution = Evolution(classifier, encoding, population=self.settings.population,
                                  seed=self.settings.seed + number,
                                  classes=self.networks.classes)  # fmt: skip
            result = evolution.run(self.settings.generations, progress=self.progress)
            path = self._folder(number) / "evolved" / name
            with RunDirectory(path).claim(force=True) as run:
                result.write_to(run, pages=self.pages)
            results.append(result)
        best = torch.stack([result.confidences for result in results]).amax(dim=0)
        figures = Statistics.of(best)
        evolved = {
            "median_confidence": figures.median,
            "fooled_at_0.99": int((best >= FOOLED_AT).sum()),
            "fooled_at_0.99_far_from_real": fooled_far_from_real(results, self._near_real()),
            "evolved": {result.encoding: _figures(result) for result in results},
        }
        return evolved, sum(result.evaluations for result in results)

    # ------------------------------------------------------------ on disk
    def _folder(self, number: int) -> Path:
        return self.directory.path / "iterations" / f"{number:02d}"

    def _fooling_images(self, number: int) -> torch.Tensor:
        """The images trained on in iteration `number`, as it saved them."""
        state = load_state(self._folder(number) / "fooling.safetensors", kind=IMAGES_FORMAT)
        images = state.get("trained")
        shape = tuple(self.first.input_shape)
        if not (isinstance(images, torch.Tensor) and images.dtype == torch.uint8
                and images.dim() == 4 and tuple(images.shape[1:]) == shape):  # fmt: skip
            raise FoolingError(f"{self._folder(number)} holds no fooling images of shape {shape}")
        return images

    def _network(self, number: int) -> Classifier:
        """Network `number` (0: the one given), read back from its weights."""
        if number == 0:
            return self.first
        weights = read_weights(self._folder(number) / "weights.safetensors")
        try:
            network = self.networks.load(weights)
        except RuntimeError as error:  # load_state_dict: missing, unexpected or resized keys
            raise FoolingError(
                f"{self._folder(number)}: weights do not fit the network: {first_line(error)}"
            ) from None
        return self.networks.classifier(network, number)

    def _save(self, rows: list[dict[str, Any]]) -> None:
        """Record the iterations finished: checkpoint, pages, then the summary."""
        result = RetrainResult(self.first.name, self.settings, rows, 0.0)
        state = {"settings": self.settings.json(), "identity": self.first.identity(),
                 "source": self.networks.source(), "rows": rows}  # fmt: skip
        save_state(self.state_path, state, kind=STATE_FORMAT)
        if self.pages is not None:
            self.pages(result, self.directory.path)
        self.directory.write_summary(result.summary())

    def _restore(self) -> list[dict[str, Any]]:
        """The rows of the iterations finished, after checking the settings are the same."""
        state = load_state(self.state_path, kind=STATE_FORMAT)
        # a run from before thresholds, folders and gathering schemes existed gathered
        # every image at 0.99 on MNIST, with no cap
        older = {"threshold": FOOLED_AT, "gather": "all", "max_searches": None}
        saved = {**older, **(state.get("settings") or {})}
        source = state.get("source", MNIST_SOURCE)
        wanted = self.settings.json()
        for key, value in wanted.items():  # more iterations, or another cap, may follow
            if key not in ("iterations", "max_searches") and saved.get(key) != value:
                raise FoolingError(
                    f"the run in {self.directory.path} was made with {key} {saved.get(key)!r}, "
                    f"not {value!r}; start a new run to change it"
                )
        if state.get("identity") != self.first.identity():
            raise FoolingError(f"the run in {self.directory.path} started from another network")
        if source != self.networks.source():
            raise FoolingError(
                f"the run in {self.directory.path} was trained on other data, or otherwise"
            )
        rows = state.get("rows")
        if not (isinstance(rows, list) and rows and all(isinstance(row, dict) for row in rows)
                and [row.get("iteration") for row in rows] == list(range(len(rows)))):  # fmt: skip
            raise FoolingError(f"cannot read the iterations of {self.directory.path}")
        return rows


def fooled_far_from_real(results: list[SearchResult], near_real: NearReal) -> int:
    """Classes with an elite at >= 0.99 that lies far from every real image, in any of the
    runs (each a search over the same classes)."""
    fooled = [(result.confidences >= FOOLED_AT) & ~near_real.near(result.images)
              for result in results]  # fmt: skip
    return int(torch.stack(fooled).any(dim=0).sum())


def _figures(result: SearchResult) -> dict[str, Any]:
    return {
        "median_confidence": result.median_confidence,
        "fooled_at_0.99": result.fooled(),
        "evaluations": result.evaluations,
    }
