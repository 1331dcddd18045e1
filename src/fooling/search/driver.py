"""Driving an Evolution to its last generation: in memory, or into a run directory.

In a run directory the drive appends to `progress.csv` as it goes, writes a
checkpoint every few generations and at the end, stops after the current
generation on Ctrl-C (keeping its checkpoint), and writes the finished run.
`resume` rebuilds the run from its checkpoint alone, as nanoGPT rebuilds a
model from its own checkpoint, so a resumed run is the run that was saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fooling.classifiers import Classifier, load_classifier
from fooling.detectors.against import against_from_settings
from fooling.distributed.cluster import check_room, connect
from fooling.encodings import Encoding, make_encoding
from fooling.errors import FoolingError
from fooling.interrupt import StopOnInterrupt
from fooling.limits import CHECKPOINT_INTERVAL, GENERATIONS, MIGRATION_INTERVAL, WORKERS
from fooling.records import ProgressRow
from fooling.runs.directory import Pages, RunDirectory
from fooling.runs.progress import ProgressLog
from fooling.runs.state import save_state
from fooling.search.checkpoints import CheckpointSchedule
from fooling.search.evolution import (
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    Evaluator,
    Evolution,
    read_checkpoint,
)
from fooling.search.islands import IslandRun, default_migrate_every, evolve_islands
from fooling.search.refine import Refinement
from fooling.search.result import SearchResult
from fooling.search.selection import Selection, uniform

DEFAULTS = {"encoding": "direct", "population": 200, "seed": 0}
"""A new run's settings when not given (`evolve`'s own defaults)."""


def evolve(
    classifier: Classifier | str,
    *,
    encoding: Encoding | str = "direct",
    generations: int = 200,
    population: int = 200,
    seed: int = 0,
    classes: Sequence[int | str] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    out: str | Path | None = None,
    force: bool = False,
    checkpoint_every: int | None = None,
    selection: Selection = uniform,
    evaluator: Evaluator | None = None,
    refinement: Refinement | None = None,
    admission: str | None = None,
    workers: int = 1,
    address: str | None = None,
    migrate_every: int | None = None,
    pages: Pages | None = None,
) -> SearchResult:
    """Evolve fooling images for every target class of a classifier (MAP-Elites).

    Args:
        classifier: a `Classifier`, or the name of a built-in one (e.g. `"lenet-mnist"`).
        encoding: `"direct"`, `"cppn"`, or an `Encoding` instance.
        generations: generations after the random start.
        population: images per generation.
        seed: the random seed; the same seed on the same device gives the same result.
        classes: target classes (indices or labels); all classes when None.
        device: where to run a classifier given by name (default: CUDA if present).
        progress: show a progress bar.
        out: a run directory to write, with checkpoints as it goes; Ctrl-C then stops
            after the current generation and keeps a checkpoint (see `resume`).
        force: replace a run already in `out`.
        checkpoint_every: generations between checkpoints in `out`; None: every 50, or
            fewer where writing them would take over 5% of the run's time
            (`fooling.search.checkpoints`).
        selection: picks parent cells; uniform over filled cells by default.
        evaluator: scores images instead of the classifier (see `Evolution`).
        refinement: gradient steps on CPPN elites' weights (see `Evolution`).
        admission: below fp32, `"fp32"` or `"report"` (see `Evolution`); None takes
            the precision's default.
        workers: islands on Ray (`fooling.search.islands`); 1 runs in this process.
        address: with `workers`, a Ray cluster to join (`"auto"`); None starts one
            on this machine, bound to 127.0.0.1.
        migrate_every: with `workers`, generations between merges of the islands
            (default: `fooling.search.islands.default_migrate_every`).
        pages: with `out`, writes the finished run's gallery and plots
            (`fooling.write_pages`, which `fooling.evolve` passes); None writes none.

    Returns:
        The per-class elites, their genomes, confidences and the run's history;
        `.save(dir)` writes a run directory. A run stopped early has fewer
        `generations` than asked for.

    Raises:
        FoolingError: an unknown name, a bad number or class, a bare `nn.Module`, or
            `out` holding a run without `force`.
    """
    if isinstance(classifier, nn.Module):
        raise FoolingError(
            "wrap the model first: fooling.Classifier(model, input_shape=(C, H, W), labels=[...])"
        )
    GENERATIONS.check(generations)
    if checkpoint_every is not None:
        CHECKPOINT_INTERVAL.check(checkpoint_every)
    if isinstance(classifier, str):
        classifier = load_classifier(classifier, device)
    if isinstance(encoding, str):
        encoding = make_encoding(encoding, classifier.input_shape, classifier.device)
    evolution = Evolution(
        classifier, encoding, population=population, seed=seed, classes=classes,
        selection=selection, evaluator=evaluator, refinement=refinement, admission=admission,
    )  # fmt: skip
    if workers > 1:
        if migrate_every is None:
            migrate_every = default_migrate_every(classifier.device, evolution.population,
                                                  classifier.input_shape)  # fmt: skip
        return _evolve_islands(evolution, generations, workers, address, migrate_every,
                               progress=progress, out=out, force=force,
                               checkpoint_every=checkpoint_every, pages=pages)  # fmt: skip
    if out is None:
        return evolution.run(generations, progress=progress)
    classifier.trial()  # a model that cannot work must not cost the run already in `out`
    with RunDirectory(out).claim(force=force) as directory:
        return run_in_directory(
            evolution, directory, generations, fresh=True, progress=progress,
            checkpoint_every=checkpoint_every, pages=pages,
        )  # fmt: skip


def resume(
    out: str | Path,
    *,
    generations: int,
    classifier: Classifier | str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    checkpoint_every: int | None = None,
    expect: dict[str, Any] | None = None,
    workers: int | None = None,
    address: str | None = None,
    pages: Pages | None = None,
    **classifier_options: Any,
) -> SearchResult:
    """Continue the run in `out` from its checkpoint to generation `generations`.

    Encoding, population, seed and classes come from the checkpoint; the result
    is the one an uninterrupted run would have given.

    Args:
        out: the run directory.
        generations: the last generation to run.
        classifier: the classifier the run fools, or a name for `load_classifier`;
            by default the one the checkpoint names.
        device: where to load a classifier given by name (default: where the run ran).
        progress: show a progress bar.
        checkpoint_every: as `evolve`'s.
        expect: settings the caller expects of the saved run, any of `encoding` (a
            name), `population`, `seed`, `classes` and `max_hidden` (CPPN); a difference
            is an error.
        workers: the islands a distributed run had (a check; None takes the checkpoint's).
        address: a Ray cluster to continue a distributed run on (None: a local one).
        pages: as `evolve`'s.
        classifier_options: passed on to `load_classifier` (`weights`, `mean`, ...).

    Returns:
        As `evolve`.

    Raises:
        FoolingError: no readable checkpoint, one made for another classifier, or
            one that differs from `expect`.
    """
    GENERATIONS.check(generations)
    if checkpoint_every is not None:
        CHECKPOINT_INTERVAL.check(checkpoint_every)
    with RunDirectory(out).resumable() as directory:
        evolution = _restore(directory, classifier, device, expect or {}, classifier_options)
        islands = _islands(read_checkpoint(directory.checkpoint), out)
        if islands is not None:  # a distributed run: the same islands continue
            if workers is not None and workers != islands["workers"]:
                raise FoolingError(f"the run in {out} has {islands['workers']} workers, "
                                   f"not {workers}: resume it with as many")  # fmt: skip
            return islands_in_directory(
                evolution, directory, generations, fresh=False,
                checkpoint_every=checkpoint_every, restore=islands,
                workers=islands["workers"], migrate_every=islands["migrate_every"],
                address=address, progress=progress, pages=pages,
            )  # fmt: skip
        if workers is not None and workers > 1:
            raise FoolingError(f"the run in {out} ran in one process: resume it without --workers")
        return run_in_directory(
            evolution, directory, generations, fresh=False, progress=progress,
            checkpoint_every=checkpoint_every, pages=pages,
        )  # fmt: skip


def _restore(
    directory: RunDirectory,
    classifier: Classifier | str | None,
    device: str | torch.device | None,
    expect: dict[str, Any],
    classifier_options: dict[str, Any],
) -> Evolution:
    """The Evolution a directory's checkpoint holds, checked against what the caller expects."""
    state = read_checkpoint(directory.checkpoint)
    if not isinstance(classifier, Classifier):
        settings = state.get("settings") or {}
        name = classifier if classifier is not None else settings.get("classifier")
        if not isinstance(name, str):
            raise FoolingError(f"the checkpoint in {directory.checkpoint} names no classifier")
        where = device or settings.get("device_type")
        model = settings.get("model") if isinstance(settings.get("model"), dict) else {}
        options = dict(classifier_options)
        for key in ("backend", "precision"):  # `auto` resumes with what the run used
            if options.get(key, "auto") == "auto" and isinstance(model.get(key), str):
                options[key] = model[key]
        classifier = load_classifier(name, where, **options)
    against = (state.get("settings") or {}).get("against")
    evaluator = None if against is None else against_from_settings(classifier, against)
    evolution = Evolution.from_state_dict(state, classifier, evaluator=evaluator)
    saved = {
        "encoding": evolution.encoding.name, "population": evolution.population,
        "seed": evolution.seed, "classes": evolution.archive.classes.tolist(),
        "max_hidden": getattr(evolution.encoding, "max_hidden", None),
    }  # fmt: skip
    for key, value in expect.items():
        if value is None:
            continue
        wanted = classifier.class_indices(value) if key == "classes" else value
        if saved[key] != wanted:
            raise FoolingError(
                f"the checkpoint in {directory.checkpoint} was made with {key} {saved[key]!r}, "
                f"not {wanted!r}; start a new run to change it"
            )
    return evolution


def _islands(checkpoint: dict[str, Any], out: str | Path) -> dict[str, Any] | None:
    """The islands' part of a distributed run's checkpoint, checked; None for one process.

    Raises:
        FoolingError: the part is malformed.
    """
    islands = checkpoint.get("islands")
    if islands is None:
        return None
    try:
        workers = WORKERS.check(int(islands["workers"]))
        migrate_every = MIGRATION_INTERVAL.check(int(islands["migrate_every"]))
        states = [islands["random_states"][str(index)] for index in range(workers)]
        evaluations = islands["evaluations"]
        refined_at = islands.get("refined_at", torch.full((workers,), -1))  # (none before)
        lost_nodes = int(islands.get("lost_nodes", torch.tensor(0)))  # (none before)
        if not all(isinstance(state, torch.Tensor) for state in states):
            raise ValueError("a random state is not a tensor")
        if evaluations.shape != (workers,) or refined_at.shape != (workers,):
            raise ValueError("not one evaluation count and refinement generation per island")
    except (KeyError, TypeError, ValueError, AttributeError, FoolingError) as error:
        raise FoolingError(f"the checkpoint in {out} has damaged island state: {error}") from None
    return {"workers": workers, "migrate_every": migrate_every,
            "random_states": islands["random_states"], "evaluations": evaluations,
            "refined_at": refined_at, "lost_nodes": lost_nodes}  # fmt: skip


def _evolve_islands(
    evolution: Evolution,
    generations: int,
    workers: int,
    address: str | None,
    migrate_every: int,
    *,
    progress: bool,
    out: str | Path | None,
    force: bool,
    checkpoint_every: int | None,
    pages: Pages | None,
) -> SearchResult:
    """`evolve` as islands on Ray, written to `out` with checkpoints."""
    WORKERS.check(workers)
    MIGRATION_INTERVAL.check(migrate_every)
    options = {"workers": workers, "migrate_every": migrate_every, "address": address,
               "progress": progress}  # fmt: skip
    if out is None:
        return evolve_islands(evolution, generations, **options)
    evolution.classifier.trial()
    ray = connect(address, cpus=None if address else workers)  # before `out` is touched
    check_room(ray, workers=workers, threads=1, gpu=evolution.classifier.device.type == "cuda")
    with RunDirectory(out).claim(force=force) as directory:
        return islands_in_directory(evolution, directory, generations, fresh=True,
                                    checkpoint_every=checkpoint_every, pages=pages,
                                    **options)  # fmt: skip


def islands_in_directory(
    evolution: Evolution,
    directory: RunDirectory,
    generations: int,
    *,
    fresh: bool,
    checkpoint_every: int | None,
    restore: dict[str, Any] | None = None,
    pages: Pages | None = None,
    **options: Any,
) -> SearchResult:
    """`evolve_islands` inside a claimed `directory`: a progress row per merge, checkpoints.

    A checkpoint is written at the first merge past a multiple of `checkpoint_every`
    generations (`CheckpointSchedule`) and at the end: the merged run and every island's
    random state. Ctrl-C stops the run at the next merge, checkpointed there (as
    `run_in_directory`).
    """
    with ProgressLog(directory.progress) as log, StopOnInterrupt() as interrupted:
        log.start(fresh=fresh)
        if not fresh:
            log.truncate_after(evolution.generation)
        schedule = CheckpointSchedule(checkpoint_every, saved=evolution.generation)

        def after_merge(run: IslandRun) -> None:
            log.append(run.evolution.history[-1])
            generation = run.evolution.generation
            if schedule.due(generation) or generation >= generations or interrupted():
                schedule.write(generation, lambda: save_state(
                    directory.checkpoint / CHECKPOINT_FILE, run.state_dict(),
                    kind=CHECKPOINT_FORMAT))  # fmt: skip

        result = evolve_islands(evolution, generations, after_merge=after_merge,
                                should_stop=interrupted, restore=restore, **options)  # fmt: skip
    if result.generations >= generations:
        result.write_to(directory, pages=pages)
    return result


def run_in_directory(
    evolution: Evolution,
    directory: RunDirectory,
    generations: int,
    *,
    fresh: bool,
    progress: bool = True,
    checkpoint_every: int | None = None,
    pages: Pages | None = None,
) -> SearchResult:
    """Run `evolution` to `generations` inside a claimed `directory` (Ctrl-C stops it early).

    Args:
        evolution: a new run (`fresh`) or one restored from the directory's checkpoint.
        directory: claimed for a fresh run; holding the checkpoint of a restored one.
        generations: the last generation to run.
        fresh: start `progress.csv` anew; else keep its rows up to the restored generation.
        progress: show a progress bar.
        checkpoint_every: generations between checkpoints; None: by default
            (`fooling.search.checkpoints`).
        pages: writes the finished run's gallery and plots; None writes none.

    Returns:
        The result; written into the directory when the run reached `generations`.
    """
    with ProgressLog(directory.progress) as log, StopOnInterrupt() as interrupted:
        log.start(fresh=fresh)
        if not fresh:
            log.truncate_after(evolution.generation)
        schedule = CheckpointSchedule(checkpoint_every, saved=-1 if fresh else evolution.generation)

        def record(row: ProgressRow) -> None:
            log.append(row)
            if schedule.due(row.generation):
                schedule.write(evolution.generation, lambda: evolution.save(directory.checkpoint))

        result = evolution.run(generations, progress=progress, on_generation=record,
                               should_stop=interrupted)  # fmt: skip
        if schedule.saved != evolution.generation:  # (not twice)
            evolution.save(directory.checkpoint)
    if evolution.generation >= generations:
        result.write_to(directory, pages=pages)
    return result
