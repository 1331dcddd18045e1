"""The indirect encoding: compositional pattern-producing networks (CPPNs), batched.

A CPPN maps each pixel's coordinates (x, y, distance from the centre, bias)
to its value(s). Every genome in a population has the same node slots:

    slots 0..3           inputs x, y, d, bias (always present)
    slots 4..4+H-1       hidden nodes, each alive or not
    the last C slots     outputs: one gray value, or H, S, V

A genome is a set of tensors with the population on dimension 0:

    weight      float [P, N, N]  weight[p, to, from]; a node's weight from the
                                 bias input (a constant 1) is its bias
    enabled     bool  [P, N, N]  which connections exist
    activation  long  [P, N]     index into ACTIVATIONS
    alive       bool  [P, N]     which slots are in the network
    order       float [P, N]     position in the feed-forward order: inputs 0,
                                 outputs 1, hidden nodes strictly between

A connection may only run from a lower `order` to a higher one, so every
genome is a feed-forward network. A node added on the connection a -> b takes
the midpoint of their orders, which keeps that true without renumbering.
Rendering sorts each genome's slots by order (a batched gather) and evaluates
one node position at a time for the whole population.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fooling.encodings.base import Genomes
from fooling.encodings.color import hsv_to_rgb
from fooling.encodings.polynomial import polynomial_mutation

ACTIVATIONS = ("sine", "sigmoid", "gaussian", "linear")
NUM_INPUTS = 4


def gaussian_(values: torch.Tensor) -> torch.Tensor:
    """exp(-v^2) in place, with v^2 capped at 80 so that no result is a (very slow) denormal."""
    return values.mul_(values).clamp_(max=80.0).neg_().exp_()


# In place, by index into ACTIVATIONS; linear (index 3) is the identity.
FUNCTIONS = (torch.sin_, torch.sigmoid_, gaussian_)


class CPPNEncoding:
    """CPPN genomes that start with no hidden nodes and grow by mutation.

    Mutation follows the paper's original code: the structural operators are
    each applied to an offspring with their own probability; weights and
    activation functions are changed per gene.

    Args:
        image_shape: `(channels, height, width)`; 1 channel is gray, 3 are H, S, V.
        device: where genomes live and are rendered.
        max_hidden: hidden node slots per genome (the most a CPPN can grow to).
        weight_range: weights (biases are weights from the bias input) lie in
            `[-weight_range, weight_range]`.
        add_connection: probability per offspring of adding a connection.
        delete_connection: probability per offspring of deleting a connection.
        change_connection: probability per offspring of moving one end of a connection.
        add_node: probability per offspring of splitting a connection with a new node.
        delete_node: probability per offspring of deleting a hidden node.
        weight_rate: per-weight polynomial mutation probability.
        activation_rate: per-node probability of re-drawing the activation function.
        eta: polynomial mutation distribution index.

    Raises:
        ValueError: channels other than 1 or 3, or a negative node count.
    """

    name = "cppn"

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        *,
        device: str | torch.device = "cpu",
        max_hidden: int = 8,
        weight_range: float = 10.0,
        add_connection: float = 0.5,
        delete_connection: float = 0.3,
        change_connection: float = 0.5,
        add_node: float = 0.5,
        delete_node: float = 0.2,
        weight_rate: float = 0.1,
        activation_rate: float = 0.1,
        eta: float = 15.0,
    ) -> None:
        channels, height, width = image_shape
        if channels not in (1, 3):
            raise ValueError(f"CPPN encoding needs 1 or 3 channels, got {channels}")
        if max_hidden < 0:
            raise ValueError(f"max_hidden must be >= 0, got {max_hidden}")
        self.image_shape = (channels, height, width)
        self.device = torch.device(device)
        self.max_hidden = max_hidden
        self.weight_range = weight_range
        self.rates = {
            "add_connection": add_connection,
            "delete_connection": delete_connection,
            "change_connection": change_connection,
            "add_node": add_node,
            "delete_node": delete_node,
            "weight": weight_rate,
            "activation": activation_rate,
        }
        self.eta = eta
        self.num_nodes = NUM_INPUTS + max_hidden + channels
        self.hidden = slice(NUM_INPUTS, NUM_INPUTS + max_hidden)
        first_output = NUM_INPUTS + max_hidden
        self.output_slots = torch.arange(first_output, self.num_nodes, device=self.device)
        self.inputs = _coordinates(height, width, self.device)

    # ----------------------------------------------------------------- genomes
    def random(self, n: int, generator: torch.Generator) -> Genomes:
        """`n` networks with no hidden nodes, every input wired to every output."""
        nodes, device = self.num_nodes, self.device
        is_input = torch.arange(nodes, device=device) < NUM_INPUTS
        is_output = torch.zeros(nodes, dtype=torch.bool, device=device)
        is_output[self.output_slots] = True
        enabled = (is_output[:, None] & is_input[None, :]).expand(n, nodes, nodes).clone()
        order = torch.full((nodes,), 0.5, device=device)
        order[is_input], order[is_output] = 0.0, 1.0
        return {
            "weight": self._uniform((n, nodes, nodes), generator),
            "enabled": enabled,
            "activation": self._random_activations((n, nodes), generator),
            "alive": (is_input | is_output).expand(n, nodes).clone(),
            "order": order.expand(n, nodes).clone(),
        }

    def mutate(self, parents: Genomes, generation: int, generator: torch.Generator) -> Genomes:
        """One offspring per parent; `generation` is unused (the rates are constant)."""
        g = {key: value.clone() for key, value in parents.items()}
        bound = self.weight_range
        g["weight"] = polynomial_mutation(
            g["weight"], rate=self.rates["weight"], eta=self.eta, low=-bound, high=bound,
            generator=generator,
        )  # fmt: skip
        redraw = self._chance(g["activation"].shape, self.rates["activation"], generator)
        fresh = self._random_activations(g["activation"].shape, generator)
        g["activation"] = torch.where(redraw, fresh, g["activation"])
        operators = (
            (self._change_connection, "change_connection"),
            (self._add_connection, "add_connection"),
            (self._delete_connection, "delete_connection"),
            (self._add_node, "add_node"),
            (self._delete_node, "delete_node"),
        )
        population = len(g["alive"])
        for operator, rate in operators:
            rows = self._chance((population,), self.rates[rate], generator).nonzero().squeeze(1)
            if len(rows):
                operator(g, rows, generator)
        return g

    def _change_connection(self, g: Genomes, rows: torch.Tensor, generator) -> None:
        """Move the source or the target of one existing connection, keeping its weight."""
        edge, has_edge = _pick(g["enabled"][rows].flatten(1), generator)
        rows, target, source = _split(rows, edge, has_edge, self.num_nodes)
        free = self._allowed_connections(g, rows) & ~g["enabled"][rows]
        local = torch.arange(len(rows), device=self.device)
        move_source = self._chance(rows.shape, 0.5, generator)
        candidates = torch.where(move_source[:, None], free[local, target], free[local, :, source])
        other, has_other = _pick(candidates, generator)
        rows, target, source = rows[has_other], target[has_other], source[has_other]
        other, move_source = other[has_other], move_source[has_other]
        new_target = torch.where(move_source, target, other)
        new_source = torch.where(move_source, other, source)
        weight = g["weight"][rows, target, source]
        g["enabled"][rows, target, source] = False
        g["enabled"][rows, new_target, new_source] = True
        g["weight"][rows, new_target, new_source] = weight

    def _add_connection(self, g: Genomes, rows: torch.Tensor, generator) -> None:
        free = self._allowed_connections(g, rows) & ~g["enabled"][rows]
        edge, has_edge = _pick(free.flatten(1), generator)
        rows, target, source = _split(rows, edge, has_edge, self.num_nodes)
        g["enabled"][rows, target, source] = True
        g["weight"][rows, target, source] = self._uniform(rows.shape, generator)

    def _delete_connection(self, g: Genomes, rows: torch.Tensor, generator) -> None:
        edge, has_edge = _pick(g["enabled"][rows].flatten(1), generator)
        rows, target, source = _split(rows, edge, has_edge, self.num_nodes)
        g["enabled"][rows, target, source] = False

    def _add_node(self, g: Genomes, rows: torch.Tensor, generator) -> None:
        """Split a connection a -> b into a -> new (weight 1) and new -> b (the old weight)."""
        slot, has_slot = _pick(~g["alive"][rows, self.hidden], generator)
        rows, slot = rows[has_slot], slot[has_slot]
        edge, has_edge = _pick(g["enabled"][rows].flatten(1), generator)
        rows, target, source = _split(rows, edge, has_edge, self.num_nodes)
        node = slot[has_edge] + NUM_INPUTS
        order = g["order"]
        order[rows, node] = (order[rows, source] + order[rows, target]) / 2
        g["alive"][rows, node] = True
        g["activation"][rows, node] = self._random_activations(rows.shape, generator)
        g["enabled"][rows, target, source] = False
        g["enabled"][rows, node, source] = True
        g["enabled"][rows, target, node] = True
        g["weight"][rows, target, node] = g["weight"][rows, target, source]
        g["weight"][rows, node, source] = 1.0

    def _delete_node(self, g: Genomes, rows: torch.Tensor, generator) -> None:
        """Remove one hidden node and every connection into or out of it."""
        slot, has_node = _pick(g["alive"][rows, self.hidden], generator)
        rows, node = rows[has_node], slot[has_node] + NUM_INPUTS
        g["alive"][rows, node] = False
        g["enabled"][rows, node, :] = False
        g["enabled"][rows, :, node] = False

    def _allowed_connections(self, g: Genomes, rows: torch.Tensor) -> torch.Tensor:
        """`[R, N, N]` (to, from) pairs that keep the networks at `rows` feed-forward."""
        alive, order = g["alive"][rows], g["order"][rows]
        slots = torch.arange(self.num_nodes, device=self.device)
        can_send = alive & (slots < self.output_slots[0])
        can_receive = alive & (slots >= NUM_INPUTS)
        forward = order[:, None, :] < order[:, :, None]
        return forward & can_receive[:, :, None] & can_send[:, None, :]

    # --------------------------------------------------------------- rendering
    def render(self, genomes: Genomes) -> torch.Tensor:
        """Images `[P, C, H, W]` in `[0, 1]`; an output value v becomes (clip(v, -1, 1) + 1) / 2.

        Nodes are evaluated one feed-forward position at a time for the whole
        population. Node values live in one `table`: the 4 shared input rows, then
        one block of P rows per position, its rows ordered by activation function so
        that each function runs in place on one contiguous slice. A node's input is
        summed over its enabled connections only (gather, scale, add).
        """
        population = genomes["alive"].shape[0]
        channels, height, width = self.image_shape
        layout = _TableLayout(genomes)
        table = torch.zeros(layout.rows, height * width, device=self.device)
        table[:NUM_INPUTS] = self.inputs
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
        outputs = layout.slot_rows(self.output_slots)
        images = table.index_select(0, outputs.flatten()).clamp_(-1, 1).add_(1).div_(2)
        images = images.view(population, channels, height, width)
        return images if channels == 1 else hsv_to_rgb(images)

    # ----------------------------------------------------------------- helpers
    def settings(self) -> dict[str, Any]:
        return {
            "encoding": self.name,
            "image_shape": list(self.image_shape),
            "max_hidden": self.max_hidden,
            "weight_range": self.weight_range,
            "rates": dict(self.rates),
            "eta": self.eta,
            "activations": list(ACTIVATIONS),
        }

    def _uniform(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        unit = torch.rand(shape, generator=generator, device=self.device)
        return (unit * 2 - 1) * self.weight_range

    def _random_activations(self, shape: torch.Size | tuple[int, ...], generator) -> torch.Tensor:
        return torch.randint(
            len(ACTIVATIONS), tuple(shape), generator=generator, device=self.device
        )

    def _chance(self, shape, probability: float, generator: torch.Generator) -> torch.Tensor:
        return torch.rand(tuple(shape), generator=generator, device=self.device) < probability


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


def _coordinates(height: int, width: int, device: torch.device) -> torch.Tensor:
    """`[4, H*W]`: x and y in [-1, 1], distance from the centre, and a constant 1."""
    y, x = torch.meshgrid(
        torch.linspace(-1, 1, height, device=device),
        torch.linspace(-1, 1, width, device=device),
        indexing="ij",
    )
    distance = torch.sqrt(x * x + y * y)
    return torch.stack([x, y, distance, torch.ones_like(x)]).view(NUM_INPUTS, height * width)


def _pick(mask: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A uniformly random True column per row of `mask [R, M]`, and whether the row had one."""
    running = mask.cumsum(dim=1)
    counts = running[:, -1]
    nth = torch.rand(counts.shape, generator=generator, device=mask.device).mul_(counts).long()
    column = torch.searchsorted(running, nth.add_(1).unsqueeze(1)).squeeze(1)
    return column.clamp_(max=mask.shape[1] - 1), counts > 0


def _split(
    rows: torch.Tensor, edge: torch.Tensor, found: torch.Tensor, nodes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the rows where a connection was found; return them with its (target, source)."""
    edge = edge[found]
    return rows[found], edge // nodes, edge % nodes
