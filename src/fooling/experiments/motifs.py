"""Find the repeated copies of an image's motif, with no one pointing at them.

CPPN fooling images often repeat one element many times (the paper's
experiment 6). This module finds those copies in an 8-bit gray or colour
image, in three steps:

1. **Background.** The most common colour: pixels are binned coarsely (8 levels
   per channel for colour, 16 for gray) and the background is the mean colour of
   the fullest bin. A pixel is *foreground* when some channel differs from it by
   more than `TOLERANCE`.
2. **Alike components.** The foreground splits into 4-connected components;
   those of at least `min_area` pixels are compared pairwise. Two are alike when
   their areas are within a factor of 2, their bounding boxes' aspect ratios
   within 1.5, and the normalised cross-correlation of their crops (each scaled
   to 16 x 16, the rest of the box filled with background) is at least
   `SIMILARITY`, also counting left-right and up-down mirror images. The copies
   are the component with the largest total area of alike partners, and those
   partners.
3. **A lattice**, when step 2 finds no copies or copies that cover less than
   `COVERAGE` of the foreground (copies that touch each other or run into the
   border make one big component). The image's autocorrelation (via the FFT,
   normalised by the overlap at each shift) has a peak at the pattern's period:
   a local maximum of at least `PERIOD_PEAK`, separated from the zero shift by a
   dip of `PERIOD_DIP`. One period cuts the image into bands across it, a second
   one (not parallel) into parallelogram tiles; the boundaries are placed where
   the foreground is thinnest. Each band or tile's foreground is a copy, if it
   holds at least half the foreground of the fullest one.

Where it fails: copies that differ in area by more than a factor of 2, or in
rotation (other than mirror images and a half turn), are not alike, so
concentric rings far apart in size or a spiral are not copies; copies on
a background that is not one plain colour (a gradient, texture) merge with it or
break up; a pattern whose period drifts across the image has no clear peak; and
an image with no plain background at all has an arbitrary foreground (the
fullest colour bin is then just one band of a smooth pattern). Each image that
yields no copies says why (`Motif.reason`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fooling.experiments.components import label_components

TOLERANCE = 0.2
"""A pixel is foreground when a channel differs from the background by more (on [0, 1])."""
MIN_AREA_SHARE = 0.002
"""The smallest copy, as a share of the image (and at least `MIN_AREA` pixels)."""
MIN_AREA = 4
SIMILARITY = 0.6
"""The least normalised cross-correlation of two alike components' crops."""
AREA_RATIO = 0.5
ASPECT_RATIO = 1.5
DESCRIPTOR_SIDE = 16
MAX_COMPONENTS = 256
"""Only the largest this many components are compared (noise can make thousands)."""
COVERAGE = 0.25
"""The least share of the foreground that copies must cover (else: no motif)."""
PERIOD_PEAK = 0.5
PERIOD_DIP = 0.3
MIN_PERIOD = 4
"""The shortest period, in pixels, that counts as repetition."""
FULL_TILE = 0.5
"""A band or tile is a copy if its foreground is at least this share of the fullest one's."""


@dataclass
class Motif:
    """The repeated copies found in one image.

    Attributes:
        background: `float [C]` the background colour on `[0, 1]`.
        copies: `bool [M, H, W]` each copy's pixels, largest first (M is 0 when none).
        method: `"components"`, `"lattice"` or `"none"`.
        reason: how the copies were found, or why none were, in words.
        foreground: pixels that differ from the background.
    """

    background: torch.Tensor
    copies: torch.Tensor
    method: str
    reason: str
    foreground: int

    @property
    def count(self) -> int:
        """How many copies were found."""
        return len(self.copies)

    @property
    def coverage(self) -> float:
        """The share of the foreground that the copies cover."""
        if not self.count or not self.foreground:
            return 0.0
        return float(self.copies.any(dim=0).sum()) / self.foreground


def find_motif(image: torch.Tensor) -> Motif:
    """Find the repeated copies of the motif in one image.

    Args:
        image: `uint8 [C, H, W]`, one or three channels.

    Returns:
        The background, the copies (possibly none) and how they were found.

    Raises:
        ValueError: the image is not `uint8 [C, H, W]`.
    """
    if image.dim() != 3 or image.dtype != torch.uint8:
        raise ValueError(f"expected uint8 [C, H, W], got {image.dtype} {tuple(image.shape)}")
    with _one_thread():
        return _find_motif(image.cpu())


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread: these operations are small, and on a busy machine more
    threads make them 10-30 times slower (measured: 13 ms against 340 ms an image)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _find_motif(image: torch.Tensor) -> Motif:
    """`find_motif` on a checked image."""
    pixels = image.float().div(255)
    background = background_colour(image)
    distance = (pixels - background.view(-1, 1, 1)).abs().amax(dim=0)
    foreground = distance > max(TOLERANCE, otsu_threshold(distance))
    area = int(foreground.sum())
    height, width = foreground.shape
    min_area = max(MIN_AREA, math.ceil(MIN_AREA_SHARE * height * width))
    empty = torch.zeros((0, height, width), dtype=torch.bool)
    if area < 2 * min_area:
        reason = "no motif: the image is one plain colour"
        return Motif(background, empty, "none", reason, area)
    alike = _alike_components(pixels, foreground, background, min_area)
    coverage = float(alike.any(dim=0).sum()) / area if len(alike) else 0.0
    if len(alike) and coverage >= COVERAGE:
        reason = f"{len(alike)} alike components, {coverage:.0%} of the foreground"
        return Motif(background, _largest_first(alike), "components", reason, area)
    lattice, found = _lattice_copies(pixels, foreground, min_area)
    lattice_coverage = float(lattice.any(dim=0).sum()) / area if len(lattice) else 0.0
    if len(lattice) and lattice_coverage >= COVERAGE:
        reason = f"{found}, {lattice_coverage:.0%} of the foreground"
        return Motif(background, _largest_first(lattice), "lattice", reason, area)
    needed = f"{COVERAGE:.0%} needed"
    if len(lattice):
        found += f", covering only {lattice_coverage:.0%} of the foreground ({needed})"
    alike_found = "no alike components"
    if len(alike):
        alike_found = f"alike components cover only {coverage:.0%} of the foreground ({needed})"
    return Motif(background, empty, "none", f"no motif: {alike_found}; {found}", area)


def background_colour(image: torch.Tensor) -> torch.Tensor:
    """The mean colour of the fullest coarse colour bin of a `uint8 [C, H, W]` image.

    Returns:
        `float [C]` on `[0, 1]`.
    """
    channels = image.shape[0]
    shift = 5 if channels > 1 else 4  # 8 levels per colour channel, 16 for gray
    levels = 256 >> shift
    coarse = (image.long() >> shift).view(channels, -1)
    bins = torch.zeros(coarse.shape[1], dtype=torch.long)
    for channel in range(channels):
        bins = bins * levels + coarse[channel]
    fullest = torch.bincount(bins).argmax()
    return image.view(channels, -1)[:, bins == fullest].float().mean(dim=1).div(255)


def otsu_threshold(values: torch.Tensor, bins: int = 256) -> float:
    """The threshold that best splits values on `[0, 1]` into two classes (Otsu's method).

    It maximises the between-class variance of the two sides' histograms.
    """
    counts = torch.histc(values.float().flatten(), bins=bins, min=0, max=1).double()
    centres = (torch.arange(bins, dtype=torch.float64) + 0.5) / bins
    below = counts.cumsum(0)
    above = counts.sum() - below
    mass_below = (counts * centres).cumsum(0)
    mean_below = mass_below / below.clamp(min=1)
    mean_above = (mass_below[-1] - mass_below) / above.clamp(min=1)
    between = below * above * (mean_below - mean_above).square()
    return (int(between.argmax()) + 1) / bins


def _alike_components(
    pixels: torch.Tensor, foreground: torch.Tensor, background: torch.Tensor, min_area: int
) -> torch.Tensor:
    """`bool [M, H, W]`: the largest group of alike components (M is 0 when there is none)."""
    labels, count = label_components(foreground)
    none = torch.zeros((0, *foreground.shape), dtype=torch.bool)
    areas = torch.bincount(labels.view(-1), minlength=count + 1)[1:]
    order = areas.argsort(descending=True)[:MAX_COMPONENTS]
    kept = order[areas[order] >= min_area] + 1  # their labels
    if len(kept) < 2:
        return none
    sizes = areas[kept - 1].float()
    boxes = _bounding_boxes(labels, count)[kept]
    descriptors = _descriptors(pixels, labels, kept, boxes, background)
    similarity = torch.stack([
        descriptors[:, 0] @ descriptors[:, variant].T for variant in range(descriptors.shape[1])
    ]).amax(dim=0)  # fmt: skip
    aspects = (boxes[:, 1] - boxes[:, 0] + 1).float() / (boxes[:, 3] - boxes[:, 2] + 1).float()
    area_ratio = torch.minimum(sizes[:, None], sizes[None]) / torch.maximum(sizes[:, None], sizes)
    aspect_ratio = (aspects[:, None] / aspects[None]).log().abs().exp()
    alike = (similarity >= SIMILARITY) & (area_ratio >= AREA_RATIO) & (aspect_ratio <= ASPECT_RATIO)
    alike.fill_diagonal_(True)
    group_area = (alike.float() * sizes[None]).sum(dim=1)
    group_area[alike.sum(dim=1) < 2] = 0  # a group needs two copies
    best = int(group_area.argmax())
    if group_area[best] == 0:
        return none
    return labels[None] == kept[alike[best]].view(-1, 1, 1)


def _bounding_boxes(labels: torch.Tensor, count: int) -> torch.Tensor:
    """`long [n + 1, 4]`: each label's first and last row and column (row 0: outside)."""
    height, width = labels.shape
    rows = torch.arange(height).view(-1, 1).expand(height, width).reshape(-1)
    columns = torch.arange(width).view(1, -1).expand(height, width).reshape(-1)
    flat = labels.view(-1)
    boxes = torch.zeros((count + 1, 4), dtype=torch.long)
    for column, (values, reduce) in enumerate(
        ((rows, "amin"), (rows, "amax"), (columns, "amin"), (columns, "amax"))
    ):
        start = max(height, width) if reduce == "amin" else -1
        boxes[:, column] = torch.full((count + 1,), start).scatter_reduce(0, flat, values, reduce)
    return boxes


def _descriptors(
    pixels: torch.Tensor,
    labels: torch.Tensor,
    chosen: torch.Tensor,
    boxes: torch.Tensor,
    background: torch.Tensor,
) -> torch.Tensor:
    """Each chosen component's crop as a unit vector, with its mirror images.

    The crop is the component's bounding box, its other pixels set to the
    background, less the background, scaled to 16 x 16.

    Returns:
        `float [M, 4, D]`: as is, mirrored left-right, up-down, and both.
    """
    crops = []
    fill = background.view(-1, 1, 1)
    for label, (top, bottom, left, right) in zip(chosen.tolist(), boxes.tolist(), strict=True):
        inside = labels[top : bottom + 1, left : right + 1] == label
        crop = torch.where(inside, pixels[:, top : bottom + 1, left : right + 1], fill) - fill
        crops.append(
            F.interpolate(crop[None], size=(DESCRIPTOR_SIDE, DESCRIPTOR_SIDE), mode="bilinear",
                          align_corners=False, antialias=True)[0]
        )  # fmt: skip
    stacked = torch.stack(crops)
    variants = torch.stack(
        [stacked, stacked.flip(-1), stacked.flip(-2), stacked.flip(-1, -2)], dim=1
    ).flatten(2)
    variants = variants - variants.mean(dim=2, keepdim=True)
    return variants / variants.norm(dim=2, keepdim=True).clamp(min=1e-8)


def autocorrelation(pixels: torch.Tensor) -> torch.Tensor:
    """The normalised autocorrelation of an image at every shift.

    Each channel's mean is removed; the sum of products at a shift is divided by
    the number of pixels that overlap at that shift and by the variance, so the
    zero shift gives 1 and a shift by a whole period of a perfect pattern gives 1.

    Args:
        pixels: `float [C, H, W]`.

    Returns:
        `float [2H - 1, 2W - 1]`, the zero shift at the centre `[H - 1, W - 1]`.
    """
    _, height, width = pixels.shape
    centred = pixels - pixels.mean(dim=(1, 2), keepdim=True)
    spectrum = torch.fft.rfft2(centred, s=(2 * height, 2 * width))
    products = torch.fft.irfft2(spectrum.abs().square().sum(dim=0), s=(2 * height, 2 * width))
    products = torch.fft.fftshift(products)[1:, 1:]  # shifts -(H-1) .. H-1, -(W-1) .. W-1
    rows = height - torch.arange(-(height - 1), height).abs()
    columns = width - torch.arange(-(width - 1), width).abs()
    overlap = rows[:, None] * columns[None]
    variance = products[height - 1, width - 1] / (height * width)
    return products / overlap / variance.clamp(min=1e-12)


def find_periods(pixels: torch.Tensor) -> tuple[list[tuple[int, int]], str]:
    """The pattern's repetition: one period `(dy, dx)`, two (a lattice), or none.

    Only shifts up to half the image each way count, so that two copies fit.

    Args:
        pixels: `float [C, H, W]`.

    Returns:
        The periods (0, 1 or 2) and a line saying what was found.
    """
    _, height, width = pixels.shape
    correlation = autocorrelation(pixels)
    centre_y, centre_x = height - 1, width - 1
    peaks = correlation == F.max_pool2d(correlation[None, None], 5, stride=1, padding=2)[0, 0]
    candidates = []
    for y, x in torch.nonzero(peaks & (correlation >= PERIOD_PEAK)).tolist():
        dy, dx = y - centre_y, x - centre_x
        if abs(dy) > height // 2 or abs(dx) > width // 2 or math.hypot(dy, dx) < MIN_PERIOD:
            continue
        if dy < 0 or (dy == 0 and dx < 0):  # the autocorrelation is symmetric: keep one half
            continue
        value = float(correlation[y, x])
        steps = 2 * max(abs(dy), abs(dx))
        along = torch.linspace(0, 1, steps + 1)
        path = correlation[
            (centre_y + along * dy).round().long(), (centre_x + along * dx).round().long()
        ]
        if float(path.min()) <= value - PERIOD_DIP:  # a peak of its own, not the centre's slope
            candidates.append((value, dy, dx))
    if not candidates:
        return [], "no period"
    first = _shortest_strong(candidates)
    periods = [first[1:]]
    across = [c for c in candidates if abs(_sine(first[1:], c[1:])) > 0.5]
    if across:
        periods.append(_shortest_strong(across)[1:])
    shown = ", ".join(f"({dy}, {dx})" for dy, dx in periods)
    return periods, f"period {shown} px (autocorrelation {first[0]:.2f})"


def _shortest_strong(candidates: list[tuple[float, int, int]]) -> tuple[float, int, int]:
    """The shortest shift among those within 0.1 of the strongest peak."""
    strongest = max(value for value, _, _ in candidates)
    strong = [c for c in candidates if c[0] >= strongest - 0.1]
    return min(strong, key=lambda c: math.hypot(c[1], c[2]))


def _sine(a: tuple[int, int], b: tuple[int, int]) -> float:
    """The sine of the angle between two shifts."""
    return (a[0] * b[1] - a[1] * b[0]) / (math.hypot(*a) * math.hypot(*b))


def _lattice_copies(
    pixels: torch.Tensor, foreground: torch.Tensor, min_area: int
) -> tuple[torch.Tensor, str]:
    """`bool [M, H, W]`: the foreground of each full band or tile of the pattern's lattice."""
    height, width = foreground.shape
    periods, found = find_periods(pixels)
    none = torch.zeros((0, height, width), dtype=torch.bool)
    if not periods:
        return none, found
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )  # fmt: skip
    positions = torch.stack([ys, xs], dim=-1)  # [H, W, 2]
    basis = torch.tensor(periods, dtype=torch.float64).T  # columns are the periods
    if len(periods) == 1:
        coordinates = (positions @ basis) / basis.square().sum()  # in periods, along the period
    else:
        coordinates = positions @ torch.linalg.inv(basis).T  # lattice coordinates
    tile = torch.zeros((height, width), dtype=torch.long)
    for axis in range(coordinates.shape[-1]):
        along = coordinates[..., axis]
        index = (along - _thinnest_phase(along, foreground)).floor().long()
        index = index - index.min()
        tile = tile * (int(index.max()) + 1) + index
    areas = torch.bincount(tile[foreground])
    full = torch.nonzero(areas >= max(min_area, FULL_TILE * float(areas.max()))).view(-1)
    if len(full) < 2:
        return none, f"{found} but fewer than two full copies"
    copies = (tile[None] == full.view(-1, 1, 1)) & foreground
    return copies, f"{len(full)} copies on a lattice of {found}"


def _thinnest_phase(along: torch.Tensor, foreground: torch.Tensor, bins: int = 16) -> float:
    """Where, within one period, the foreground is thinnest: the copies' boundary (0..1)."""
    phase = along[foreground] - along[foreground].floor()
    counts = torch.bincount((phase * bins).long().clamp(max=bins - 1), minlength=bins)
    return (int(counts.argmin()) + 0.5) / bins


def _largest_first(copies: torch.Tensor) -> torch.Tensor:
    """The copies ordered by area, largest first (ties: the first pixel, row by row)."""
    areas = copies.view(len(copies), -1).sum(dim=1)
    first = copies.view(len(copies), -1).float().argmax(dim=1)
    order = sorted(range(len(copies)), key=lambda i: (-int(areas[i]), int(first[i])))
    return copies[order]
