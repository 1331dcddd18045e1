"""What a search leaves: per-class elites, their genomes and the run's figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fooling.encodings import Encoding, Genomes, encoding_from_settings
from fooling.errors import FoolingError
from fooling.records import FOOLED_AT, ProgressRow, Statistics
from fooling.runs.directory import Pages, RunDirectory
from fooling.runs.images import image_filename, read_png, save_png
from fooling.runs.progress import ProgressLog, read_progress
from fooling.runs.state import load_state, save_state

if TYPE_CHECKING:
    from fooling.classifiers import Classifier

ADMISSIONS = ("fp32", "report")
"""How a search below fp32 keeps its archive honest (`fooling.search.evolution.Evolution`)."""
ELITES_FORMAT = "fooling-elites-2"  # 2: with a checksum
OLDER_ELITES = ("fooling-elites-1",)


@dataclass
class SearchResult:
    """The outcome of a search (evolution or gradient ascent), one elite per target class.

    Attributes:
        classifier: the classifier's name.
        method: `"evolve"` or `"ascend"`.
        encoding: the encoding's name, or None for methods without one.
        seed: the random seed.
        generations: generations (or steps) completed.
        population: images per generation.
        evaluations: images scored by the classifier in total.
        seconds: wall-clock seconds spent searching.
        classes: the target class indices.
        labels: the target classes' labels, in the same order.
        confidences: `float [K]` each elite's probability for its class (-1: none found).
        images: `uint8 [K, C, H, W]` the elites' images, exactly as saved.
        found_at: `long [K]` the generation each elite was found in.
        history: one row per generation.
        genomes: the elites' genomes (`K` of each tensor), on the CPU, where kept.
        encoding_settings: what rebuilds the encoding (`make_encoding`), for evolution.
        weights: the SHA-256 of the classifier's weights (`Classifier.identity`); None
            where it has none (a plain callable) or the run is older than the record.
        islands: the evaluations of each island of a distributed run (`workers=`);
            None for a run in one process.
        migrate_every: the generations between a distributed run's merges.
        lost_nodes: Ray nodes a distributed run lost while it ran (their islands were
            replaced on the nodes left).
        refined: genome-steps of gradient refinement (`fooling.search.refine`), each
            one forward and one backward pass beside the `evaluations`.
        ascent: an ascent's settings (parameterisation, learning rate, transforms,
            regularisers); None for evolution.
        against: for evolution against a detector (`fooling.detectors.against`), its
            settings and every elite's class probability and verdict; else None.
        admission: for evolution below fp32, how the archive stayed honest (`"fp32"`:
            re-scored on entry; `"report"`: re-scored when reported; see `Evolution`);
            None for a search in fp32.
        rescored: offspring scored again in fp32 before they entered the archive.
    """

    classifier: str
    method: str
    encoding: str | None
    seed: int
    generations: int
    population: int
    evaluations: int
    seconds: float
    classes: list[int]
    labels: list[str]
    confidences: torch.Tensor
    images: torch.Tensor
    found_at: torch.Tensor
    history: list[ProgressRow] = field(default_factory=list)
    genomes: Genomes | None = None
    encoding_settings: dict[str, Any] | None = None
    weights: str | None = None
    islands: list[int] | None = None
    migrate_every: int | None = None
    lost_nodes: int = 0
    refined: int = 0
    ascent: dict[str, Any] | None = None
    against: dict[str, Any] | None = None
    admission: str | None = None
    rescored: int = 0

    @property
    def median_confidence(self) -> float:
        """The median elite confidence, counting a class without an elite as 0."""
        return Statistics.of(self.confidences).median

    def fooled(self, threshold: float = FOOLED_AT) -> int:
        """How many classes have an elite at or above `threshold`."""
        return int((self.confidences >= threshold).sum())

    def headline(self) -> str:
        """One line: `median confidence 0.99995, 10/10 classes >= 0.99, 7.9 s`."""
        return (
            f"median confidence {self.median_confidence:.5f}, "
            f"{self.fooled()}/{len(self.classes)} classes >= {FOOLED_AT}, {self.seconds:.1f} s"
        )

    def make_encoding(self, device: str | torch.device = "cpu") -> Encoding:
        """The encoding the genomes belong to, rebuilt from its saved settings.

        Raises:
            FoolingError: the result has no encoding (gradient ascent) or bad settings.
        """
        if self.encoding_settings is None:
            raise FoolingError(f"a {self.method} result has no encoding to rebuild")
        return encoding_from_settings(self.encoding_settings, device)

    def check_fooled(self, classifier: Classifier, run: str | Path) -> None:
        """Raise FoolingError unless `classifier` has the weights this run fooled.

        A run evolved with `--weights` names the built-in it started from; scoring its
        elites with that built-in's shipped weights would measure another network.
        Runs that recorded no weights pass.
        """
        mine = classifier.identity()["weights"]
        if self.weights is not None and mine != self.weights:
            raise FoolingError(
                f"{run} fooled {self.classifier} with weights {self.weights[:12]}..., not "
                f"{str(mine)[:12]}...: give those weights with --weights, or choose the "
                "network to score with by --classifier"
            )

    def summary(self) -> dict[str, Any]:
        """The `summary.json` content (image paths relative to the run directory)."""
        return {
            "classifier": self.classifier,
            "weights": self.weights,
            "method": self.method,
            "encoding": self.encoding,
            "seed": self.seed,
            "generations": self.generations,
            "population": self.population,
            "evaluations": self.evaluations,
            **(
                {}
                if self.islands is None
                else {
                    "workers": len(self.islands),
                    "island_evaluations": self.islands,
                    "migrate_every": self.migrate_every,
                    "lost_nodes": self.lost_nodes,
                }
            ),
            **(
                {}
                if not self.refined
                else {
                    "forward_passes": self.evaluations + self.refined,
                    "backward_passes": self.refined,
                    "forward_equivalents": self.evaluations + 3 * self.refined,
                }
            ),
            **({} if self.ascent is None else {"ascent": self.ascent}),
            **({} if self.against is None else {"against": self.against}),
            **(
                {}
                if self.admission is None
                else {
                    "admission": self.admission,
                    "rescored_in_fp32": self.rescored,
                    "rescored_share": round(self.rescored / max(self.evaluations, 1), 6),
                }
            ),
            "seconds": round(self.seconds, 3),
            "median_confidence": self.median_confidence,
            "fooled_at_0.99": self.fooled(),
            "classes": [
                {
                    "index": index,
                    "label": label,
                    "confidence": float(confidence),
                    "image": image_filename(index, label),
                }
                for index, label, confidence in zip(
                    self.classes, self.labels, self.confidences.tolist(), strict=True
                )
            ],
        }

    def save(self, out: str | Path, *, force: bool = False, pages: Pages | None = None) -> Path:
        """Write a new run directory: summary.json, images/, progress.csv and
        elites.safetensors (the genomes), and with `pages` gallery.html and plots/.

        Args:
            out: the run directory (created if missing).
            force: replace a run already in `out`.
            pages: writes the gallery and plots (`fooling.write_pages`); None writes none.

        Returns:
            The main page (`gallery.html`) with `pages`, else the run directory.

        Raises:
            FoolingError: `out` holds a run and `force` is False.
        """
        with RunDirectory(out).claim(force=force) as directory:
            return self.write_to(directory, pages=pages)

    def write_to(self, directory: RunDirectory, *, pages: Pages | None = None) -> Path:
        """Write this result into a directory already claimed for it (see `save`).

        Returns:
            The main page with `pages`, else the run directory.
        """
        out = directory.path
        for index, label, image in zip(self.classes, self.labels, self.images, strict=True):
            save_png(image.float().div(255), out / image_filename(index, label))
        with ProgressLog(directory.progress) as log:
            log.start(fresh=True)
            for row in self.history:
                log.append(row)
        main = pages(self, out) if pages is not None else out
        elites: dict[str, Any] = {
            "classes": torch.tensor(self.classes), "confidence": self.confidences,
            "found_at": self.found_at, "genomes": self.genomes, "encoding": self.encoding_settings,
        }  # fmt: skip
        save_state(directory.elites, elites, kind=ELITES_FORMAT)
        directory.write_summary(self.summary())
        return main

    @classmethod
    def load(cls, folder: str | Path) -> SearchResult:
        """Read a finished run back: classes, confidences, images, genomes and history.

        Runs written before genomes were saved load with `genomes` None.

        Args:
            folder: a run directory written by `save` (or a command such as `evolve`).

        Returns:
            The result, with images exactly as their PNGs hold them.

        Raises:
            FoolingError: the folder holds no readable finished run.
        """
        directory = RunDirectory(folder)
        summary = directory.read_summary()
        try:
            cells = summary["classes"]
            classes = [int(cell["index"]) for cell in cells]
            images = torch.stack([read_png(directory.path / cell["image"]) for cell in cells])
            confidences = torch.tensor([float(cell["confidence"]) for cell in cells])
            found_at = torch.full((len(cells),), -1, dtype=torch.long)
            genomes = settings = None
            if directory.elites.exists():
                elites = load_state(directory.elites, kind=ELITES_FORMAT, unchecked=OLDER_ELITES)
                if elites["classes"].tolist() != classes:
                    raise ValueError("elites.safetensors and summary.json name other classes")
                confidences, found_at = elites["confidence"], elites["found_at"]
                genomes, settings = elites["genomes"], elites["encoding"]
            history = read_progress(directory.progress) if directory.progress.exists() else []
            return cls(
                classifier=str(summary["classifier"]), method=str(summary["method"]),
                encoding=summary["encoding"], seed=int(summary["seed"]),
                generations=int(summary["generations"]), population=int(summary["population"]),
                evaluations=int(summary["evaluations"]), seconds=float(summary["seconds"]),
                classes=classes, labels=[str(cell["label"]) for cell in cells],
                confidences=confidences, images=images, found_at=found_at, history=history,
                genomes=genomes, encoding_settings=settings,
                weights=summary["weights"] if isinstance(summary.get("weights"), str) else None,
                islands=None if summary.get("island_evaluations") is None
                else [int(count) for count in summary["island_evaluations"]],
                lost_nodes=int(summary.get("lost_nodes", 0)),
                migrate_every=None if summary.get("migrate_every") is None
                else int(summary["migrate_every"]),
                refined=int(summary.get("backward_passes", 0)),
                ascent=summary["ascent"] if isinstance(summary.get("ascent"), dict) else None,
                against=summary["against"] if isinstance(summary.get("against"), dict) else None,
                admission=summary["admission"] if summary.get("admission") in ADMISSIONS
                else None,
                rescored=int(summary.get("rescored_in_fp32", 0)),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise FoolingError(f"cannot read the run in {directory.path}: {error}") from None


def load_run(folder: str | Path) -> SearchResult:
    """A finished run read back from its directory (`SearchResult.load`)."""
    return SearchResult.load(folder)
