"""HSV to RGB for batched images: the paper's colour genomes are H, S, V."""

from __future__ import annotations

import torch


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Convert `[N, 3, H, W]` HSV in `[0, 1]` (hue as a fraction of a turn) to RGB in `[0, 1]`."""
    hue, saturation, value = hsv.unbind(dim=1)
    # Standard formula: each channel k in (5, 3, 1) is V - V*S*max(0, min(t, 4 - t, 1)).
    k = torch.tensor([5.0, 3.0, 1.0], device=hsv.device).view(1, 3, 1, 1)
    t = (k + hue.unsqueeze(1) * 6) % 6
    ramp = torch.minimum(t, 4 - t).clamp(0, 1)
    return value.unsqueeze(1) * (1 - saturation.unsqueeze(1) * ramp)
