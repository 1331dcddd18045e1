"""Deb's polynomial mutation, batched."""

from __future__ import annotations

import math

import torch


def polynomial_mutation(
    values: torch.Tensor,
    *,
    rate: float,
    eta: float,
    low: float,
    high: float,
    generator: torch.Generator,
    wait_free: bool | None = None,
) -> torch.Tensor:
    """Mutate each value with probability `rate` by Deb's polynomial mutation.

    As in Sferes (`evo_float`), the one used by the paper: a value `x` in
    `[low, high]` moves by `delta * (high - low)` where, for `u ~ U(0, 1)`,
    `delta = (2u)^(1/(eta+1)) - 1` if `u < 0.5` else `1 - (2(1-u))^(1/(eta+1))`,
    and the result is clipped back into the bounds.

    Args:
        values: any float tensor with values in `[low, high]`.
        rate: the chance that each value is mutated.
        eta: the distribution index; larger keeps mutations smaller.
        low: lower bound of the values.
        high: upper bound of the values.
        generator: the random source (on the tensor's device).
        wait_free: draw one number per value and keep every shape fixed, so that a
            GPU never waits for the host (the default off the CPU); otherwise draw
            only the positions that mutate, which is cheaper on a CPU.

    Returns:
        A new tensor of the same shape, within the bounds.
    """
    if wait_free if wait_free is not None else values.device.type != "cpu":
        # below the rate r a draw u mutates its value, and u / r, uniform again, is its step
        uniform = torch.rand(values.shape, generator=generator, device=values.device)
        delta = polynomial_delta(uniform / min(rate, 1.0), eta)
        moved = delta.mul_(high - low).add_(values).clamp_(low, high)
        return torch.where(uniform < rate, moved, values)
    mutated = values.clone()
    flat = mutated.view(-1)
    chosen = bernoulli_positions(flat.numel(), rate, generator, values.device)
    uniform = torch.rand(chosen.shape, generator=generator, device=values.device)
    delta = polynomial_delta(uniform, eta)
    flat[chosen] = delta.mul_(high - low).add_(flat[chosen]).clamp_(low, high)
    return mutated


def polynomial_delta(uniform: torch.Tensor, eta: float) -> torch.Tensor:
    """Deb's step, as a fraction of the range, for uniform draws `u` in [0, 1) (a new tensor).

    Both branches at once: with c = u - 1/2, delta = sign(c) * (1 - (1 - 2|c|)^(1/(eta+1))).
    """
    centred = uniform - 0.5
    base = centred.abs().mul_(-2).add_(1)
    return base.pow_(1.0 / (eta + 1.0)).neg_().add_(1).mul_(centred.sign())


def bernoulli_positions(
    n: int, rate: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """The positions in `range(n)` picked when each is picked independently with `rate`.

    Exactly a Bernoulli process, drawn as geometric gaps between picks: about
    `n * rate` random numbers instead of `n`.
    """
    if rate <= 0 or n == 0:
        return torch.empty(0, dtype=torch.long, device=device)
    if rate >= 1:
        return torch.arange(n, device=device)
    mean = n * rate
    count = int(mean + 8 * math.sqrt(mean * (1 - rate)) + 16)
    # Gap to the next pick ~ Geometric(rate), by inversion: 1 + floor(log(1 - u) / log(1 - rate))
    # (the quotient is >= 0, so truncating to an integer is the floor).
    u = torch.rand(count, generator=generator, device=device)
    gaps = torch.log1p(-u).mul_(1 / math.log1p(-rate)).long().add_(1)
    positions = gaps.cumsum(0).sub_(1)
    last = int(positions[-1])
    if last < n:  # the gaps ran out before n: draw the rest (vanishingly rare)
        rest = bernoulli_positions(n - last - 1, rate, generator, device)
        return torch.cat([positions, rest + last + 1])
    return positions[: int(torch.searchsorted(positions, n))]
