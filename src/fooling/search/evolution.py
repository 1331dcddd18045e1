"""The search loop: MAP-Elites as ask (Emitter), evaluate (Classifier) and tell (Archive)."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from fooling.archive import Archive
from fooling.classifiers import Classifier
from fooling.classifiers.int8 import Calibration
from fooling.detectors.against import AgainstDetector
from fooling.encodings import Encoding, encoding_from_settings, select
from fooling.encodings.cppn import CPPNEncoding
from fooling.errors import FoolingError
from fooling.limits import GENERATIONS, POPULATION, SEED, check_memory
from fooling.records import MAX_PROBABILITY, ProgressRow, Statistics
from fooling.runs.state import State, load_state, save_state
from fooling.search.admission import Fp32Admission
from fooling.search.emitter import Emitter, Offspring
from fooling.search.refine import Refinement, refine_weights
from fooling.search.result import ADMISSIONS, SearchResult
from fooling.search.selection import Selection, uniform

GPU_REPORT_EVERY = 10  # generations between reads of the progress figures on a GPU
CHECKPOINT_FORMAT = "fooling-checkpoint-3"  # 3: a checksum and the model's identity
CHECKPOINT_FILE = "state.safetensors"

Evaluator = Callable[[torch.Tensor], torch.Tensor]
"""Images `[B, C, H, W]` in `[0, 1]` -> per-class scores `[B, num_classes]` in `[0, 1]`."""


class Evolution:
    """A MAP-Elites run in progress: its three parts, its counters and its history.

    Each generation is `ask` (the emitter proposes offspring), evaluate (the
    classifier, or any evaluator, scores them) and `tell` (the archive keeps
    every offspring that beats an elite). `step` does the three; a caller may
    instead ask, score however it likes, and tell. Generation 0 is a random
    population.

    A generation never waits for the device: its progress figures are computed
    where the archive lives and read back (`progress()`) at intervals, every
    generation on a CPU and every `GPU_REPORT_EVERY` on a GPU.

    An Evolution pickles and deep-copies (with its classifier), and
    `state_dict()` / `load_state_dict()` hold everything needed to continue it
    exactly: the archive, the random state, the counters and the history.

    Args:
        classifier: what is being fooled: its labels, device and name; it is also
            the evaluator unless another is given.
        encoding: how images are made; it must live on the classifier's device.
        population: images per generation.
        seed: seeds the run's only random stream.
        classes: target class indices or labels; all classes when None (or those
            of `archive`, when given).
        selection: picks parent cells; uniform over filled cells by default.
        evaluator: scores images instead of the classifier (an ensemble, a transfer
            target, a remote worker): `[B, C, H, W]` -> `[B, num_classes]` in `[0, 1]`.
        archive: an archive to continue filling, instead of a new one.
        refinement: every few generations, in place of that generation's mutants,
            each elite (a CPPN) found since the last refinement takes gradient steps
            on its weights toward its own class and is offered back
            (`fooling.search.refine`); None (or 0 steps) for plain evolution.
        admission: how a search below fp32 (bf16, int8) keeps its archive honest.
            `"fp32"`: every offspring about to enter or replace an elite is scored again
            in fp32 first, and the archive holds and compares fp32 values only
            (`fooling.search.admission`).
            `"report"`: the archive ranks in the search's own precision, and the elites
            are scored again in fp32 when the run reports. None: report
            (`ADMISSION_DEFAULTS`, as measured). Either way only fp32 values are reported.
            Nothing changes at fp32 or with another evaluator.

    Raises:
        FoolingError: a population or seed out of range, a population too big for
            the device's memory, a bad or repeated class, a refinement of genomes
            that are not CPPNs or through a black-box classifier, or an unknown
            admission (or fp32 admission with another evaluator).
    """

    def __init__(
        self,
        classifier: Classifier,
        encoding: Encoding,
        *,
        population: int,
        seed: int = 0,
        classes: Sequence[int | str] | None = None,
        selection: Selection = uniform,
        evaluator: Evaluator | None = None,
        archive: Archive | None = None,
        refinement: Refinement | None = None,
        admission: str | None = None,
    ) -> None:
        POPULATION.check(population)
        SEED.check(seed)
        check_memory(population * _bytes_per_individual(encoding), classifier.device,
                     f"a generation of {population:,} images")  # fmt: skip
        if archive is not None and classes is not None:
            raise FoolingError("give the classes or an archive, not both")
        if archive is None:
            archive = Archive(classifier.class_indices(classes), classifier.device)
        else:
            classifier.class_indices(archive.classes.tolist())
        self.classifier = classifier
        self.emitter = Emitter(encoding, population=population, seed=seed, selection=selection)
        self.evaluate: Evaluator = classifier if evaluator is None else evaluator
        if evaluator is None:
            classifier.calibrate(Calibration.of(encoding))  # (int8 only)
        self.admission = _admission(admission, classifier, evaluator)
        self.admit = Fp32Admission(classifier) if self.admission == "fp32" else None
        self.rescored = 0  # offspring scored again in fp32 before they entered the archive
        self.refinement = refinement if refinement is not None and refinement.steps else None
        if self.refinement is not None and not isinstance(encoding, CPPNEncoding):
            raise FoolingError(f"only CPPN genomes have weights to refine, not {encoding.name}'s")
        if self.refinement is not None and not classifier.differentiable:
            raise FoolingError(f"{classifier.name} is a black box: it cannot refine by gradient")
        self.refined = 0  # genome-steps of refinement: each one forward and one backward pass
        self.refined_at = -1  # the last generation that refined
        self.refine_part = (0, 1)  # (island, islands): an island climbs only its cells
        self.archive = archive
        self.generation = -1  # the last completed generation
        self.evaluations = 0
        self.seconds = 0.0
        self.history: list[ProgressRow] = []
        self.report_every = 1 if classifier.device.type == "cpu" else GPU_REPORT_EVERY
        self._unread: list[tuple[int, int, float, Statistics | torch.Tensor]] = []
        self._asked_at = 0.0

    @property
    def encoding(self) -> Encoding:
        return self.emitter.encoding

    @property
    def population(self) -> int:
        return self.emitter.population

    @property
    def seed(self) -> int:
        return self.emitter.seed

    # ------------------------------------------------------------- the loop
    def ask(self) -> Offspring:
        """The next generation's offspring, to be scored and handed to `tell`."""
        self._asked_at = time.perf_counter()
        generation = self.generation + 1
        refinement = self.refinement
        if refinement is None or not refinement.due(generation):
            return self.emitter.ask(self.archive, generation)
        cells = torch.nonzero(self.archive.found_at > self.refined_at).squeeze(1)
        part, parts = self.refine_part
        cells = cells[cells % parts == part]  # (islands share the merged elites' climbs)
        if not len(cells):
            return self.emitter.ask(self.archive, generation)
        return self._refined(generation, cells, refinement)

    def _refined(self, generation: int, cells: torch.Tensor, refinement: Refinement) -> Offspring:
        """A refinement generation: the elites of `cells`, their weights climbed toward
        their own classes. It takes the place of a generation of mutants and draws
        nothing from the random stream; its size is the number of cells.

        `cells` are those whose elites were found since the last refinement (all of
        them, the first time): a climbed elite is near its weights' local optimum,
        and one that a climb did not improve would climb the same way again."""
        assert self.archive.genomes is not None  # (refinement is never due at generation 0)
        parents = select(self.archive.genomes, cells)
        genomes = refine_weights(self.encoding, self.classifier, parents,
                                 self.archive.classes[cells], steps=refinement.steps,
                                 learning_rate=refinement.learning_rate)  # fmt: skip
        with torch.inference_mode():
            images = self.encoding.render(genomes, levels=True)
        return Offspring(generation, genomes, images, cells, climbed=refinement.steps)

    def tell(self, offspring: Offspring, probabilities: torch.Tensor) -> torch.Tensor:
        """Offer scored offspring to the archive and count the generation as done.

        Args:
            offspring: what the last `ask` returned.
            probabilities: their scores `[B, num_classes]`.

        Returns:
            `bool [K]`: the cells whose elite was replaced.

        Raises:
            ValueError: the offspring are not those of the next generation.
        """
        if offspring.generation != self.generation + 1:
            raise ValueError(f"expected generation {self.generation + 1}, "
                             f"got offspring of generation {offspring.generation}")  # fmt: skip
        rescored = 0
        if self.admit is not None:
            improved, rescored = self.admit(self.archive, offspring, probabilities)
        else:
            improved = self.archive.add(
                offspring.genomes, offspring.images, probabilities, offspring.generation
            )
        self.rescored += rescored
        self.generation = offspring.generation
        self.evaluations += len(offspring.images)
        if offspring.climbed:
            self.refined += offspring.climbed * len(offspring.images)
            self.refined_at = offspring.generation
        self.seconds += time.perf_counter() - self._asked_at
        confidence = self.archive.confidence
        figures = (
            Statistics.of(confidence)
            if self.report_every == 1
            else Statistics.on_device(confidence)
        )
        share = rescored / len(offspring.images)
        self._unread.append((self.generation, self.evaluations, self.seconds, figures, share))
        return improved

    def step(self) -> None:
        """Run one generation (on a GPU, only queue its work)."""
        offspring = self.ask()
        self.tell(offspring, self.evaluate(offspring.images))

    def progress(self) -> list[ProgressRow]:
        """The progress rows of the generations run since the last call (waits for the device).

        Raises:
            FoolingError: the classifier returned NaN scores.
        """
        started = time.perf_counter()
        self.classifier.check_scores()
        if self.evaluate is not self.classifier and isinstance(self.evaluate, Classifier):
            self.evaluate.check_scores()
        unread, self._unread = self._unread, []
        on_device = [figures for *_, figures, _ in unread if isinstance(figures, torch.Tensor)]
        read = iter(torch.stack(on_device).tolist() if on_device else [])  # one wait for all
        rows = [
            ProgressRow.at(generation, evaluations, seconds,
                           figures if isinstance(figures, Statistics) else Statistics(*next(read)),
                           share)
            for generation, evaluations, seconds, figures, share in unread
        ]  # fmt: skip
        self.seconds += time.perf_counter() - started
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
            FoolingError: `generations` is out of range.
        """
        GENERATIONS.check(generations)
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
        """The elites, their genomes and the figures so far."""
        self.progress()
        archive = self.archive
        assert archive.images is not None and archive.genomes is not None, "run a generation first"
        classes = archive.classes.tolist()
        confidences = archive.confidence
        if self.evaluate is self.classifier and self.admission != "fp32":  # reported in fp32
            confidences = self.classifier.exact_confidences(archive.images, archive.classes,
                                                            confidences)  # fmt: skip
        against = None
        if isinstance(self.evaluate, AgainstDetector):
            against = self.evaluate.verdicts(archive.images, archive.classes, confidences >= 0)
        return SearchResult(
            classifier=self.classifier.name, method="evolve", encoding=self.encoding.name,
            seed=self.seed, generations=max(self.generation, 0), population=self.population,
            evaluations=self.evaluations, seconds=self.seconds, classes=classes,
            labels=[self.classifier.labels[index] for index in classes],
            confidences=confidences.cpu(), images=archive.images.cpu(),
            found_at=archive.found_at.cpu(), history=list(self.history),
            genomes={key: value.cpu() for key, value in archive.genomes.items()},
            encoding_settings=self.encoding.settings(),
            weights=self.classifier.identity()["weights"], refined=self.refined, against=against,
            admission=self.admission,
            rescored=self.rescored,
        )  # fmt: skip

    # ------------------------------------------------------------------ state
    def settings(self) -> dict[str, Any]:
        """What defines this run: a state is loaded only into a run with the same settings."""
        return {
            "classifier": self.classifier.name,
            "num_classes": self.classifier.num_classes,
            "model": self.classifier.identity(),
            "device_type": self.classifier.device.type,
            "population": self.population,
            "seed": self.seed,
            "classes": self.archive.classes.tolist(),
            "encoding": self.encoding.settings(),
            **({} if self.refinement is None else
               {"refinement": dataclasses.asdict(self.refinement)}),
            **({"against": self.evaluate.settings()}
               if isinstance(self.evaluate, AgainstDetector) else {}),
            **({"admission": "fp32"} if self.admission == "fp32" else {}),
        }  # fmt: skip

    def state_dict(self) -> State:
        """Everything needed to continue this run exactly (waits for the device).

        A snapshot: the run going on does not change it, and it can be loaded into
        any number of runs (`load_state_dict` copies what it takes).
        """
        self.progress()
        history = [row.values() for row in self.history]
        state: State = {
            "settings": self.settings(),
            "generation": self.generation,
            "evaluations": self.evaluations,
            "refined": self.refined,
            "refined_at": self.refined_at,
            "rescored": self.rescored,
            "seconds": self.seconds,
            "random_state": self.emitter.generator.get_state(),
            "archive": None if self.archive.genomes is None else self.archive.state_dict(),
            "history": torch.tensor(history, dtype=torch.float64).view(len(history), 9),
        }
        screen = None if self.admit is None else self.admit.state_dict()
        if screen is not None:  # (fp32 admission: each elite's score in the search's precision)
            state["screen"] = screen
        return state

    def load_state_dict(self, state: State) -> None:
        """Continue from a `state_dict()` of a run with the same settings.

        Raises:
            FoolingError: the state was made with other settings or another model (its
                weights or preprocessing), or is malformed or out of range.
        """
        saved = state.get("settings", {}) if isinstance(state, dict) else {}
        settings = self.settings()
        if "refinement" in saved and "refinement" not in settings:
            settings["refinement"] = None  # (a refined run's state, into a plain run: refused)
        for key, value in settings.items():
            if key == "model":
                _check_same_model(saved.get(key), value)
            elif saved.get(key) != value:
                raise FoolingError(
                    f"the saved run was made with {key}={saved.get(key)!r}, not {value!r}"
                )
        try:
            generation, evaluations = int(state["generation"]), int(state["evaluations"])
            refined = int(state.get("refined", 0))  # (none before refinement existed)
            refined_at = int(state.get("refined_at", -1))
            rescored = int(state.get("rescored", 0))  # (none before fp32 admission existed)
            seconds = float(state["seconds"])
            if min(generation + 1, evaluations, refined, refined_at + 1, rescored) < 0 or not (
                refined_at <= generation and 0 <= seconds < math.inf
            ):
                raise ValueError("its counters are out of range")
            if state["archive"] is None:
                archive = Archive(self.archive.classes.tolist(), self.classifier.device)
            else:
                archive = Archive.from_state_dict(state["archive"], self.classifier.device)
                self._check_archive(archive, generation)
            self.emitter.generator.set_state(state["random_state"])
            history = _read_history(state["history"], generation, len(archive))
            if self.admit is not None:
                self.admit.load_state_dict(state.get("screen"), archive)
        except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as error:
            raise FoolingError(f"unreadable saved run: {error}") from None
        self.archive, self.history, self._unread = archive, history, []
        self.generation, self.evaluations, self.seconds = generation, evaluations, seconds
        self.refined, self.refined_at, self.rescored = refined, refined_at, rescored

    @classmethod
    def from_state_dict(
        cls,
        state: State,
        classifier: Classifier,
        *,
        selection: Selection = uniform,
        evaluator: Evaluator | None = None,
    ) -> Evolution:
        """The run that `state_dict()` saved, its encoding rebuilt from the saved settings.

        Args:
            state: what `state_dict()` returned (or a checkpoint read back).
            classifier: the classifier the run fools (the model is not saved).
            selection: as for `Evolution`.
            evaluator: as for `Evolution`.

        Raises:
            FoolingError: the state is malformed or out of range, or was made for another
                classifier or model.
        """
        settings = state.get("settings") if isinstance(state, dict) else None
        if not isinstance(settings, dict):
            raise FoolingError("unreadable saved run: it holds no settings")
        for key, mine in (("classifier", classifier.name), ("num_classes", classifier.num_classes)):
            if settings.get(key) != mine:
                raise FoolingError(
                    f"the saved run was made with {key}={settings.get(key)!r}, not {mine!r}"
                )
        try:
            population, seed = int(settings["population"]), int(settings["seed"])
            classes = [int(index) for index in settings["classes"]]
            saved = settings.get("refinement")
            refinement = None if saved is None else Refinement(
                steps=int(saved["steps"]), every=int(saved["every"]),
                learning_rate=float(saved["learning_rate"]))  # fmt: skip
        except (KeyError, TypeError, ValueError) as error:
            raise FoolingError(f"unreadable saved run: {error}") from None
        encoding = encoding_from_settings(settings.get("encoding"), classifier.device)
        evolution = cls(
            classifier, encoding, population=population, seed=seed, classes=classes,
            selection=selection, evaluator=evaluator, refinement=refinement,
            admission=str(settings.get("admission", "report")),
        )  # fmt: skip
        evolution.load_state_dict(state)
        return evolution

    def save(self, folder: str | Path) -> Path:
        """Write `state_dict()` atomically as `folder/state.safetensors` (a checkpoint).

        `Evolution.from_state_dict(read_checkpoint(folder), classifier)` continues it.
        """
        return save_state(Path(folder) / CHECKPOINT_FILE, self.state_dict(), kind=CHECKPOINT_FORMAT)

    def _check_archive(self, archive: Archive, generation: int) -> None:
        """Raise ValueError unless the archive fits this run: its classes, genomes and images."""
        assert archive.genomes is not None and archive.images is not None
        if not torch.equal(archive.classes.cpu(), self.archive.classes.cpu()):
            raise ValueError("its archive holds other classes than its settings")
        if int(archive.found_at.max()) > generation:
            raise ValueError("its archive holds elites found after its last generation")
        sample = self.encoding.random(1, torch.Generator(self.classifier.device).manual_seed(0))
        if set(archive.genomes) != set(sample):
            raise ValueError(f"its genomes are not {self.encoding.name} genomes")
        for key, value in sample.items():
            saved = archive.genomes[key]
            if saved.shape[1:] != value.shape[1:] or saved.dtype != value.dtype:
                raise ValueError(f"genome {key} is {saved.dtype} {tuple(saved.shape[1:])}")
        if tuple(archive.images.shape[1:]) != tuple(self.encoding.image_shape):
            raise ValueError(f"its images are {tuple(archive.images.shape[1:])}")
        self.encoding.check(archive.genomes)


ADMISSION_DEFAULTS = {"int8": "report", "bf16": "report"}
"""The admission of a search at each precision below fp32 when none is asked for: for each,
the better per evaluation on ImageNet CPPN searches, or the faster where the two lie within
their seeds' spread (`benchmarks/results/int8_search_cpu.json`, docs/cpu.md#int8)."""


def _admission(
    asked: str | None, classifier: Classifier, evaluator: Evaluator | None
) -> str | None:
    """The admission a run uses; None where there is none to choose (fp32, another evaluator).

    Raises:
        FoolingError: an unknown admission, or fp32 admission with another evaluator.
    """
    if asked is not None and asked not in ADMISSIONS:
        raise FoolingError(f"admission must be one of {', '.join(ADMISSIONS)}, got {asked!r}")
    if evaluator is not None and asked == "fp32":
        raise FoolingError("fp32 admission scores with the classifier, not another evaluator")
    if evaluator is not None or classifier.exact:
        return None
    return asked or ADMISSION_DEFAULTS.get(classifier.precision, "report")


def _bytes_per_individual(encoding: Encoding) -> int:
    """A generous estimate of the memory one individual takes while a generation runs."""
    genome = encoding.random(1, torch.Generator(encoding.device).manual_seed(0))
    genome_bytes = sum(value.numel() * value.element_size() for value in genome.values())
    return 8 * 4 * math.prod(encoding.image_shape) + 2 * genome_bytes  # 8 float images' worth


def _read_history(table: torch.Tensor, generation: int, cells: int) -> list[ProgressRow]:
    """The history rows of a saved run, checked to be figures a run could have made.

    Raises:
        ValueError: a row is not finite, lies past `generation`, or is out of range.
    """
    if table.dim() != 2 or table.shape[1] not in (7, 8, 9):
        raise ValueError("its history is not a table of 9 figures per generation")
    if table.shape[1] == 7:  # saved before the lowest confidence was recorded (NaN: unknown)
        table = torch.cat([table, torch.full_like(table[:, :1], math.nan)], dim=1)
    if table.shape[1] == 8:  # saved before fp32 admission existed (nothing re-scored)
        table = torch.cat([table, torch.zeros_like(table[:, :1])], dim=1)
    finite = torch.isfinite(table[:, [0, 1, 2, 3, 4, 5, 6, 8]]).all()
    if not (finite and not torch.isinf(table[:, 7]).any()):
        raise ValueError("its history is not a table of finite figures")
    rows = []
    for g, e, s, best, median, mean, fooled, lowest, share in table.tolist():
        known = [best, median, mean] + ([] if math.isnan(lowest) else [lowest])
        if not (
            0 <= g <= generation
            and 0 <= min(known) <= max(known) <= MAX_PROBABILITY
            and 0 <= fooled <= cells
            and 0 <= share <= 1
            and e >= 0
            and s >= 0
        ):
            raise ValueError(f"its history row of generation {g:g} is out of range")
        figures = Statistics(best, median, mean, int(fooled), lowest)
        rows.append(ProgressRow.at(g, e, s, figures, share))
    return rows


def _check_same_model(saved: object, mine: dict[str, Any]) -> None:
    """Raise FoolingError, naming the difference, unless `saved` is `mine` (a model identity)."""
    if saved == mine:
        return
    if not isinstance(saved, dict):
        raise FoolingError("unreadable saved run: it does not identify its model")
    name = mine["name"]
    for key, value in mine.items():
        before = saved.get(key)
        if before == value:
            continue
        if key == "weights":
            shown = f"weights {str(before)[:12]}..., not {str(value)[:12]}..."
        else:
            shown = f"{key} {before!r}, not {value!r}"
        raise FoolingError(
            f"the saved run fooled {name} with {shown}; resume it with the same model "
            "(or start a new run)"
        )
    raise FoolingError("the saved run identifies its model in a form this fooling cannot read")


def read_checkpoint(folder: str | Path) -> State:
    """The state a checkpoint folder holds (what `Evolution.save` wrote), read without pickle.

    Raises:
        FoolingError: it is missing or unreadable.
    """
    try:
        return load_state(Path(folder) / CHECKPOINT_FILE, kind=CHECKPOINT_FORMAT)
    except FoolingError as error:
        raise FoolingError(f"checkpoint: {error}") from None
