"""Retraining with a fooling class (the paper's experiment 4), iteration by iteration.

Iteration i gathers fooling images against DNN(i-1) on the real classes,
trains DNN(i) from scratch on the real training set plus every fooling image
gathered so far as one more class, "fooling", and then evolves new fooling
images against DNN(i). Iteration 0 only evolves against the network given.
Every iteration is written to disk as it finishes, so a run stopped between
iterations continues with `resume=True` from the last one finished.

MNIST is the dataset built in: `lenet-mnist` (or its `weights`) is DNN(0),
and each DNN(i) is a LeNet with 11 outputs trained by the generic trainer
with `LENET_RECIPE`.

On disk, beside the usual `summary.json` (one row per iteration), `plots/`
and `gallery.html` (the elites evolved against each network):

    iterations/NN/weights.safetensors   DNN(NN), 11 classes
    iterations/NN/fooling.safetensors   the images gathered against DNN(NN-1):
                                        trained on, and held out
    iterations/NN/evolved/              the run evolved against DNN(NN)
    checkpoint/state.safetensors        the settings and every finished iteration's row
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fooling.classifiers import Classifier, load_classifier
from fooling.classifiers.lenet import MNIST_LABELS, LeNet
from fooling.data.mnist import load_mnist
from fooling.encodings import make_encoding
from fooling.errors import FoolingError
from fooling.experiments.gather import gather
from fooling.limits import EPOCHS, GENERATIONS, MAX_STEPS, POPULATION, SEED, whole
from fooling.records import FOOLED_AT, Statistics
from fooling.run_directory import RunDirectory
from fooling.search.evolution import Evolution
from fooling.search.result import SearchResult
from fooling.state_file import load_state, save_state
from fooling.training.train_lenet import LENET_RECIPE, save_weights
from fooling.training.trainer import evaluate, train
from fooling.user_files import read_weights

ITERATIONS = whole("iterations", 1, 1000)
FOOLING_IMAGES = whole("fooling_per_iteration", 1, 10**6)
HELD_OUT = whole("held_out", 1, 10**6)
FOOLING_LABEL = "fooling"
STATE_FORMAT = "fooling-retrain-1"
IMAGES_FORMAT = "fooling-retrain-images-1"
ENCODINGS = {"direct": ("direct",), "cppn": ("cppn",), "both": ("direct", "cppn")}
HOLDOUT_SEEDS = 500_000  # held-out images come from searches seeded this far apart


@dataclass(frozen=True)
class RetrainSettings:
    """How big each part of an iteration is.

    Attributes:
        iterations: networks retrained after the first.
        fooling_per_iteration: fooling images gathered and trained on per iteration
            (the paper: about 6000 on MNIST, the size of one class).
        held_out: images gathered apart from them, from other searches, to measure
            whether the new network recognises fooling images it was not trained on.
        encodings: the encodings the searches take in turn.
        gather_generations: generations of each short search that gathers images.
        gather_population: images per generation of those searches.
        epochs: training passes over the real and fooling images.
        max_steps: stop training after this many updates (None: all epochs).
        generations: generations of the search evolved against each network.
        population: images per generation of that search.
        seed: seeds the searches and the training.
    """

    iterations: int = 15
    fooling_per_iteration: int = 6000
    held_out: int = 1000
    encodings: tuple[str, ...] = ("direct", "cppn")
    gather_generations: int = 30
    gather_population: int = 100
    epochs: int = LENET_RECIPE.epochs
    max_steps: int | None = None
    generations: int = 200
    population: int = 200
    seed: int = 0

    @classmethod
    def preset(cls, *, quick: bool, **changes: Any) -> RetrainSettings:
        """The paper's setting, or `quick`: the same code scaled down to minutes."""
        if quick:
            base = cls(fooling_per_iteration=4000, held_out=300, epochs=3, generations=100)
            return dataclasses.replace(base, **changes)
        return cls(**changes)

    def check(self) -> None:
        """Raise FoolingError for a size out of range or an unknown encoding."""
        ITERATIONS.check(self.iterations)
        FOOLING_IMAGES.check(self.fooling_per_iteration)
        HELD_OUT.check(self.held_out)
        GENERATIONS.check(self.gather_generations)
        GENERATIONS.check(self.generations)
        POPULATION.check(self.gather_population)
        POPULATION.check(self.population)
        EPOCHS.check(self.epochs)
        if self.max_steps is not None:
            MAX_STEPS.check(self.max_steps)
        SEED.check(self.seed)
        if not self.encodings or any(name not in ENCODINGS["both"] for name in self.encodings):
            raise FoolingError(f"encodings must be direct and/or cppn, not {self.encodings!r}")

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
    classifier: str = "lenet-mnist",
    *,
    out: str | Path,
    iterations: int = 15,
    quick: bool = False,
    encoding: str = "both",
    seed: int = 0,
    weights: str | Path | None = None,
    mnist_root: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    settings: RetrainSettings | None = None,
) -> RetrainResult:
    """Retrain a classifier with a class of fooling images, `iterations` times.

    Each iteration's row in `summary.json["iterations"]`: `test_accuracy` (the
    real test set, all classes counted), `fooling_recall` (the share of held-out
    fooling images from the previous network that the new one puts in the
    fooling class), `median_confidence` and `fooled_at_0.99` of the images then
    evolved against the new network on the real classes (per class, the better
    of the encodings), `trained_fooling_images`, `evaluations`, `seconds`.

    Args:
        classifier: the network to start from; `"lenet-mnist"` (MNIST is the dataset
            built in).
        out: the run directory.
        iterations: networks to retrain after the first (the paper: 15 on MNIST).
        quick: the same code scaled down (fewer images, shorter training and
            searches) to run in minutes.
        encoding: `"direct"`, `"cppn"` or `"both"` for the searches.
        seed: seeds every search and every training run.
        weights: weights for the first network (by default the shipped ones).
        mnist_root: a folder of MNIST IDX files (see `fooling.data.mnist.load_mnist`).
        force: replace a run already in `out`.
        resume: continue the run in `out` after its last finished iteration (its
            settings must be the same; `iterations` may be raised).
        device: where to run (default: CUDA if present).
        progress: show progress bars.
        settings: every size at once, in place of `iterations`, `quick`, `encoding`
            and `seed` (for experiments of one's own, and tests).

    Returns:
        Every finished iteration's figures.

    Raises:
        FoolingError: another classifier, a bad number or encoding, MNIST not found,
            `out` holding a run without `force`, or nothing to resume.
    """
    if classifier != "lenet-mnist":
        raise FoolingError(
            f"retrain has a built-in dataset only for lenet-mnist, not {classifier!r}"
        )
    if encoding not in ENCODINGS:
        raise FoolingError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    if settings is None:
        settings = RetrainSettings.preset(
            quick=quick, iterations=iterations, encodings=ENCODINGS[encoding], seed=seed
        )
    settings.check()
    first = load_classifier(classifier, device, weights)
    real = (load_mnist("train", mnist_root), load_mnist("test", mnist_root))
    directory = RunDirectory(out)
    with directory.resumable() if resume else directory.claim(force=force):
        return _Retraining(directory, settings, first, real, progress).run(resume=resume)


class _Retraining:
    """One retraining run inside its claimed directory."""

    def __init__(
        self,
        directory: RunDirectory,
        settings: RetrainSettings,
        first: Classifier,
        real: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
        progress: bool,
    ) -> None:
        self.directory = directory
        self.settings = settings
        self.first = first
        (self.train_images, self.train_labels), (self.test_images, self.test_labels) = real
        self.progress = progress
        self.state_path = directory.checkpoint / "state.safetensors"

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
        return RetrainResult(self.first.name, self.settings, rows, time.perf_counter() - started)

    # ------------------------------------------------------------ one iteration
    def _first_row(self) -> dict[str, Any]:
        """Iteration 0: the network given, and what evolution does against it."""
        started = time.perf_counter()
        accuracy = _accuracy(self.first, self.test_images, self.test_labels)
        evolved, evaluations = self._evolve(self.first, 0)
        return {
            "iteration": 0, "test_accuracy": accuracy, "fooling_recall": None,
            **evolved, "trained_fooling_images": 0, "gathered_searches": 0,
            "evaluations": evaluations, "seconds": round(time.perf_counter() - started, 3),
        }  # fmt: skip

    def _iteration(self, number: int, previous: Classifier) -> dict[str, Any]:
        """Gather against `previous`, train network `number`, evolve against it."""
        started = time.perf_counter()
        settings, real = self.settings, range(len(MNIST_LABELS))
        options = {
            "classes": real, "encodings": settings.encodings,
            "generations": settings.gather_generations,
            "population": settings.gather_population, "progress": self.progress,
        }  # fmt: skip
        seed = settings.seed + number * 2 * HOLDOUT_SEEDS
        trained = gather(previous, settings.fooling_per_iteration, seed=seed, **options)
        held_out = gather(previous, settings.held_out, seed=seed + HOLDOUT_SEEDS, **options)
        folder = self._folder(number)
        save_state(folder / "fooling.safetensors",
                   {"trained": trained.images, "held_out": held_out.images},
                   kind=IMAGES_FORMAT)  # fmt: skip
        fooling = torch.cat([self._fooling_images(index) for index in range(1, number + 1)])
        network = self._train(number, fooling)
        save_weights(network, folder / "weights.safetensors")
        classifier = self._classifier(network, number)
        recall = _share_in_class(classifier, held_out.images, len(MNIST_LABELS))
        evolved, evaluations = self._evolve(classifier, number)
        return {
            "iteration": number,
            "test_accuracy": _accuracy(classifier, self.test_images, self.test_labels),
            "fooling_recall": recall, **evolved, "trained_fooling_images": len(fooling),
            "gathered_searches": trained.searches + held_out.searches,
            "evaluations": trained.evaluations + held_out.evaluations + evaluations,
            "seconds": round(time.perf_counter() - started, 3),
        }  # fmt: skip

    def _train(self, number: int, fooling: torch.Tensor) -> LeNet:
        """A LeNet with the fooling class, trained from scratch on real and fooling images."""
        images = torch.cat([self.train_images, fooling.float().div(255)])
        labels = torch.cat([
            self.train_labels,
            torch.full((len(fooling),), len(MNIST_LABELS), dtype=torch.long),
        ])  # fmt: skip
        recipe = dataclasses.replace(
            LENET_RECIPE, epochs=self.settings.epochs, max_steps=self.settings.max_steps
        )
        torch.manual_seed(self.settings.seed + number)
        network = LeNet(num_classes=len(MNIST_LABELS) + 1).to(self.first.device)
        train(network, (images, labels), recipe, seed=self.settings.seed + number,
              progress=self.progress)  # fmt: skip
        return network.cpu()

    def _evolve(self, classifier: Classifier, number: int) -> tuple[dict[str, Any], int]:
        """Evolve against `classifier` on the real classes, once per encoding; write the runs."""
        results = []
        for name in self.settings.encodings:
            encoding = make_encoding(name, classifier.input_shape, classifier.device)
            evolution = Evolution(classifier, encoding, population=self.settings.population,
                                  seed=self.settings.seed + number,
                                  classes=range(len(MNIST_LABELS)))  # fmt: skip
            result = evolution.run(self.settings.generations, progress=self.progress)
            path = self._folder(number) / "evolved" / name
            with RunDirectory(path).claim(force=True) as run:
                result.write_to(run)
            results.append(result)
        best = torch.stack([result.confidences for result in results]).amax(dim=0)
        figures = Statistics.of(best)
        evolved = {
            "median_confidence": figures.median,
            "fooled_at_0.99": int((best >= FOOLED_AT).sum()),
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
        shape = (1, *self.first.input_shape[1:])
        if not (isinstance(images, torch.Tensor) and images.dtype == torch.uint8
                and images.dim() == 4 and tuple(images.shape[1:]) == shape):  # fmt: skip
            raise FoolingError(f"{self._folder(number)} holds no fooling images of shape {shape}")
        return images

    def _network(self, number: int) -> Classifier:
        """Network `number` (0: the one given), read back from its weights."""
        if number == 0:
            return self.first
        network = LeNet(num_classes=len(MNIST_LABELS) + 1)
        network.load_state_dict(read_weights(self._folder(number) / "weights.safetensors"))
        return self._classifier(network, number)

    def _classifier(self, network: LeNet, number: int) -> Classifier:
        return Classifier(
            network, input_shape=(1, 28, 28), labels=(*MNIST_LABELS, FOOLING_LABEL),
            device=self.first.device, batch_size=4096, channels_last=True, precision="fp32",
            dataset_mean=self.first.dataset_mean, name=f"{self.first.name}-retrained-{number}",
        )  # fmt: skip

    def _save(self, rows: list[dict[str, Any]]) -> None:
        """Record the iterations finished: checkpoint, plots, gallery, then the summary."""
        from fooling.report.retrain_report import write_retrain_report  # (loads matplotlib)

        result = RetrainResult(self.first.name, self.settings, rows, 0.0)
        state = {"settings": self.settings.json(), "identity": self.first.identity(), "rows": rows}
        save_state(self.state_path, state, kind=STATE_FORMAT)
        write_retrain_report(result, self.directory.path)
        self.directory.write_summary(result.summary())

    def _restore(self) -> list[dict[str, Any]]:
        """The rows of the iterations finished, after checking the settings are the same."""
        state = load_state(self.state_path, kind=STATE_FORMAT)
        saved = dict(state.get("settings") or {})
        wanted = self.settings.json()
        for key, value in wanted.items():
            if key != "iterations" and saved.get(key) != value:
                raise FoolingError(
                    f"the run in {self.directory.path} was made with {key} {saved.get(key)!r}, "
                    f"not {value!r}; start a new run to change it"
                )
        if state.get("identity") != self.first.identity():
            raise FoolingError(f"the run in {self.directory.path} started from another network")
        rows = state.get("rows")
        if not (isinstance(rows, list) and rows and all(isinstance(row, dict) for row in rows)
                and [row.get("iteration") for row in rows] == list(range(len(rows)))):  # fmt: skip
            raise FoolingError(f"cannot read the iterations of {self.directory.path}")
        return rows


def _accuracy(classifier: Classifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The share of real test images the classifier puts in their class (of all its classes)."""
    model = classifier.model
    assert isinstance(model, torch.nn.Module)
    return evaluate(model, images, labels)


def _share_in_class(classifier: Classifier, images: torch.Tensor, index: int) -> float:
    """The share of `uint8` images the classifier puts in class `index` as its top-1."""
    probabilities = classifier.exact_probabilities(images.float().div(255))
    return float((probabilities.argmax(dim=1) == index).float().mean())


def _figures(result: SearchResult) -> dict[str, Any]:
    return {
        "median_confidence": result.median_confidence,
        "fooled_at_0.99": result.fooled(),
        "evaluations": result.evaluations,
    }
