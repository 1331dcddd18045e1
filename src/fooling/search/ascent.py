"""Gradient ascent on the input pixels: one image per target class, all in one batch.

Each image climbs the log-odds of its class (Adam, cosine learning-rate
schedule), optionally with the regularisers of Yosinski et al. (2015): L2
decay towards the dataset's mean colour and a Gaussian blur every few steps.
Images stay in [0, 1] and are scored as the 8-bit PNGs they will be saved as
(rounded on the way forward, gradients passed straight through). A class stops
once its image reaches the threshold in fp32: a search in bf16 has each figure
that reaches it confirmed in fp32 first, since the reports score in fp32 and
bf16 puts some images at 0.9999 that fp32 puts just under it. Results go into
the same Archive as evolution's, so reports treat both methods alike.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from fooling.archive import Archive
from fooling.classifiers import Classifier, load_classifier
from fooling.errors import FoolingError
from fooling.limits import (
    BLUR_EVERY,
    BLUR_SIGMA,
    L2,
    LEARNING_RATE,
    SEED,
    STEPS,
    THRESHOLD,
)
from fooling.records import ProgressRow, Statistics, quantize, to_bytes
from fooling.runs.directory import Pages, RunDirectory
from fooling.search.priors import (
    DEFAULT_PARAMETERISATION,
    LEARNING_RATES,
    Parameterisation,
    Transforms,
    check_parameterisation,
)
from fooling.search.result import SearchResult

STARTS = ("noise", "zeros", "mean")


def ascend(
    classifier: Classifier | str,
    *,
    steps: int = 200,
    classes: Sequence[int | str] | None = None,
    seed: int = 0,
    start: str = "noise",
    learning_rate: float | None = None,
    l2: float = 0.0,
    blur_every: int = 0,
    blur_sigma: float = 0.5,
    threshold: float = 0.9999,
    progress: bool = True,
    out: str | Path | None = None,
    force: bool = False,
    param: str = DEFAULT_PARAMETERISATION,
    transforms: Transforms | None = None,
    pages: Pages | None = None,
) -> SearchResult:
    """Fooling images by gradient ascent, one per target class.

    Args:
        classifier: a differentiable classifier (not an ONNX black box), or a
            built-in one's name.
        steps: the most optimisation steps.
        classes: target classes (indices or labels); all classes when None.
        seed: seeds the noise start.
        start: `"noise"` (uniform), `"zeros"`, or `"mean"` (the dataset's mean colour).
        learning_rate: Adam's initial step; it decays to a tenth on a cosine (None:
            `priors.LEARNING_RATES` of `param`).
        l2: per step, pull each pixel this fraction of the way back to the mean colour.
        blur_every: blur the images every this many steps (0: never).
        blur_sigma: the blur's standard deviation in pixels.
        threshold: a class stops once its image reaches this probability in fp32.
        progress: show a progress bar on stderr.
        out: a run directory to write the result into (claimed before ascending).
        force: replace a run already in `out`.
        param: what is optimised (`fooling.search.priors`): `"pixel"` (the paper's
            ascent), `"fft"` (a Fourier spectrum scaled by 1/frequency, colours
            decorrelated: the default, whose images transfer best) or `"cppn"` (the
            weights of a fixed random CPPN per image).
        transforms: random jitter, scale and rotation applied before each step's
            gradient (the images saved and scored are untransformed); None:
            `Transforms.default` for `param` (none for pixels).
        pages: with `out`, writes the gallery and plots (`fooling.write_pages`, which
            `fooling.ascend` passes); None writes none.

    Returns:
        The per-class images and their confidences (`method` "ascend"; a
        "generation" is a step and the "population" the number of images).

    Raises:
        FoolingError: a black-box classifier, a bad number, start or class, or `out`
            holding a run without `force`.
    """
    if isinstance(classifier, str):
        classifier = load_classifier(classifier)
    if not classifier.differentiable:
        raise FoolingError(
            f"gradient ascent needs gradients, and {classifier.name} is a black box (ONNX); "
            "use fooling evolve"
        )
    check_parameterisation(param)
    if learning_rate is None:
        learning_rate = LEARNING_RATES[param]
    for limit, value in ((STEPS, steps), (SEED, seed), (LEARNING_RATE, learning_rate), (L2, l2),
                         (BLUR_EVERY, blur_every), (BLUR_SIGMA, blur_sigma),
                         (THRESHOLD, threshold)):  # fmt: skip
        limit.check(value)
    if start not in STARTS:
        raise FoolingError(f"unknown start {start!r}; choose one of: {', '.join(STARTS)}")
    if param != "pixel" and (l2 or blur_every or start != "noise"):
        raise FoolingError("l2, blur and start act on pixels: they are for --param pixel")
    if param == "cppn" and classifier.input_shape[0] not in (1, 3):
        raise FoolingError(f"a CPPN draws 1 or 3 channels, not {classifier.input_shape[0]}")
    side = min(classifier.input_shape[1:])
    if blur_every and blur_radius(blur_sigma) >= side:
        raise FoolingError(
            f"blur_sigma {blur_sigma:g} blurs wider than the {side}-pixel image; "
            f"the most it can be is {(side - 1) / 3:g}"
        )
    if transforms is None:
        transforms = Transforms.default(param, side)
    classes = classifier.class_indices(classes)
    if out is not None:
        classifier.trial()  # a model that cannot work must not cost the run already in `out`
    claimed = contextlib.nullcontext() if out is None else RunDirectory(out).claim(force=force)
    with claimed as directory:
        result = _climb(classifier, classes, steps, seed, start, learning_rate, l2, blur_every,
                        blur_sigma, threshold, progress, param, transforms)  # fmt: skip
        if directory is not None:
            result.write_to(directory, pages=pages)
    return result


def _climb(
    classifier: Classifier,
    classes: list[int],
    steps: int,
    seed: int,
    start: str,
    learning_rate: float,
    l2: float,
    blur_every: int,
    blur_sigma: float,
    threshold: float,
    progress: bool,
    param: str,
    transforms: Transforms,
) -> SearchResult:
    """The ascent itself, its arguments checked (see `ascend`)."""
    device = classifier.device
    targets = torch.tensor(classes, device=device)
    mean = _mean_colour(classifier)
    generator = torch.Generator(device=device).manual_seed(seed)
    shape = (len(classes), *classifier.input_shape)
    if start == "noise":
        begin = torch.rand(shape, generator=generator, device=device)
    else:
        begin = (torch.zeros(shape, device=device) + (mean if start == "mean" else 0)).clamp(0, 1)
    parameterisation = Parameterisation(param, shape, generator, begin)
    (values,) = parameterisation.parameters()
    optimiser = torch.optim.Adam([values], lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=steps, eta_min=learning_rate / 10
    )
    archive = Archive(classes, device)
    history: list[ProgressRow] = []
    done = torch.zeros(len(classes), dtype=torch.bool, device=device)
    held = done.view(-1, *[1] * (values.dim() - 1))  # a finished image's parameters stay
    forwards = 0
    started = time.perf_counter()
    for step in tqdm(
        range(steps + 1), desc="ascend", unit="step", disable=not progress, leave=False
    ):
        images = parameterisation.images()
        rounded = images + (quantize(images.detach()) - images).detach()  # straight through
        if transforms.any:  # the gradient from transformed copies; the score from the image
            with torch.no_grad():
                probabilities = classifier.log_probabilities(rounded).exp()
            log_probabilities = classifier.log_probabilities(transforms(rounded, generator))
            forwards += 2 * len(classes)
        else:
            log_probabilities = classifier.log_probabilities(rounded)
            probabilities = log_probabilities.detach().exp()
            forwards += len(classes)
        with torch.no_grad():
            scored = rounded.detach()
            archive.add({"pixels": scored}, scored, probabilities, step)
            reached = probabilities.gather(1, targets[:, None]).squeeze(1) >= threshold
            if not classifier.exact:
                candidates = reached & ~done
                forwards += int(candidates.sum())  # each scored again, in fp32
                reached = _confirmed_in_fp32(
                    classifier, archive, scored, probabilities, candidates, threshold, step
                )
            done |= reached
        elapsed = time.perf_counter() - started
        history.append(ProgressRow.at(step, forwards, elapsed, Statistics.of(archive.confidence)))
        if bool(done.all()) or step == steps:
            break
        objective = log_odds(log_probabilities, targets).sum()
        (gradient,) = torch.autograd.grad(objective, values)
        optimiser.zero_grad(set_to_none=True)
        values.grad = -gradient.masked_fill(held, 0)  # Adam minimises
        frozen = values.detach().clone()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            if l2:
                values.sub_(l2 * (values - mean))
            if blur_every and (step + 1) % blur_every == 0:
                values.copy_(gaussian_blur(values, blur_sigma))
            parameterisation.after_step()
            values.copy_(torch.where(held, frozen, values))
    assert archive.images is not None and archive.genomes is not None
    result = SearchResult(
        classifier=classifier.name, method="ascend", encoding=None, seed=seed,
        generations=history[-1].generation, population=len(classes),
        evaluations=history[-1].evaluations, seconds=time.perf_counter() - started,
        classes=classes, labels=[classifier.labels[index] for index in classes],
        confidences=classifier.exact_confidences(
            archive.images, archive.classes, archive.confidence
        ).cpu(),
        images=archive.images.cpu(),
        found_at=archive.found_at.cpu(), history=history,
        genomes={key: value.cpu() for key, value in archive.genomes.items()},
        weights=classifier.identity()["weights"],
        ascent={"param": param, "learning_rate": learning_rate, "jitter": transforms.jitter,
                "scale": list(transforms.scale), "rotate": transforms.rotate,
                "start": start, "l2": l2, "blur_every": blur_every, "blur_sigma": blur_sigma,
                "stopped_in": "fp32"},
    )  # fmt: skip
    return result


def _confirmed_in_fp32(
    classifier: Classifier,
    archive: Archive,
    images: torch.Tensor,
    probabilities: torch.Tensor,
    candidates: torch.Tensor,
    threshold: float,
    step: int,
) -> torch.Tensor:
    """Of the `candidates` (the rows the search's precision puts at `threshold`), those
    fp32 puts there too, as `bool [N]`. Each one's image becomes its class's elite: the
    archive ranks in the search's precision, where an earlier image may score higher yet
    fall short in fp32. Row `i` is cell `i` (ascent's archive has its classes in order)."""
    rows = candidates.nonzero().squeeze(1)
    confirmed = torch.zeros_like(candidates)
    if len(rows) == 0:
        return confirmed
    classes = archive.classes[rows]
    exact = classifier.exact_probabilities(images[rows]).gather(1, classes[:, None]).squeeze(1)
    rows, classes = rows[exact >= threshold], classes[exact >= threshold]
    confirmed[rows] = True
    archive.put({
        "cells": rows,
        "confidence": probabilities[rows, classes],
        "found_at": torch.full_like(rows, step),
        "images": to_bytes(images[rows]),
        "genomes": {"pixels": images[rows]},
    })  # fmt: skip
    return confirmed


def log_odds(log_probabilities: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log(p / (1 - p)) of each row's target class: unlike log p, its gradient does not
    vanish as p nears 1, so the last nines come as fast as the first."""
    target = log_probabilities.gather(1, targets[:, None]).squeeze(1)
    others = log_probabilities.scatter(1, targets[:, None], float("-inf"))
    return target - others.logsumexp(dim=1)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur `[N, C, H, W]` images with a Gaussian of `sigma` pixels (reflecting at the edges)."""
    radius = blur_radius(sigma)
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def blur_radius(sigma: float) -> int:
    """The half-width in pixels of the blur kernel for `sigma` (three standard deviations)."""
    return max(1, math.ceil(3 * sigma))


def _mean_colour(classifier: Classifier) -> torch.Tensor:
    """The dataset's mean colour `[1, C, 1, 1]` where the classifier knows it, else mid-gray."""
    channels = classifier.input_shape[0]
    values = classifier.dataset_mean or (0.5,) * channels
    return torch.tensor(values, device=classifier.device).view(1, channels, 1, 1)
