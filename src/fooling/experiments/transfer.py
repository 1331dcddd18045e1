"""Transfer (the paper's experiment 5): do images evolved against one classifier fool another?

Every elite of each run is scored, in fp32, by each target classifier. A run's
classes are matched to a target's by label text: the class at the same index
when its label is the same, else the target's one class with that label. A
target that lacks one of the run's labels, or takes another number of colour
channels than the run's images have, is refused; other image sizes are resized
by the target's `Classifier`. Empty cells (confidence -1) are left out.

For each (run, target) three figures, over the run's elites:

- `same_top1`: the share the target puts in the same class as its top-1;
- `at_0.99`: the share whose target probability for that class is >= 0.99;
- `mean_confidence`: the mean target probability for that class;

beside the source classifier's own `at_0.99` and `mean_confidence` for the same
images (the confidences saved with the run, fp32). An elite "transfers" when the
target's top-1 is its class, the paper's "classified the same way".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from fooling.classifiers import Classifier, load_classifier
from fooling.distributed.pool import ordered_map
from fooling.errors import FoolingError
from fooling.limits import SHOW, WORKERS
from fooling.records import FOOLED_AT
from fooling.runs.directory import Pages, RunDirectory
from fooling.runs.images import image_filename
from fooling.search.result import SearchResult, load_run

CHUNK = 64
"""Images scored at once: on a 2-core CPU, 64 score 1000 images at Lite1 as fast as 256 do, at
a third of the peak memory (1.4 GiB against 3.9 GiB, measured)."""


@dataclass
class SourceRun:
    """A run whose elites are transferred: its filled cells (empty ones are left out).

    Attributes:
        path: its run directory.
        result: the run, read back with `load_run`.
        classes: the class index of each elite.
        labels: their labels.
        images: `uint8 [K, C, H, W]` the elites' images, as their PNGs hold them.
        confidences: `float [K]` the source classifier's own (fp32) probability for each.
    """

    path: Path
    result: SearchResult
    classes: list[int]
    labels: list[str]
    images: torch.Tensor
    confidences: torch.Tensor

    @classmethod
    def of(cls, path: Path, result: SearchResult) -> SourceRun:
        """The run's filled cells (confidence >= 0)."""
        kept = (result.confidences >= 0).tolist()
        return cls(
            path, result,
            classes=[index for index, keep in zip(result.classes, kept, strict=True) if keep],
            labels=[label for label, keep in zip(result.labels, kept, strict=True) if keep],
            images=result.images if all(kept) else result.images[torch.tensor(kept)],
            confidences=result.confidences[torch.tensor(kept)].float(),
        )  # fmt: skip

    @property
    def name(self) -> str:
        """The run directory's name."""
        return self.path.resolve().name

    def describe(self) -> dict[str, Any]:
        """What summary.json says of the run."""
        result = self.result
        return {
            "path": str(self.path), "classifier": result.classifier, "method": result.method,
            "encoding": result.encoding, "seed": result.seed, "generations": result.generations,
            "classes": len(result.classes), "elites": len(self.classes),
        }  # fmt: skip


@dataclass
class TransferPair:
    """One run's elites as one target classifier scores them (empty cells left out).

    Attributes:
        run: the run directory.
        target: the target classifier's name.
        classes: the run's class index of each elite.
        labels: their labels.
        target_classes: `long [K]` the target's index of the same label.
        source_confidences: `float [K]` the run's own (fp32) probability for each elite's class.
        target_confidences: `float [K]` the target's fp32 probability for that class.
        target_top1: `long [K]` the target's top-1 class of each elite.
        target_labels: the target's labels (to name a top-1 class).
    """

    run: Path
    target: str
    classes: list[int]
    labels: list[str]
    target_classes: torch.Tensor
    source_confidences: torch.Tensor
    target_confidences: torch.Tensor
    target_top1: torch.Tensor
    target_labels: list[str]

    @property
    def transferred(self) -> torch.Tensor:
        """`bool [K]`: the target's top-1 is the elite's class (it is classified the same way)."""
        return self.target_top1 == self.target_classes

    @property
    def fooled(self) -> torch.Tensor:
        """`bool [K]`: the target's probability for the elite's class is >= 0.99."""
        return self.target_confidences >= FOOLED_AT

    def figures(self) -> dict[str, float | int]:
        """The pair's figures: `elites`, `same_top1`, `at_0.99`, `mean_confidence` (the
        target's) and `source_at_0.99`, `source_mean_confidence` (the run's own)."""
        return {
            "elites": len(self.classes),
            "same_top1": self.transferred.double().mean().item(),
            "at_0.99": self.fooled.double().mean().item(),
            "mean_confidence": self.target_confidences.double().mean().item(),
            "source_at_0.99": (self.source_confidences >= FOOLED_AT).double().mean().item(),
            "source_mean_confidence": self.source_confidences.double().mean().item(),
        }

    def table_row(self) -> dict[str, Any]:
        """The pair's row of summary.json's table: run, target, figures and every elite."""
        return {"run": str(self.run), "target": self.target, **self.figures(),
                "classes": self.elite_rows()}  # fmt: skip

    def elite_rows(self) -> list[dict[str, Any]]:
        """Per elite: class, label, both confidences, the target's top-1 and the flags."""
        rows = []
        for position, (index, label) in enumerate(zip(self.classes, self.labels, strict=True)):
            top1 = int(self.target_top1[position])
            rows.append({
                "index": index, "label": label,
                "target_index": int(self.target_classes[position]),
                "source_confidence": float(self.source_confidences[position]),
                "target_confidence": float(self.target_confidences[position]),
                "target_top1": {"index": top1, "label": self.target_labels[top1]},
                "same_top1": bool(self.transferred[position]),
                "at_0.99": bool(self.fooled[position]),
                "image": str(self.run / image_filename(index, label)),
            })  # fmt: skip
        return rows


@dataclass
class TransferResult:
    """Every run's elites scored by every target.

    Attributes:
        runs: the runs, in the order given.
        targets: the targets' names, in the order given.
        pairs: one `TransferPair` per (run, target), run by run.
        seconds: wall-clock seconds spent scoring.
        show: the most elites per (run, target) its gallery shows; all when None.
    """

    runs: list[SourceRun]
    targets: list[str]
    pairs: list[TransferPair]
    seconds: float
    show: int | None = 100

    def pair(self, run: int, target: int) -> TransferPair:
        """The pair of the `run`-th run and the `target`-th target."""
        return self.pairs[run * len(self.targets) + target]

    def summary(self) -> dict[str, Any]:
        """The `summary.json` content: the runs, the targets and one table row per pair."""
        return {
            "method": "transfer",
            "runs": [run.describe() for run in self.runs],
            "targets": self.targets,
            "seconds": round(self.seconds, 3),
            "table": [pair.table_row() for pair in self.pairs],
        }

    def headline(self) -> str:
        """One line of figures per pair, e.g. `cppn -> lenet-mnist-b: same top-1 90.0%, ...`."""
        parts = []
        for pair in self.pairs:
            figures = pair.figures()
            parts.append(
                f"{pair.run.resolve().name} -> {pair.target}: same top-1 "
                f"{figures['same_top1']:.1%}, >= {FOOLED_AT} {figures['at_0.99']:.1%} "
                f"(source {figures['source_at_0.99']:.1%}), mean confidence "
                f"{figures['mean_confidence']:.4f} (source {figures['source_mean_confidence']:.4f})"
            )
        return "; ".join(parts)


def transfer(
    runs: str | Path | Sequence[str | Path],
    targets: str | Path | Classifier | Sequence[str | Path | Classifier],
    *,
    out: str | Path | None = None,
    force: bool = False,
    device: str | torch.device | None = None,
    backend: str = "auto",
    show: int | None = 100,
    progress: bool = True,
    pages: Pages | None = None,
    workers: int = 1,
    address: str | None = None,
) -> TransferResult:
    """Score every elite of each run with each target classifier (the paper's generality test).

    Everything is read and checked, and every image scored, before `out` is claimed, so
    bad input costs nothing already written there.

    Args:
        runs: run directories of `evolve` or `ascend` (one, or several).
        targets: built-in names (e.g. `"lenet-mnist-b"`), model files, or `Classifier`s.
        out: a run directory to write `summary.json`, `plots/transfer.png` and
            `gallery.html` into; nothing is written when None.
        force: replace a run already in `out`.
        device: where targets given by name run (default: CUDA if present).
        backend: what runs targets given by name on a CPU (see `load_classifier`).
        show: the most elites per (run, target) the gallery shows, those the source
            was most confident in; all when None.
        progress: show a progress bar.
        pages: writes the gallery and plots into `out` (`fooling.write_pages`); None
            writes none.
        workers: targets scored at once, each on a Ray worker of its own
            (`fooling.distributed.pool`); 1 scores them here.
        address: with `workers`, a Ray cluster to join (`"auto"`).

    Returns:
        The figures of every (run, target) and each elite's scores.

    Raises:
        FoolingError: a run directory holds no finished search, a target is unknown or
            cannot fit a run (a label it lacks, another channel count), `show` is out of
            range, `out` is one of the runs, `out` holds a run and `force` is False, or
            Ray is missing or unreachable with `workers` > 1.
    """
    runs = [runs] if isinstance(runs, str | Path) else list(runs)
    targets = [targets] if isinstance(targets, str | Path | Classifier) else list(targets)
    if not runs or not targets:
        raise FoolingError("transfer needs at least one run and one target")
    if show is not None:
        SHOW.check(show)
    WORKERS.check(workers)
    if out is not None and any(_same_folder(out, run) for run in runs):
        raise FoolingError(f"--out {out} is one of the runs to transfer: choose another --out")
    sources = [read_source_run(run) for run in runs]
    classifiers = [
        target if isinstance(target, Classifier)
        else load_classifier(str(target), device, precision="fp32", backend=backend)
        for target in targets
    ]  # fmt: skip
    matches = [[match_classes(source, target) for target in classifiers] for source in sources]
    started = time.perf_counter()
    total = sum(len(source.classes) for source in sources) * len(classifiers)
    with tqdm(total=total, desc="transfer", unit="img", disable=not progress) as bar:
        if workers > 1:
            pairs = _score_on_workers(sources, classifiers, matches, bar, workers, address)
        else:
            pairs = [
                score_pair(source, target, target_classes, bar)
                for source, matched in zip(sources, matches, strict=True)
                for target, target_classes in zip(classifiers, matched, strict=True)
            ]  # fmt: skip
    result = TransferResult(sources, [target.name for target in classifiers], pairs,
                            time.perf_counter() - started, show)  # fmt: skip
    if out is not None:
        with RunDirectory(out).claim(force=force) as directory:
            if pages is not None:
                pages(result, directory.path)
            directory.write_summary(result.summary())
    return result


def read_source_run(path: str | Path) -> SourceRun:
    """A finished search read back from its run directory, with its filled cells.

    Raises:
        FoolingError: the path is no folder, or the folder holds no finished run, a run
            without elites (another command's), or no filled cell.
    """
    directory = RunDirectory(path)
    if not directory.path.is_dir():
        what = "is a file" if directory.path.exists() else "does not exist"
        raise FoolingError(f"{directory.path} {what}: give the run directory of an evolve or "
                           "ascend run")  # fmt: skip
    summary = directory.read_summary()
    if "classes" not in summary:
        kind = summary.get("method", "another command's")
        raise FoolingError(
            f"{directory.path} holds a {kind} run, which has no elites to transfer: "
            "give the run directory of an evolve or ascend run"
        )
    source = SourceRun.of(directory.path, load_run(directory.path))
    if not source.classes:
        raise FoolingError(f"the run in {directory.path} holds no elites (every cell is empty)")
    return source


def match_classes(source: SourceRun, target: Classifier) -> torch.Tensor:
    """The target's class index of each kept elite's label.

    The class at the same index when its label is the same, else the target's only
    class with that label.

    Returns:
        `long [K]`, one per kept elite.

    Raises:
        FoolingError: the target has no single class with one of the run's labels, or its
            input has another number of channels than the run's images.
    """
    where = f"the run in {source.path} (from {source.result.classifier})"
    indices, missing = [], []
    for index, label in zip(source.classes, source.labels, strict=True):
        if index < target.num_classes and target.labels[index] == label:
            indices.append(index)
        elif target.labels.count(label) == 1:
            indices.append(target.labels.index(label))
        else:
            missing.append(label)
    if missing:
        count = len(source.labels)
        more = f" and {len(missing) - 1} more of its {count}" if len(missing) > 1 else ""
        raise FoolingError(
            f"{target.name} cannot score {where}: it has no single class labelled "
            f"{missing[0]!r}{more} (classes are matched by label)"
        )
    channels, wanted = source.images.shape[1], target.input_shape[0]
    if channels != wanted:
        raise FoolingError(
            f"{target.name} takes {wanted}-channel images and {where} holds {channels}-channel "
            "ones: they cannot transfer"
        )
    return torch.tensor(indices, dtype=torch.long)


def score_pair(
    source: SourceRun, target: Classifier, target_classes: torch.Tensor, bar: tqdm | None = None
) -> TransferPair:
    """Score one run's kept elites with one target, in fp32, a chunk at a time.

    Raises:
        FoolingError: the target fails, or returns bad scores.
    """
    mine, top1 = [], []
    chunks = zip(source.images.split(CHUNK), target_classes.split(CHUNK), strict=True)
    for chunk, chunk_classes in chunks:
        probabilities = target.exact_probabilities(chunk.float().div(255)).cpu()
        mine.append(probabilities.gather(1, chunk_classes.view(-1, 1)).squeeze(1))
        top1.append(probabilities.argmax(dim=1))
        if bar is not None:
            bar.update(len(chunk))
    return TransferPair(
        run=source.path, target=target.name, classes=source.classes, labels=source.labels,
        target_classes=target_classes, source_confidences=source.confidences,
        target_confidences=torch.cat(mine), target_top1=torch.cat(top1),
        target_labels=target.labels,
    )  # fmt: skip


def score_target(
    sources: list[SourceRun], target: tuple[Classifier, list[torch.Tensor]]
) -> list[TransferPair]:
    """Every run scored by one target: `target` is the classifier and each run's
    matched classes (a worker's unit of work)."""
    classifier, matched = target
    return [
        score_pair(source, classifier, classes)
        for source, classes in zip(sources, matched, strict=True)
    ]  # fmt: skip


def _score_on_workers(
    sources: list[SourceRun],
    classifiers: list[Classifier],
    matches: list[list[torch.Tensor]],
    bar: tqdm,
    workers: int,
    address: str | None,
) -> list[TransferPair]:
    """`score_target` for each target on Ray workers; the pairs in (run, target) order."""
    targets = [
        (classifier, [matched[index] for matched in matches])
        for index, classifier in enumerate(classifiers)
    ]  # fmt: skip
    gpu = any(classifier.device.type == "cuda" for classifier in classifiers)
    by_target = []
    scored = ordered_map(score_target, sources, targets, workers=min(workers, len(targets)),
                         address=address, gpu=gpu)  # fmt: skip
    with closing(scored):
        for pairs in scored:
            by_target.append(pairs)
            bar.update(sum(len(pair.classes) for pair in pairs))
    return [by_target[target][run] for run in range(len(sources))
            for target in range(len(classifiers))]  # fmt: skip


def _same_folder(first: str | Path, second: str | Path) -> bool:
    """Whether two paths name the same folder (after resolving links and `..`)."""
    return Path(first).resolve() == Path(second).resolve()
