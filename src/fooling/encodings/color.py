"""HSV to RGB for batched images: the paper's colour genomes are H, S, V."""

from __future__ import annotations

import torch

from fooling.records import quantize_


def hsv_to_rgb(hsv: torch.Tensor, *, levels: bool = False) -> torch.Tensor:
    """Convert `[N, 3, H, W]` HSV in `[0, 1]` (hue as a fraction of a turn) to RGB in `[0, 1]`.

    Each channel k in (5, 3, 1) is V * (1 - S * clip(min(t, 4 - t), 0, 1)) with
    t = (k + 6 H) mod 6: the standard formula, one channel at a time in place,
    so a large batch makes no full-size temporaries.

    Args:
        hsv: the images, hue, saturation and value on dimension 1.
        levels: round the result to the 256 levels of a PNG, as `records.quantize` does.

    Returns:
        A new `[N, 3, H, W]` tensor.
    """
    hue, saturation, value = hsv.unbind(dim=1)
    rgb = torch.empty_like(hsv)
    six_hue = hue * 6
    t, other = torch.empty_like(hue), torch.empty_like(hue)
    for channel, k in enumerate((5.0, 3.0, 1.0)):
        torch.add(six_hue, k, out=t).remainder_(6)
        other.copy_(t).neg_().add_(4)
        ramp = torch.minimum(t, other, out=t).clamp_(0, 1)
        shade = ramp.mul_(saturation).neg_().add_(1).mul_(value)
        rgb[:, channel] = quantize_(shade) if levels else shade
    return rgb


def hsv_to_rgb_differentiable(hsv: torch.Tensor) -> torch.Tensor:
    """`hsv_to_rgb` without in-place steps, so that gradients flow back to `hsv`."""
    hue, saturation, value = hsv.unbind(dim=1)
    channels = []
    for k in (5.0, 3.0, 1.0):
        t = torch.remainder(hue * 6 + k, 6)
        ramp = torch.minimum(t, 4 - t).clamp(0, 1)
        channels.append(value * (1 - saturation * ramp))
    return torch.stack(channels, dim=1)
