"""The search loop: MAP-Elites evolution composed from a Classifier, an Encoding and an Archive."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from fooling.archive import Archive
from fooling.classifiers import Classifier
from fooling.encodings import Encoding, quantize
from fooling.errors import FoolingError
from fooling.report.progress import ProgressRow
from fooling.search.checkpoint import read_checkpoint, write_checkpoint
from fooling.search.result import Figures, SearchResult, confidence_figures

GPU_REPORT_EVERY = 10  # generations between reads of the progress figures on a GPU


class Evolution:
    """A MAP-Elites run in progress: its parts, its random state and its counters.

    Generation 0 scores a random population; every later generation draws
    `population` parents from the archive, mutates them, renders, scores and
    offers the offspring to the archive.

    A generation never waits for the device: its progress figures are computed
    where the archive lives and read back (`progress()`) at intervals, every
    generation on a CPU and every `GPU_REPORT_EVERY` on a GPU.

    Args:
        classifier: what is being fooled.
        encoding: how images are made; it must live on the classifier's device.
        population: images per generation.
        seed: seeds the run's only random generator.
        classes: target class indices; all classes when None.

    Raises:
        FoolingError: a non-positive population or a class index out of range.
    """

    def __init__(
        self,
        classifier: Classifier,
        encoding: Encoding,
        *,
        population: int,
        seed: int = 0,
        classes: Sequence[int] | None = None,
    ) -> None:
        if population < 1:
            raise FoolingError(f"population must be positive, got {population}")
        classes = list(range(classifier.num_classes)) if classes is None else list(classes)
        check_classes(classes, classifier)
        self.classifier = classifier
        self.encoding = encoding
        self.population = population
        self.seed = seed
        self.generator = torch.Generator(device=classifier.device).manual_seed(seed)
        self.archive = Archive(classes, classifier.device)
        self.generation = -1  # the last completed generation
        self.evaluations = 0
        self.seconds = 0.0
        self.history: list[ProgressRow] = []
        self._unread: list[tuple[int, int, float, Figures]] = []  # waiting for progress()
        self.report_every = 1 if classifier.device.type == "cpu" else GPU_REPORT_EVERY

    @torch.inference_mode()
    def step(self) -> None:
        """Run one generation (on a GPU, only queue its work)."""
        started = time.perf_counter()
        generation = self.generation + 1
        if generation == 0:
            genomes = self.encoding.random(self.population, self.generator)
        else:
            parents = self.archive.parents(self.population, self.generator)
            genomes = self.encoding.mutate(parents, generation, self.generator)
        images = quantize(self.encoding.render(genomes))
        probabilities = self.classifier(images)
        self.archive.add(genomes, images, probabilities, generation)
        self.generation = generation
        self.evaluations += self.population
        self.seconds += time.perf_counter() - started
        figures = confidence_figures(self.archive.confidence, on_host=self.report_every == 1)
        self._unread.append((generation, self.evaluations, self.seconds, figures))

    def progress(self) -> list[ProgressRow]:
        """The progress rows of the generations run since the last call (waits for the device).

        Raises:
            FoolingError: the classifier returned NaN scores.
        """
        started = time.perf_counter()
        self.classifier.check_scores()
        unread, self._unread = self._unread, []
        values = [figures for *_, figures in unread]
        if values and isinstance(values[0], torch.Tensor):
            values = torch.stack(values).tolist()  # one wait for the whole interval
        self.seconds += time.perf_counter() - started
        rows = [
            ProgressRow(generation, evaluations, seconds, best, middle, mean, int(fooled))
            for (generation, evaluations, seconds, _), (best, middle, mean, fooled) in zip(
                unread, values, strict=True
            )
        ]
        self.history.extend(rows)
        return rows

    def run(
        self,
        generations: int,
        *,
        progress: bool = True,
        on_generation: Callable[[ProgressRow], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SearchResult:
        """Evolve until generation `generations` is done (or `should_stop()` says so).

        Args:
            generations: the last generation to run (generation 0 is the random start).
            progress: show a progress bar on stderr.
            on_generation: called with each new progress row.
            should_stop: polled after each generation; True ends the run early.

        Returns:
            The result so far.

        Raises:
            FoolingError: `generations` is not positive.
        """
        if generations < 1:
            raise FoolingError(f"generations must be positive, got {generations}")
        bar = tqdm(
            total=generations + 1, initial=self.generation + 1, unit="gen", disable=not progress,
            desc=f"evolve {self.encoding.name}", dynamic_ncols=True, leave=False,
        )  # fmt: skip
        with bar:
            while self.generation < generations:
                self.step()
                stop = should_stop is not None and should_stop()
                due = self.generation % self.report_every == 0 or self.generation == generations
                if not (due or stop):
                    continue
                for row in self.progress():
                    if on_generation is not None:
                        on_generation(row)
                    bar.update(1)
                    bar.set_postfix(median=f"{row.median_confidence:.5f}", fooled=row.fooled)
                if stop:
                    break
        return self.result()

    def result(self) -> SearchResult:
        """The elites and figures so far."""
        self.progress()
        archive = self.archive
        assert archive.images is not None, "run at least one generation first"
        return SearchResult(
            classifier=self.classifier.name,
            method="evolve",
            encoding=self.encoding.name,
            seed=self.seed,
            generations=max(self.generation, 0),
            population=self.population,
            evaluations=self.evaluations,
            seconds=self.seconds,
            classes=archive.classes.tolist(),
            labels=[self.classifier.labels[index] for index in archive.classes.tolist()],
            confidences=archive.confidence.cpu(),
            images=archive.images.cpu(),
            found_at=archive.found_at.cpu(),
            history=list(self.history),
        )

    # ------------------------------------------------------------- checkpoints
    def settings(self) -> dict[str, Any]:
        """What must match for a checkpoint to be resumed by this run."""
        return {
            "classifier": self.classifier.name,
            "num_classes": self.classifier.num_classes,
            "device_type": self.classifier.device.type,
            "population": self.population,
            "seed": self.seed,
            "classes": self.archive.classes.tolist(),
            "encoding": self.encoding.settings(),
        }

    def save(self, folder: Path) -> Path:
        """Write a checkpoint of the state after the last completed generation."""
        self.progress()
        tensors = {f"archive.{key}": value for key, value in self.archive.state().items()}
        tensors["random_state"] = self.generator.get_state()
        tensors["history"] = torch.tensor(
            [list(vars(row).values()) for row in self.history], dtype=torch.float64
        )
        info = {
            "settings": self.settings(),
            "generation": self.generation,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
        }
        return write_checkpoint(folder, tensors, info)

    def restore(self, folder: Path) -> None:
        """Continue from a checkpoint written by a run with the same settings.

        Raises:
            FoolingError: the checkpoint is unreadable or was made with other settings.
        """
        tensors, info = read_checkpoint(folder)
        saved = info.get("settings", {})
        for key, value in self.settings().items():
            if saved.get(key) != value:
                raise FoolingError(
                    f"checkpoint in {folder} was made with {key}={saved.get(key)!r}, "
                    f"not {value!r}; use --force to start a new run"
                )
        try:
            archive = Archive.from_state(
                {key.removeprefix("archive."): value for key, value in tensors.items()
                 if key.startswith("archive.")},
                self.classifier.device,
            )  # fmt: skip
            self._check_genomes(archive)
            self.generator.set_state(tensors["random_state"])
            history = [_row_from(values) for values in tensors["history"].tolist()]
            generation, evaluations = int(info["generation"]), int(info["evaluations"])
            seconds = float(info["seconds"])
        except (KeyError, ValueError, RuntimeError, TypeError) as error:
            raise FoolingError(f"unreadable checkpoint in {folder}: {error}") from None
        self.archive, self.history = archive, history
        self.generation, self.evaluations, self.seconds = generation, evaluations, seconds

    def _check_genomes(self, archive: Archive) -> None:
        """Raise ValueError unless the archive's genomes and images fit this run's encoding."""
        assert archive.genomes is not None and archive.images is not None
        sample = self.encoding.random(1, torch.Generator(self.classifier.device).manual_seed(0))
        if set(archive.genomes) != set(sample):
            raise ValueError(f"its genomes are not {self.encoding.name} genomes")
        for key, value in sample.items():
            saved = archive.genomes[key]
            if saved.shape[1:] != value.shape[1:] or saved.dtype != value.dtype:
                raise ValueError(f"genome {key} is {saved.dtype} {tuple(saved.shape[1:])}")
        if tuple(archive.images.shape[1:]) != tuple(self.encoding.image_shape):
            raise ValueError(f"its images are {tuple(archive.images.shape[1:])}")


def _row_from(values: list[float]) -> ProgressRow:
    generation, evaluations, seconds, best, middle, mean, fooled = values
    return ProgressRow(int(generation), int(evaluations), seconds, best, middle, mean, int(fooled))


def check_classes(classes: Sequence[int], classifier: Classifier) -> None:
    """Raise FoolingError unless `classes` are distinct, valid class indices."""
    if not classes:
        raise FoolingError("no target classes given")
    bad = [index for index in classes if not 0 <= index < classifier.num_classes]
    if bad:
        last = classifier.num_classes - 1
        raise FoolingError(f"class {bad[0]} out of range: {classifier.name} has classes 0..{last}")
    if len(set(classes)) != len(classes):
        raise FoolingError("target classes must not repeat")
