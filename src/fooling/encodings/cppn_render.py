"""What a CPPN computes, and the PyTorch code that renders a population of them.

The encoding uses this code on GPUs and wherever its compiled CPU kernels
(`cppn_native`) cannot be built.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fooling.encodings.base import Genomes

ACTIVATIONS = ("sine", "sigmoid", "gaussian", "linear")
NUM_INPUTS = 4


def gaussian_(values: torch.Tensor) -> torch.Tensor:
    """exp(-v^2) in place, with v^2 capped at 80 so that no result is a (very slow) denormal."""
    return values.mul_(values).clamp_(max=80.0).neg_().exp_()


# In place, by index into ACTIVATIONS; linear (index 3) is the identity.
FUNCTIONS = (torch.sin_, torch.sigmoid_, gaussian_)


def coordinates(height: int, width: int, device: torch.device) -> torch.Tensor:
    """`[4, H*W]`: x and y in [-1, 1], distance from the centre, and a constant 1."""
    y, x = torch.meshgrid(
        torch.linspace(-1, 1, height, device=device),
        torch.linspace(-1, 1, width, device=device),
        indexing="ij",
    )
    distance = torch.sqrt(x * x + y * y)
    return torch.stack([x, y, distance, torch.ones_like(x)]).view(NUM_INPUTS, height * width)


def render_outputs(
    genomes: Genomes, inputs: torch.Tensor, output_slots: torch.Tensor
) -> torch.Tensor:
    """The output nodes' values v mapped to (clip(v, -1, 1) + 1) / 2, as `[P, C, pixels]`.

    Nodes are evaluated one feed-forward position at a time for the whole
    population. Node values live in one `table`: the 4 shared input rows, then
    one block of P rows per position, its rows ordered by activation function so
    that each function runs in place on one contiguous slice. A node's input is
    summed over its enabled connections only (gather, scale, add).

    Args:
        genomes: CPPN genomes (see `fooling.encodings.cppn`).
        inputs: `[4, pixels]` the coordinates (`coordinates`).
        output_slots: the `C` output slots.

    Returns:
        `float32 [P, C, pixels]` in `[0, 1]`.
    """
    population = genomes["alive"].shape[0]
    layout = _TableLayout(genomes)
    table = torch.zeros(layout.rows, inputs.shape[1], device=inputs.device)
    table[:NUM_INPUTS] = inputs
    source, target, weight, per_position = layout.connections(genomes)
    first = 0  # connections are sorted by target position; none feeds an input
    for position in range(NUM_INPUTS, layout.used):
        block = table[layout.block_start(position) :][:population]
        last = first + per_position[position]
        if last > first:
            incoming = table.index_select(0, source[first:last]).mul_(weight[first:last, None])
            block.index_add_(0, target[first:last], incoming)
        start = 0
        for function, count in zip(FUNCTIONS, layout.counts[position], strict=False):
            if count:
                function(block[start : start + count])
            start += count
        first = last
    outputs = layout.slot_rows(output_slots)
    values = table.index_select(0, outputs.flatten()).clamp_(-1, 1).add_(1).div_(2)
    return values.view(population, len(output_slots), -1)


class _TableLayout:
    """Where each genome's node values sit in the rendering table.

    Positions are a genome's alive slots in feed-forward order (dead slots last);
    position j >= 4 has a block of P rows starting at `4 + (j - 4) * P`, in which
    the genomes are ordered by their activation function at that position.
    """

    def __init__(self, genomes: Genomes) -> None:
        alive, order = genomes["alive"], genomes["order"]
        self.population = alive.shape[0]
        key = torch.where(alive, order, torch.full_like(order, 2.0))
        position_to_slot = key.argsort(dim=1, stable=True)
        self.slot_to_position = position_to_slot.argsort(dim=1)
        self.used = int(alive.sum(dim=1).max())
        self.rows = NUM_INPUTS + (self.used - NUM_INPUTS) * self.population
        kind = genomes["activation"].gather(1, position_to_slot[:, : self.used])
        self.row_in_block = kind.argsort(dim=0, stable=True).argsort(dim=0)
        self.counts = F.one_hot(kind, len(ACTIVATIONS)).sum(dim=0).tolist()

    def block_start(self, position: int) -> int:
        return NUM_INPUTS + (position - NUM_INPUTS) * self.population

    def row(self, genome: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """The table row of `genome`'s value at `position` (inputs are shared rows)."""
        block_row = self.row_in_block[genome, position.clamp(min=NUM_INPUTS)]
        in_block = NUM_INPUTS + (position - NUM_INPUTS) * self.population + block_row
        return torch.where(position < NUM_INPUTS, position, in_block)

    def slot_rows(self, slots: torch.Tensor) -> torch.Tensor:
        """`[P, len(slots)]` the table rows of the given slots of every genome."""
        genome = torch.arange(self.population, device=slots.device)[:, None]
        position = self.slot_to_position[:, slots]
        return self.row(genome.expand_as(position), position)

    def connections(
        self, genomes: Genomes
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
        """Every enabled connection, sorted by target position.

        Returns:
            The source's table row, the target's row within its block, the weight,
            and how many connections end at each position.
        """
        genome, target, source = genomes["enabled"].nonzero(as_tuple=True)
        target_position = self.slot_to_position[genome, target]
        order = target_position.argsort(stable=True)
        genome, target, source = genome[order], target[order], source[order]
        target_position = target_position[order]
        weight = genomes["weight"][genome, target, source]
        source_row = self.row(genome, self.slot_to_position[genome, source])
        target_row = self.row_in_block[genome, target_position]
        per_position = torch.bincount(target_position, minlength=self.used).tolist()
        return source_row, target_row, weight, per_position


def render_dense(genomes: Genomes, inputs: torch.Tensor, num_outputs: int) -> torch.Tensor:
    """The same values as `render_outputs`, with shapes that never depend on the genomes.

    For GPUs: no host synchronisation, and under `torch.compile` the whole
    network of every genome becomes one fused kernel over (genome, pixel).
    Each genome's slots are put in feed-forward order (inputs first, then dead
    slots, hidden nodes by `order`, outputs last) and every position sums
    over all earlier ones, with zero weight where no connection is enabled.

    Args:
        genomes: CPPN genomes (see `fooling.encodings.cppn`).
        inputs: `[4, pixels]` the coordinates (`coordinates`).
        num_outputs: the `C` output slots (the last ones).

    Returns:
        `float32 [P, C, pixels]` in `[0, 1]`.
    """
    alive, order = genomes["alive"], genomes["order"]
    nodes = alive.shape[1]
    slots = torch.arange(nodes, device=alive.device)
    key = torch.where(alive, order, torch.full_like(order, -1.0))
    key = torch.where(slots < NUM_INPUTS, torch.full_like(order, -2.0), key)
    position_to_slot = key.argsort(dim=1, stable=True)  # [P, N]
    rows = position_to_slot[:, :, None].expand(-1, -1, nodes)
    weight = torch.where(genomes["enabled"], genomes["weight"], 0.0)
    weight = weight.gather(1, rows).gather(2, rows.transpose(1, 2))  # [P, to, from] by position
    kind = genomes["activation"].gather(1, position_to_slot)
    values = [inputs[index].expand(alive.shape[0], -1) for index in range(NUM_INPUTS)]
    for position in range(NUM_INPUTS, nodes):
        total = weight[:, position, 0, None] * values[0]
        for source in range(1, position):
            total = total + weight[:, position, source, None] * values[source]
        function = kind[:, position, None]
        activated = torch.where(function == 0, torch.sin(total), total)
        activated = torch.where(function == 1, torch.sigmoid(total), activated)
        gaussian = torch.exp(-(total * total).clamp(max=80.0))
        values.append(torch.where(function == 2, gaussian, activated))
    outputs = torch.stack(values[nodes - num_outputs :], dim=1)
    return outputs.clamp(-1, 1).add(1).div(2)
