"""Gradients for the images only: PGD on LeNet and CPPN refinement on EfficientNet-Lite0.

    python benchmarks/gradient_weights.py [--repeats 3]

An attack and a refinement need the gradient of the classifier's score with respect to
the images (or the CPPN weights that draw them), never with respect to the classifier's
own weights. Both used to call `backward()`, which computes those too. In this process,
on one thread, the faster of `--repeats` runs each:

- PGD (`fooling.adversarial.attack`, 100 steps) on 100 real test digits, with LeNet's
  weights frozen during the attack (now) and not (before);
- 5 refinement steps (`refine_weights`) of 8 CPPN genomes against EfficientNet-Lite0
  (torch, fp32), with `torch.autograd.grad` on the genomes' weights (now) and with
  `backward()` (before, `_refine_with_backward` below).

Each ratio is before's seconds over now's (> 1: now is faster); both give the same
images (PGD: equal; refinement: the largest difference in the refined weights).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import fastest, machine, save

import fooling.adversarial.attacks as attacks
import fooling.search.refine as refine
from fooling.classifiers import load_classifier
from fooling.data.mnist import load_mnist
from fooling.encodings.cppn import CPPNEncoding
from fooling.search.ascent import log_odds


def _refine_with_backward(encoding, classifier, genomes, classes, steps, learning_rate):
    """`refine._refine_chunk` as it was: `backward()` also filled every weight's gradient."""
    weight = genomes["weight"].detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([weight], lr=learning_rate)
    best = weight.detach().clone()
    best_score = torch.full(classes.shape, -float("inf"))
    best_step = torch.zeros(classes.shape, dtype=torch.long)
    with torch.enable_grad():
        for step in range(steps):
            images = encoding.render_differentiable({**genomes, "weight": weight})
            scores = log_odds(classifier.log_probabilities(images), classes)
            with torch.no_grad():
                better = scores > best_score
                best_score = torch.where(better, scores, best_score)
                best_step[better] = step
                best[better] = weight[better]
            optimizer.zero_grad(set_to_none=True)
            (-scores.sum()).backward()
            optimizer.step()
            with torch.no_grad():
                weight.clamp_(-encoding.weight_range, encoding.weight_range)
    last = (best_step == 0) | (best_step == steps - 1)
    best[last] = weight.detach()[last]
    return best


def pgd(repeats: int) -> dict:
    lenet = load_classifier("lenet-mnist", "cpu")
    images, labels = (part[:100] for part in load_mnist("test"))

    def run():
        return attacks.attack(lenet, images, labels, method="pgd", eps=0.1, steps=100).adversarials

    now, found = fastest(run, repeats)
    with mock.patch.object(attacks, "_weights_frozen", lambda model: contextlib.nullcontext()):
        before, expected = fastest(run, repeats)
    return {"images": 100, "steps": 100, "seconds_now": round(now, 3),
            "seconds_before": round(before, 3), "ratio_before_over_now": round(before / now, 3),
            "same_images": bool(torch.equal(found, expected))}  # fmt: skip


def refinement(repeats: int) -> dict:
    lite0 = load_classifier("efficientnet-lite0", "cpu", backend="torch", precision="fp32")
    encoding = CPPNEncoding((3, 224, 224))
    generator = torch.Generator().manual_seed(0)
    genomes = encoding.random(8, generator)
    for generation in range(1, 20):
        genomes = encoding.mutate(genomes, generation, generator)
    classes = torch.arange(8) * 100

    def run():
        return refine.refine_weights(encoding, lite0, genomes, classes, steps=5)["weight"]

    now, found = fastest(run, repeats)
    with mock.patch.object(refine, "_refine_chunk", _refine_with_backward):
        before, expected = fastest(run, repeats)
    return {"genomes": 8, "steps": 5, "seconds_now": round(now, 3),
            "seconds_before": round(before, 3), "ratio_before_over_now": round(before / now, 3),
            "largest_difference": float((found - expected).abs().max())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {
        "pgd_lenet": pgd(args.repeats),
        "refine_efficientnet_lite0": refinement(args.repeats),
    }
    for name, figures in results.items():
        print(f"{name}: now {figures['seconds_now']:.3f} s, before {figures['seconds_before']:.3f}"
              f" s: {figures['ratio_before_over_now']:.2f}x")  # fmt: skip
    save("gradient_weights_cpu", {
        "benchmark": "gradient_weights",
        **machine(torch.device("cpu")),
        "threads": 1,
        **results,
    })  # fmt: skip


if __name__ == "__main__":
    main()
