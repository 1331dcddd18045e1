"""Connected components of a 2-D mask, labelled with torch (no Python loop over pixels).

Each pixel starts as its own tree. A round hooks, for every pair of
neighbouring mask pixels in different trees, the root with the larger index
onto the smaller root, then follows parents to the roots ("pointer jumping",
as union-find compresses paths); rounds go on until every pair of neighbours
shares a root (the Shiloach-Vishkin scheme). Merges reach across whole trees,
so a long winding component takes a few rounds, not one per pixel of its
length: a 224 x 224 mask takes a few milliseconds on one CPU core.
"""

from __future__ import annotations

import torch


def label_components(mask: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The 4-connected components of a mask.

    Args:
        mask: `bool [H, W]`.

    Returns:
        `long [H, W]` labels, 0 outside the mask and 1..n inside, numbered in the
        order of each component's first pixel (row by row), and n.

    Raises:
        ValueError: the mask is not 2-D.
    """
    if mask.dim() != 2:
        raise ValueError(f"expected a mask [H, W], got shape {tuple(mask.shape)}")
    mask = mask.to("cpu", torch.bool)
    height, width = mask.shape
    pixels = height * width
    index = torch.arange(pixels).view(height, width)
    across = mask[:, :-1] & mask[:, 1:]
    down = mask[:-1, :] & mask[1:, :]
    first = torch.cat([index[:, :-1][across], index[:-1, :][down]])
    second = torch.cat([index[:, 1:][across], index[1:, :][down]])
    parent = torch.arange(pixels)
    while True:
        root_a, root_b = parent.index_select(0, first), parent.index_select(0, second)
        apart = root_a != root_b
        if not bool(apart.any()):
            break
        root_a, root_b = root_a[apart], root_b[apart]
        parent.scatter_reduce_(
            0, torch.maximum(root_a, root_b), torch.minimum(root_a, root_b), reduce="amin"
        )
        while True:  # pointer jumping, until every pixel points at its root
            jumped = parent.index_select(0, parent)
            if torch.equal(jumped, parent):
                break
            parent = jumped
        first, second = first[apart], second[apart]
    roots = torch.where(mask, parent.view(height, width), pixels)  # `pixels`: outside the mask
    found, numbered = torch.unique(roots, return_inverse=True)  # sorted, so `pixels` comes last
    count = len(found) - int(bool((~mask).any()))
    return torch.where(mask, numbered + 1, 0), count
