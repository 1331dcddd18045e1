"""Image priors for gradient ascent: what is optimised, and what is done to it before each step.

Ascent on raw pixels finds high-frequency noise that fools one network. Feature
visualisation (Olah et al. 2017, Lucent) gets recognisable images with two priors:

- a parameterisation that favours natural images: `fft` optimises a Fourier
  spectrum scaled by 1/frequency (natural images' power falls off so), through
  a fixed colour-decorrelation matrix and a sigmoid; `cppn` optimises the weights
  of a fixed random CPPN per image (smooth, regular patterns);
- random transforms before every step (jitter, scale, rotation), so only features
  that survive small shifts are worth climbing.

`pixel` is the unchanged raw-pixel ascent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fooling.encodings.cppn import CPPNEncoding
from fooling.errors import FoolingError
from fooling.limits import JITTER, ROTATE, ZOOM

PARAMETERISATIONS = ("pixel", "fft", "cppn")
DEFAULT_PARAMETERISATION = "fft"
"""Of the three, the one whose images other networks most often see as their class:
with the default transforms, on 50 ImageNet classes made against EfficientNet-Lite0,
62% are Lite1's top-1 and 32% Lite2's, against 0% for pixels
(`benchmarks/ascent_priors.py`)."""
LEARNING_RATES = {"pixel": 0.05, "fft": 0.05, "cppn": 0.5}
"""Adam's first step for each: a CPPN's weights lie in [-10, 10], not in [0, 1]."""

# Lucent's square root of ImageNet's colour covariance (an SVD), each column scaled so
# the largest has unit norm: a step in its space moves colours as natural images do.
COLOUR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOUR_CORRELATION = COLOUR_CORRELATION / COLOUR_CORRELATION.norm(dim=0).max()
FFT_SCALE = 4.0  # Lucent's: the spectrum's image is divided by this before the sigmoid
CPPN_GROWTH = 40  # mutations that give each image's fixed random CPPN its shape


class Parameterisation:
    """Images `[N, C, H, W]` in `[0, 1]` as a differentiable function of `parameters`.

    Args:
        kind: one of `PARAMETERISATIONS`.
        shape: `(N, C, H, W)`.
        generator: seeds the starting point.
        start: for `pixel`, the starting images (the other kinds start from their own
            random draws).
    """

    def __init__(
        self,
        kind: str,
        shape: tuple[int, int, int, int],
        generator: torch.Generator,
        start: torch.Tensor | None = None,
    ) -> None:
        check_parameterisation(kind)
        self.kind = kind
        self.shape = shape
        count, channels, height, width = shape
        device = generator.device
        if kind == "pixel":
            assert start is not None
            self.values = start.clone()
        elif kind == "fft":
            frequencies = _frequencies(height, width, device)
            self.scale = 1.0 / frequencies.clamp(min=1.0 / max(height, width))
            spectrum = (count, channels, *frequencies.shape, 2)
            self.values = torch.randn(spectrum, generator=generator, device=device) * 0.01
        else:
            self.encoding = CPPNEncoding((channels, height, width), device=device, native=False)
            genomes = self.encoding.random(count, generator)
            for generation in range(1, CPPN_GROWTH + 1):
                genomes = self.encoding.mutate(genomes, generation, generator)
            self.genomes = genomes
            self.values = genomes["weight"].clone()
        self.values.requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        """What the optimiser changes."""
        return [self.values]

    def images(self) -> torch.Tensor:
        """The images, with gradients back to `parameters()`."""
        if self.kind == "pixel":
            return self.values
        if self.kind == "cppn":
            return self.encoding.render_differentiable({**self.genomes, "weight": self.values})
        height, width = self.shape[2:]
        spectrum = torch.view_as_complex(self.values * self.scale[..., None])
        images = torch.fft.irfftn(spectrum, s=(height, width), norm="ortho") / FFT_SCALE
        if self.shape[1] == 3:
            matrix = COLOUR_CORRELATION.to(images.device)
            images = torch.einsum("nchw,dc->ndhw", images, matrix)
        return torch.sigmoid(images)

    def after_step(self) -> None:
        """Keep the parameters valid: pixels in [0, 1], CPPN weights in their range."""
        with torch.no_grad():
            if self.kind == "pixel":
                self.values.clamp_(0, 1)
            elif self.kind == "cppn":
                bound = self.encoding.weight_range
                self.values.clamp_(-bound, bound)


def check_parameterisation(kind: str) -> None:
    """Refuse a parameterisation that is not one of `PARAMETERISATIONS`.

    Raises:
        FoolingError: naming the choices.
    """
    if kind not in PARAMETERISATIONS:
        raise FoolingError(
            f"unknown parameterisation {kind!r}; choose one of: {', '.join(PARAMETERISATIONS)}"
        )


def _frequencies(height: int, width: int, device: torch.device) -> torch.Tensor:
    """`[H, W // 2 + 1]` the spatial frequency of each coefficient of a real 2-D FFT."""
    fy = torch.fft.fftfreq(height, device=device)[:, None]
    fx = torch.fft.rfftfreq(width, device=device)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


@dataclass(frozen=True)
class Transforms:
    """Random transforms applied to the images before every step (not to the saved ones).

    Attributes:
        jitter: the largest shift, in pixels, in each direction.
        scale: the range of the random zoom factor, `(low, high)`.
        rotate: the largest rotation, in degrees, either way.
    """

    jitter: int = 0
    scale: tuple[float, float] = (1.0, 1.0)
    rotate: float = 0.0

    def __post_init__(self) -> None:
        JITTER.check(self.jitter)
        for factor in self.scale:
            ZOOM.check(factor)
        ROTATE.check(self.rotate)
        low, high = self.scale
        if low > high:
            raise FoolingError(f"scale (low, high) needs low <= high, got {low:g}, {high:g}")

    @property
    def any(self) -> bool:
        return bool(self.jitter) or self.scale != (1.0, 1.0) or bool(self.rotate)

    @classmethod
    def default(cls, param: str, side: int) -> Transforms:
        """The transforms an ascent takes unless told: none on pixels (the paper's
        ascent); for the priors, shifts of up to 8 pixels in 224 (at least 1), zoom
        0.9-1.1 and turns of up to 10 degrees, the settings measured in
        `benchmarks/ascent_priors.py`.

        Args:
            param: the parameterisation.
            side: the image's shorter side in pixels.
        """
        if param == "pixel":
            return cls()
        return cls(jitter=max(1, round(side * 8 / 224)), scale=(0.9, 1.1), rotate=10.0)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Each image shifted, zoomed and turned at random (edges reflected), differentiably."""
        if not self.any:
            return images
        count, _, height, width = images.shape
        device = images.device

        def uniform(low: float, high: float) -> torch.Tensor:
            draw = torch.rand(count, generator=generator, device=device)
            return low + (high - low) * draw

        angle = uniform(-self.rotate, self.rotate) * (math.pi / 180)
        zoom = uniform(*self.scale)
        shift_x = uniform(-self.jitter, self.jitter) * (2 / width)
        shift_y = uniform(-self.jitter, self.jitter) * (2 / height)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos, -sin, shift_x], dim=1), torch.stack([sin, cos, shift_y], dim=1)],
            dim=1,
        )
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, padding_mode="reflection", align_corners=False)
