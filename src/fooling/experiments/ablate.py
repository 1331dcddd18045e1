"""Ablation (the paper's experiment 6): remove an elite's repeated copies one at a time.

For each elite of a finished run, `find_motif` finds the copies of its motif.
They are removed cumulatively, largest first, each filled with the image's
background colour, and the classifier scores (fp32) the image after each
removal. With more than `max_steps` copies, each step removes an equal share
of them. The control removes the same area at random places: each copy's own
shape, moved by a random circular shift chosen among the shifts that overlap
the copies (and the control's earlier pieces) least, filled the same way; its
curve is the mean over `controls` random draws. So both curves remove the same
number of pixels per step (unless the image has no room to keep the control's
pieces apart), and differ only in where. Filling plain background with the
background changes nothing, so the control may change fewer pixels than the
copies: the summary counts the pixels each curve actually changed.

Curves are confidence against copies removed. The median curves across classes
are taken on a grid of fractions of each class's copies (0, 0.1, ..., 1): at a
fraction f a class counts with its confidence after the last step that removed
at most f of its copies. Classes in which no motif was found are kept in the
result with the reason, and left out of the medians.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fooling.classifiers import Classifier, load_classifier
from fooling.errors import FoolingError
from fooling.experiments.ablation_strip import write_strip
from fooling.experiments.motifs import Motif, find_motif
from fooling.limits import CONTROLS, MAX_ABLATION_STEPS, SEED, TOP
from fooling.runs.directory import Pages, RunDirectory
from fooling.search.result import SearchResult, load_run

FRACTIONS = [step / 10 for step in range(11)]
"""The fractions of copies removed at which the median curves are read."""
AGREEMENT = 0.01
"""The most a re-scored elite may differ from the confidence its run saved."""
CHUNK = 64
"""Images scored at once. EfficientNet-Lite0 on OpenVINO fp32, 2 busy CPU cores (measured):
64 a batch, 154 images/s; 512 a batch (the classifier's own), 63 images/s. Ablating the
1000 classes of an ImageNet run peaked at 8.8 GB of memory with the elites scored 512 at a
time, and at 2.2 GB with 64."""


@dataclass
class ClassAblation:
    """One class's elite, its copies and its curves.

    Attributes:
        index: the class index.
        label: the class label.
        confidence: the elite's confidence as its run saved it.
        motif: the copies found (none: `motif.count` is 0, `motif.reason` says why).
        removed: copies removed after each step, from 0 (the elite as it is).
        motif_curve: the class's confidence after each step of removing copies.
        control_curve: the same with the same area removed at random places (the mean
            over the draws).
        control_draws: each draw's curve.
        changed_motif: pixels that differ from the elite after each step of removing copies.
        changed_control: the same for the control (the mean over the draws).
        strip: the strip image of the removals, relative to the output directory, if written.
    """

    index: int
    label: str
    confidence: float
    motif: Motif
    removed: list[int] = field(default_factory=list)
    motif_curve: list[float] = field(default_factory=list)
    control_curve: list[float] = field(default_factory=list)
    control_draws: list[list[float]] = field(default_factory=list)
    changed_motif: list[int] = field(default_factory=list)
    changed_control: list[float] = field(default_factory=list)
    strip: str | None = None

    def at_fractions(self, curve: list[float]) -> list[float]:
        """`curve` read at `FRACTIONS` of the copies removed (the last step at or below each)."""
        done = np.asarray(self.removed, dtype=np.float64) / self.removed[-1]
        steps = np.searchsorted(done, np.asarray(FRACTIONS) + 1e-9, side="right") - 1
        return [curve[step] for step in steps]

    def describe(self) -> dict[str, Any]:
        """What summary.json says of the class."""
        described: dict[str, Any] = {
            "index": self.index, "label": self.label, "confidence": self.confidence,
            "motif": self.motif.method if self.motif.count else None,
            "reason": self.motif.reason, "copies": self.motif.count,
            "background": [round(value * 255, 1) for value in self.motif.background.tolist()],
        }  # fmt: skip
        if self.motif.count:
            described |= {
                "coverage": round(self.motif.coverage, 4),
                "copy_pixels": self.motif.copies.view(self.motif.count, -1).sum(dim=1).tolist(),
                "copies_removed": self.removed, "motif_curve": self.motif_curve,
                "control_curve": self.control_curve, "control_draws": self.control_draws,
                "changed_pixels_motif": self.changed_motif,
                "changed_pixels_control": self.changed_control, "strip": self.strip,
            }  # fmt: skip
        return described


@dataclass
class AblationResult:
    """What `ablate` measured.

    Attributes:
        run: the run directory ablated.
        classifier: the classifier's name.
        seed: the control's random seed.
        controls: random draws per control curve.
        classes: one entry per class ablated, with or without a motif.
        seconds: wall-clock seconds from reading the run to the last score and strip
            (the plots, gallery and summary not included).
        images_scored: how many images the classifier scored.
        show: the most strips (and elites without a motif) its gallery shows.
    """

    run: Path
    classifier: str
    seed: int
    controls: int
    classes: list[ClassAblation]
    seconds: float
    images_scored: int
    show: int = 40

    @property
    def with_motif(self) -> list[ClassAblation]:
        """The classes in which copies were found."""
        return [ablation for ablation in self.classes if ablation.motif.count]

    def median_curve(self, kind: str) -> list[float]:
        """The median across classes with a motif of their `"motif"` or `"control"` curve,
        at `FRACTIONS` of their copies removed (empty when no class has a motif)."""
        curves = [
            ablation.at_fractions(getattr(ablation, f"{kind}_curve"))
            for ablation in self.with_motif
        ]
        return [statistics.median(column) for column in zip(*curves, strict=True)] if curves else []

    def _median_changed(self) -> dict[str, float] | None:
        """The median pixels changed with every copy removed, motif and control.

        The control's are fewer where its places fall on plain background, which
        filling with the background does not change.
        """
        if not self.with_motif:
            return None
        return {
            "motif": statistics.median(ablation.changed_motif[-1] for ablation in self.with_motif),
            "control": statistics.median(
                ablation.changed_control[-1] for ablation in self.with_motif
            ),
        }

    def headline(self) -> str:
        """One line: the median confidence with every copy removed, motif and control."""
        found = f"{len(self.with_motif)}/{len(self.classes)} classes with a motif"
        if not self.with_motif:
            return f"{found}; nothing to ablate"
        motif, control = self.median_curve("motif"), self.median_curve("control")
        return (
            f"median confidence {motif[0]:.4f} -> {motif[-1]:.4f} with all copies removed, "
            f"{control[-1]:.4f} with the same area removed elsewhere; {found}"
        )

    def summary(self) -> dict[str, Any]:
        """The `summary.json` content."""
        motif, control = self.median_curve("motif"), self.median_curve("control")
        return {
            "method": "ablate", "run": str(self.run), "classifier": self.classifier,
            "seed": self.seed, "controls": self.controls, "seconds": round(self.seconds, 3),
            "images_scored": self.images_scored, "classes_ablated": len(self.classes),
            "classes_with_motif": len(self.with_motif),
            "classes_without_motif": len(self.classes) - len(self.with_motif),
            "fractions": FRACTIONS, "median_motif": motif, "median_control": control,
            "median_after_all": {"motif": motif[-1], "control": control[-1]} if motif else None,
            "median_changed_pixels_after_all": self._median_changed(),
            "classes": [ablation.describe() for ablation in self.classes],
        }  # fmt: skip


def ablate(
    run: str | Path,
    *,
    classifier: Classifier | str | None = None,
    out: str | Path | None = None,
    force: bool = False,
    device: str | torch.device | None = None,
    seed: int = 0,
    controls: int = 3,
    classes: Sequence[int | str] | None = None,
    top: int | None = None,
    max_steps: int = 16,
    show: int = 40,
    progress: bool = True,
    pages: Pages | None = None,
) -> AblationResult:
    """Remove each elite's repeated copies one at a time and score it after each removal.

    Args:
        run: a finished run directory of `evolve` or `ascend`.
        classifier: the classifier to score with (a `Classifier` or a name); by default
            the one the run fooled, by its name. Scores are fp32 either way.
        out: a run directory to write (summary.json, plots/, images/ with one strip per
            class, gallery.html); nothing is written when None.
        force: replace a run already in `out`.
        device: where to run a classifier given by name (default: CUDA if present).
        seed: seeds the control's random places.
        controls: random draws averaged in each control curve.
        classes: ablate only these of the run's classes (indices or labels).
        top: ablate only the `top` classes whose elites have the highest confidence.
        max_steps: the most removal steps per class; more copies are removed in groups.
        show: the most strips shown in the gallery (those with a motif and the highest
            confidence); every strip is written to `images/`.
        progress: show a progress bar.
        pages: writes the gallery and plots into `out` (`fooling.write_pages`); None
            writes none.

    Returns:
        Each class's copies and curves, and the median curves.

    Raises:
        FoolingError: `run` holds no readable finished run, the classifier cannot be
            loaded or gives the elites other confidences than the run saved, a class is
            not in the run, a number is out of range, or `out` cannot be written
            (or is the run itself).
    """
    started = time.perf_counter()
    SEED.check(seed)
    CONTROLS.check(controls)
    MAX_ABLATION_STEPS.check(max_steps)
    if top is not None:
        TOP.check(top)
    result = load_run(run)
    chosen = _chosen_classes(result, classes, top)
    if isinstance(classifier, Classifier):
        model = classifier
    else:
        name = classifier or result.classifier
        try:
            model = load_classifier(name, device, precision="fp32")
        except FoolingError as error:
            whose = "" if classifier else " that the run fooled"
            raise FoolingError(f"cannot load the classifier {name!r}{whose}: {error}") from None
        if classifier is None:
            result.check_fooled(model, run)
    elites = _score_elites(model, result, chosen)
    if out is not None and Path(out).resolve() == Path(run).resolve():
        raise FoolingError(f"--out {out} is the run being ablated: choose another directory")
    claimed = contextlib.nullcontext() if out is None else RunDirectory(out).claim(force=force)
    with claimed as directory:
        ablations, scored = _measure(
            model, result, chosen, elites, seed=seed, controls=controls, max_steps=max_steps,
            directory=directory, progress=progress,
        )  # fmt: skip
        outcome = AblationResult(
            Path(run), model.name, seed, controls, ablations,
            time.perf_counter() - started, scored, show,
        )  # fmt: skip
        if directory is not None:
            if pages is not None:
                pages(outcome, directory.path)
            directory.write_summary(outcome.summary())
    return outcome


def _chosen_classes(
    result: SearchResult, classes: Sequence[int | str] | None, top: int | None
) -> list[int]:
    """The rows of the run to ablate: all, the named classes, or the `top` most confident.

    Raises:
        FoolingError: a named class is not in the run, or is named twice.
    """
    rows = list(range(len(result.classes)))
    if classes is not None:
        by_index = {str(index): row for row, index in enumerate(result.classes)}
        by_label = {label: row for row, label in enumerate(result.labels)}
        rows = []
        for value in classes:
            row = by_index.get(str(value), by_label.get(str(value)))
            if row is None:
                raise FoolingError(f"class {value!r} is not among the run's classes")
            if row in rows:
                raise FoolingError(f"class {value!r} is named twice")
            rows.append(row)
    if top is not None:
        rows = sorted(rows, key=lambda row: -float(result.confidences[row]))[:top]
        rows.sort()
    return rows


def _score_elites(model: Classifier, result: SearchResult, rows: list[int]) -> torch.Tensor:
    """The chosen elites re-scored in fp32, checked against what the run saved.

    Raises:
        FoolingError: the classifier lacks a class of the run, or disagrees with the run.
    """
    indices = torch.tensor([result.classes[row] for row in rows], dtype=torch.long)
    if len(indices) and int(indices.max()) >= model.num_classes:
        raise FoolingError(
            f"{model.name} has {model.num_classes} classes; the run has class {int(indices.max())}"
        )
    images = result.images[rows].float().div(255)
    scores = _class_scores(model, images, indices)
    saved = result.confidences[rows].float()
    filled = saved >= 0
    gap = (scores - saved).abs().where(filled, torch.zeros(()))
    if len(gap) and float(gap.max()) > AGREEMENT:
        worst = int(gap.argmax())
        raise FoolingError(
            f"{model.name} gives the elite of class {result.labels[rows[worst]]!r} confidence "
            f"{float(scores[worst]):.4f}, and the run saved {float(saved[worst]):.4f}: the run "
            "fooled another model; name it with --classifier (and --weights)"
        )
    return scores


def _class_scores(model: Classifier, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """`float [N]`: each image's fp32 probability of its class."""
    if not len(images):
        return torch.zeros(0)
    scores = [
        model.exact_probabilities(chunk).cpu().gather(1, chunk_classes.view(-1, 1)).squeeze(1)
        for chunk, chunk_classes in zip(images.split(CHUNK), classes.split(CHUNK), strict=True)
    ]
    return torch.cat(scores)


@dataclass
class _Plan:
    """One class's ablated images, before they are scored.

    `images` holds, step by step, the motif's image then each control draw's, so
    row `s * (1 + draws) + d` is step `s + 1`, `d == 0` the motif, `d > 0` draw `d - 1`.
    `pieces` holds the same rows' pixels removed at that step (for the strips).
    """

    ablation: ClassAblation
    original: torch.Tensor
    images: torch.Tensor
    pieces: torch.Tensor


def _measure(
    model: Classifier, result: SearchResult, rows: list[int], elites: torch.Tensor, *,
    seed: int, controls: int, max_steps: int, directory: RunDirectory | None, progress: bool,
) -> tuple[list[ClassAblation], int]:  # fmt: skip
    """Find each chosen class's copies, and fill in its curves (and write its strip).

    Returns:
        The classes' ablations, and how many images were scored, the elites included.
    """
    ablations, pending, scored = [], [], len(rows)
    with tqdm(total=len(rows), desc="ablate", unit="class", disable=not progress) as bar:
        for number, (row, own) in enumerate(zip(rows, elites.tolist(), strict=True)):
            image, confidence = result.images[row], float(result.confidences[row])
            motif = find_motif(image) if confidence >= 0 else _no_elite(image)
            ablation = ClassAblation(result.classes[row], result.labels[row], confidence, motif)
            ablations.append(ablation)
            if motif.count:
                ablation.motif_curve, ablation.control_curve = [own], [own]
                pending.append(_plan(image, ablation, seed, controls, max_steps))
            else:
                bar.update(1)
            last = number == len(rows) - 1
            if pending and (sum(len(plan.images) for plan in pending) >= CHUNK or last):
                scored += _score(model, pending, controls, directory)
                bar.update(len(pending))
                pending = []
    return ablations, scored


def _no_elite(image: torch.Tensor) -> Motif:
    """The motif of an empty cell: none."""
    empty = torch.zeros((0, *image.shape[1:]), dtype=torch.bool)
    return Motif(torch.zeros(image.shape[0]), empty, "none", "the run has no elite here", 0)


def _plan(
    image: torch.Tensor, ablation: ClassAblation, seed: int, controls: int, max_steps: int
) -> _Plan:
    """The ablated images of one class: copies removed step by step, and the controls."""
    motif = ablation.motif
    count = motif.count
    steps = min(count, max_steps)
    removed = [round(step * count / steps) for step in range(steps + 1)]
    ablation.removed = removed
    fill = motif.background.mul(255).round().to(torch.uint8).view(-1, 1, 1)
    occupied = motif.copies.any(dim=0)
    draws = [
        _control_pieces(motif.copies, removed, occupied, _generator(seed, ablation.index, draw))
        for draw in range(controls)
    ]
    images, pieces = [], []
    motif_so_far = torch.zeros_like(occupied)
    control_so_far = [torch.zeros_like(occupied) for _ in range(controls)]
    for step in range(steps):
        piece = motif.copies[removed[step] : removed[step + 1]].any(dim=0)
        motif_so_far |= piece
        images.append(torch.where(motif_so_far, fill, image))
        pieces.append(piece)
        for draw in range(controls):
            control_so_far[draw] |= draws[draw][step]
            images.append(torch.where(control_so_far[draw], fill, image))
            pieces.append(draws[draw][step])
    return _Plan(ablation, image, torch.stack(images), torch.stack(pieces))


def _generator(seed: int, index: int, draw: int) -> torch.Generator:
    """The random source of one class's control draw, the same whichever classes are ablated."""
    state = np.random.SeedSequence([seed, index, draw]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _control_pieces(
    copies: torch.Tensor, removed: list[int], occupied: torch.Tensor, generator: torch.Generator
) -> list[torch.Tensor]:
    """Each step's control: its copies' shapes, each moved by a random circular shift.

    A shift is drawn at random among those where the moved shape overlaps least
    with the copies and the control's earlier pieces (found for all shifts at
    once by FFT cross-correlation), so the control avoids the motif where it can.
    """
    occupied = occupied.clone()
    size = occupied.shape
    pieces = []
    for step in range(len(removed) - 1):
        piece = torch.zeros_like(occupied)
        for copy in copies[removed[step] : removed[step + 1]]:
            shape = torch.fft.rfft2(copy.double())
            overlap = torch.fft.irfft2(shape.conj() * torch.fft.rfft2(occupied.double()), s=size)
            overlap = overlap.round()
            least = torch.nonzero(overlap == overlap.min())
            dy, dx = least[int(torch.randint(len(least), (), generator=generator))].tolist()
            moved = torch.roll(copy, shifts=(dy, dx), dims=(0, 1))
            piece |= moved
            occupied |= moved
        pieces.append(piece)
    return pieces


def _score(
    model: Classifier, plans: list[_Plan], controls: int, directory: RunDirectory | None
) -> int:
    """Score the plans' images and fill in their curves; returns how many were scored."""
    if not plans:
        return 0
    images = torch.cat([plan.images for plan in plans])
    classes = torch.cat([
        torch.full((len(plan.images),), plan.ablation.index, dtype=torch.long) for plan in plans
    ])  # fmt: skip
    scores = _class_scores(model, images.float().div(255), classes).tolist()
    start = 0
    for plan in plans:
        ablation, rows = plan.ablation, len(plan.images)
        per_step = torch.tensor(scores[start : start + rows]).view(-1, 1 + controls)
        changed = (plan.images != plan.original).any(dim=1).flatten(1).sum(dim=1)
        changed = changed.view(-1, 1 + controls).double()
        ablation.motif_curve += per_step[:, 0].tolist()
        draws = per_step[:, 1:].T.tolist()
        ablation.control_draws = [[ablation.motif_curve[0], *draw] for draw in draws]
        ablation.control_curve += per_step[:, 1:].mean(dim=1).tolist()
        ablation.changed_motif = [0, *changed[:, 0].long().tolist()]
        ablation.changed_control = [0.0, *changed[:, 1:].mean(dim=1).tolist()]
        if directory is not None:
            frames = plan.images.view(-1, 1 + controls, *plan.original.shape)
            pieces = plan.pieces.view(-1, 1 + controls, *plan.original.shape[1:])
            ablation.strip = write_strip(
                directory.path, ablation, plan.original, frames[:, :2], pieces[:, :2]
            )
        start += rows
    return len(images)
