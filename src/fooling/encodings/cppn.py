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

Mutation and rendering run as batched PyTorch code on any device; on the CPU
the same steps run as compiled C kernels when they can be built
(`cppn_native`): the same genomes, images equal to within one 8-bit level.
"""

from __future__ import annotations

from typing import Any

import torch

from fooling.encodings.base import Genomes, check_number, check_settings, check_values
from fooling.encodings.color import hsv_to_rgb, hsv_to_rgb_differentiable
from fooling.encodings.cppn_native import (
    MAX_NODES,
    STRUCTURE_DRAWS,
    NativeKernels,
    draws_per_genome,
    load_library,
)
from fooling.encodings.cppn_render import (
    ACTIVATIONS,
    NUM_INPUTS,
    coordinates,
    render_dense,
    render_outputs,
)
from fooling.encodings.polynomial import polynomial_delta
from fooling.records import quantize_

MAX_HIDDEN = 1000  # hidden node slots; the genome's weights grow as their square


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
        weight_rate: per-connection probability of a polynomial weight mutation.
        activation_rate: per hidden or output node, the probability of re-drawing its
            activation function.
        eta: polynomial mutation distribution index.
        native: on the CPU, use the compiled kernels when a C compiler is available
            (and the network has at most 64 node slots).
        compile_on_gpu: on a GPU, fuse rendering with `torch.compile` (compiling takes
            some seconds, once per process and image shape); False renders eagerly.

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
        native: bool = True,
        compile_on_gpu: bool = True,
    ) -> None:
        channels, height, width = image_shape
        if channels not in (1, 3):
            raise ValueError(f"CPPN encoding needs 1 or 3 channels, got {channels}")
        check_number("max_hidden", max_hidden, 0, MAX_HIDDEN)
        check_number("weight_range", weight_range, 1e-6, 1e6)
        check_number("eta", eta, 1e-6, 1e6)
        rates = (add_connection, delete_connection, change_connection, add_node, delete_node,
                 weight_rate, activation_rate)  # fmt: skip
        for rate in rates:
            check_number("a mutation rate", rate, 0, 1)
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
        self.inputs = coordinates(height, width, self.device)
        usable = native and self.device.type == "cpu" and self.num_nodes <= MAX_NODES
        library = load_library() if usable else None
        self.native = None if library is None else NativeKernels(
            library, nodes=self.num_nodes, inputs=NUM_INPUTS, outputs=channels,
            weight_range=weight_range,
            rates=(change_connection, add_connection, delete_connection, add_node, delete_node),
            weight_rate=weight_rate, activation_rate=activation_rate, eta=eta,
        )  # fmt: skip
        self._render_on_gpu = None
        if self.device.type == "cuda":
            self._render_on_gpu = torch.compile(_dense_images) if compile_on_gpu else _dense_images
        self._options = {"native": native, "compile_on_gpu": compile_on_gpu}

    # ----------------------------------------------- rebuilding and pickling
    @classmethod
    def from_settings(
        cls, settings: dict[str, Any], device: str | torch.device = "cpu", **options: bool
    ) -> CPPNEncoding:
        """The encoding that `settings()` described; `options` are `native`, `compile_on_gpu`."""
        check_settings(settings, cls.name)
        if settings.get("activations") != list(ACTIVATIONS):
            raise ValueError(f"CPPN activation functions {settings.get('activations')!r} "
                             f"are not this version's {list(ACTIVATIONS)}")  # fmt: skip
        try:
            rates = settings["rates"]
            return cls(
                tuple(settings["image_shape"]), device=device,
                max_hidden=int(settings["max_hidden"]),
                weight_range=float(settings["weight_range"]),
                **{f"{key}_rate" if key in ("weight", "activation") else key: float(value)
                   for key, value in rates.items()},
                eta=float(settings["eta"]), **options,
            )  # fmt: skip
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"incomplete CPPN encoding settings: {error}") from None

    def __getstate__(self) -> dict[str, Any]:
        # The compiled kernels (a ctypes library) and a compiled renderer do not pickle:
        # keep what defines the encoding, and build them again on unpickling.
        return {"settings": self.settings(), "device": str(self.device), **self._options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        rebuilt = self.from_settings(
            state["settings"], state["device"], native=state["native"],
            compile_on_gpu=state["compile_on_gpu"],
        )  # fmt: skip
        self.__dict__.update(rebuilt.__dict__)

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
        """One offspring per parent; `generation` is unused (the rates are constant).

        Every offspring draws one fixed block of uniform numbers (`draws_per_genome`):
        for its weights, its activation functions, then per structural operator
        whether it happens and its random picks. Each step runs on the whole
        population under a mask: no data-dependent shapes, so no host
        synchronisation on a GPU. The C kernels read the same draws the same way.
        """
        g = {
            key: value.clone(memory_format=torch.contiguous_format)
            for key, value in parents.items()
        }
        n = self.num_nodes
        draws = torch.rand(
            len(g["alive"]), draws_per_genome(n), generator=generator, device=self.device
        )
        if self.native is not None:
            self.native.mutate(g, draws)
            return g
        weights, activations, structure = draws.split([n * n, n, STRUCTURE_DRAWS], dim=1)
        self._mutate_weights(g, weights)
        self._mutate_activations(g, activations)
        self._change_connection(g, structure[:, 0:4])
        self._add_connection(g, structure[:, 4:7])
        self._delete_connection(g, structure[:, 7:9])
        self._add_node(g, structure[:, 9:13])
        self._delete_node(g, structure[:, 13:15])
        return g

    def _mutate_weights(self, g: Genomes, u: torch.Tensor) -> None:
        """Polynomial mutation of each connection's weight with probability `weight_rate`.

        One draw per weight: below the rate r it mutates, and then u / r, uniform on
        [0, 1) again, draws the step.
        """
        weight, bound, rate = g["weight"], self.weight_range, self.rates["weight"]
        u = u.view_as(weight)
        delta = polynomial_delta(u / min(rate, 1.0), self.eta)
        moved = delta.mul_(2 * bound).add_(weight).clamp_(-bound, bound)
        g["weight"] = torch.where((u < rate) & g["enabled"], moved, weight)

    def _mutate_activations(self, g: Genomes, u: torch.Tensor) -> None:
        """A new activation function for each hidden or output node with `activation_rate`."""
        rate = self.rates["activation"]
        slots = torch.arange(self.num_nodes, device=self.device)
        happens = (u < rate) & g["alive"] & (slots >= NUM_INPUTS)
        kind = (u / min(rate, 1.0) * len(ACTIVATIONS)).long().clamp_(max=len(ACTIVATIONS) - 1)
        g["activation"] = torch.where(happens, kind, g["activation"])

    def _change_connection(self, g: Genomes, u: torch.Tensor) -> None:
        """Move the source or the target of one existing connection, keeping its weight."""
        enabled, weight = g["enabled"], g["weight"]
        rows = torch.arange(len(u), device=self.device)
        edge, has_edge = _pick(enabled.flatten(1), u[:, 1])
        target, source = edge // self.num_nodes, edge % self.num_nodes
        free = self._allowed_connections(g) & ~enabled
        move_source = u[:, 2] < 0.5
        candidates = torch.where(move_source[:, None], free[rows, target], free[rows, :, source])
        other, has_other = _pick(candidates, u[:, 3])
        happens = (u[:, 0] < self.rates["change_connection"]) & has_edge & has_other
        new_target = torch.where(move_source, target, other)
        new_source = torch.where(move_source, other, source)
        moved = weight[rows, target, source]
        enabled[rows, target, source] &= ~happens
        enabled[rows, new_target, new_source] |= happens
        kept = weight[rows, new_target, new_source]
        weight[rows, new_target, new_source] = torch.where(happens, moved, kept)

    def _add_connection(self, g: Genomes, u: torch.Tensor) -> None:
        enabled, weight = g["enabled"], g["weight"]
        rows = torch.arange(len(u), device=self.device)
        free = self._allowed_connections(g) & ~enabled
        edge, has_edge = _pick(free.flatten(1), u[:, 1])
        target, source = edge // self.num_nodes, edge % self.num_nodes
        happens = (u[:, 0] < self.rates["add_connection"]) & has_edge
        enabled[rows, target, source] |= happens
        new = (u[:, 2] * 2 - 1) * self.weight_range
        weight[rows, target, source] = torch.where(happens, new, weight[rows, target, source])

    def _delete_connection(self, g: Genomes, u: torch.Tensor) -> None:
        enabled = g["enabled"]
        rows = torch.arange(len(u), device=self.device)
        edge, has_edge = _pick(enabled.flatten(1), u[:, 1])
        target, source = edge // self.num_nodes, edge % self.num_nodes
        happens = (u[:, 0] < self.rates["delete_connection"]) & has_edge
        enabled[rows, target, source] &= ~happens

    def _add_node(self, g: Genomes, u: torch.Tensor) -> None:
        """Split a connection a -> b into a -> new (weight 1) and new -> b (the old weight)."""
        enabled, weight, alive, order = g["enabled"], g["weight"], g["alive"], g["order"]
        rows = torch.arange(len(u), device=self.device)
        slot, has_slot = _pick(~alive[:, self.hidden], u[:, 1])
        edge, has_edge = _pick(enabled.flatten(1), u[:, 2])
        target, source = edge // self.num_nodes, edge % self.num_nodes
        happens = (u[:, 0] < self.rates["add_node"]) & has_slot & has_edge
        node = slot + NUM_INPUTS
        midpoint = (order[rows, source] + order[rows, target]) / 2
        order[rows, node] = torch.where(happens, midpoint, order[rows, node])
        alive[rows, node] |= happens
        kind = (u[:, 3] * len(ACTIVATIONS)).long().clamp_(max=len(ACTIVATIONS) - 1)
        g["activation"][rows, node] = torch.where(happens, kind, g["activation"][rows, node])
        enabled[rows, target, source] &= ~happens
        enabled[rows, node, source] |= happens
        enabled[rows, target, node] |= happens
        old = weight[rows, target, source]
        weight[rows, target, node] = torch.where(happens, old, weight[rows, target, node])
        one = torch.ones_like(old)
        weight[rows, node, source] = torch.where(happens, one, weight[rows, node, source])

    def _delete_node(self, g: Genomes, u: torch.Tensor) -> None:
        """Remove one hidden node and every connection into or out of it."""
        enabled, alive = g["enabled"], g["alive"]
        rows = torch.arange(len(u), device=self.device)
        slot, has_node = _pick(alive[:, self.hidden], u[:, 1])
        happens = (u[:, 0] < self.rates["delete_node"]) & has_node
        node = slot + NUM_INPUTS
        alive[rows, node] &= ~happens
        enabled[rows, node, :] &= ~happens[:, None]
        enabled[rows, :, node] &= ~happens[:, None]

    def _allowed_connections(self, g: Genomes) -> torch.Tensor:
        """`[P, N, N]` (to, from) pairs that keep each network feed-forward."""
        alive, order = g["alive"], g["order"]
        slots = torch.arange(self.num_nodes, device=self.device)
        can_send = alive & (slots < self.output_slots[0])
        can_receive = alive & (slots >= NUM_INPUTS)
        forward = order[:, None, :] < order[:, :, None]
        return forward & can_receive[:, :, None] & can_send[:, None, :]

    # --------------------------------------------------------------- rendering
    def render(self, genomes: Genomes, *, levels: bool = False) -> torch.Tensor:
        """Images `[P, C, H, W]` in `[0, 1]`; an output value v becomes (clip(v, -1, 1) + 1) / 2.

        On the CPU by the C kernels (else `render_outputs`); on a GPU by
        `render_dense`, compiled into one fused kernel. Three outputs are H, S, V.
        `levels` rounds to the 256 levels of a PNG, as `records.quantize` does.
        """
        if self._render_on_gpu is not None:
            return self._render_on_gpu(genomes, self.inputs, self.image_shape, levels)
        if self.native is not None:
            images = self.native.render(genomes, self.inputs, self.inputs.shape[1], levels=levels)
            return images.view(-1, *self.image_shape)
        values = render_outputs(genomes, self.inputs, self.output_slots)
        return _to_images(values, self.image_shape, levels)

    def render_differentiable(self, genomes: Genomes) -> torch.Tensor:
        """`render`'s images, not rounded, with gradients back to `genomes["weight"]`.

        The network's shape (connections, activation functions, node order) is
        fixed; only the weights (biases included) carry gradients. Slower than
        `render`: it is for refining weights by gradient (`fooling.search.refine`).
        """
        values = render_dense(genomes, self.inputs, self.image_shape[0])
        images = values.view(-1, *self.image_shape)
        return hsv_to_rgb_differentiable(images) if self.image_shape[0] == 3 else images

    def check(self, genomes: Genomes) -> None:
        check_values("weight", genomes["weight"], -self.weight_range, self.weight_range)
        check_values("activation", genomes["activation"], 0, len(ACTIVATIONS) - 1)
        check_values("order", genomes["order"], 0.0, 1.0)

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


def _to_images(
    values: torch.Tensor, image_shape: tuple[int, int, int], levels: bool
) -> torch.Tensor:
    """Output values `[P, C, pixels]` as images; three outputs are H, S, V."""
    images = values.view(-1, *image_shape)
    if image_shape[0] == 3:
        return hsv_to_rgb(images, levels=levels)
    return quantize_(images) if levels else images


def _dense_images(
    genomes: Genomes, inputs: torch.Tensor, image_shape: tuple[int, int, int], levels: bool
) -> torch.Tensor:
    return _to_images(render_dense(genomes, inputs, image_shape[0]), image_shape, levels)


def _pick(mask: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of `mask [R, M]`: its `floor(u * count)`-th True column, and whether it has one.

    `u [R]` holds uniform draws in [0, 1); a row without a True column gets a
    valid but meaningless column.
    """
    running = mask.cumsum(dim=1)
    counts = running[:, -1]
    nth = (u * counts).long()
    column = torch.searchsorted(running, nth.add_(1).unsqueeze(1)).squeeze(1)
    return column.clamp_(max=mask.shape[1] - 1), counts > 0
