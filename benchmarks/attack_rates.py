"""Untargeted attacks on 1000 real MNIST test digits against the shipped LeNet.

    python benchmarks/attack_rates.py [--count 1000]

Goal (issue 4): success rates at L-infinity eps = 0.1 reported, PGD >= 90%. Also
measured: PGD at larger eps, and Carlini-Wagner within L2 <= 2, so that the
figure at 0.1 can be read against how far this LeNet's boundaries lie.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling.adversarial import attack
from fooling.classifiers import load_classifier
from fooling.data.mnist import load_mnist

RUNS = [("fgsm", 0.1), ("pgd", 0.1), ("pgd", 0.15), ("pgd", 0.2), ("pgd", 0.3), ("cw", 2.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100, help="for PGD and CW")
    args = parser.parse_args()
    classifier = load_classifier("lenet-mnist", "cpu")
    images, labels = load_mnist("test")
    images, labels = images[: args.count].view(-1, 1, 28, 28), labels[: args.count]
    figures = {"benchmark": "attack_rates", **machine(classifier.device)}
    figures.update(images=args.count, steps=args.steps, pgd_goal_at_0_1=0.9, runs=[])
    for method, eps in RUNS:
        started = time.perf_counter()
        result = attack(classifier, images, labels, method=method, eps=eps, steps=args.steps)
        seconds = time.perf_counter() - started
        row = {
            "attack": method,
            "eps": eps,
            "norm": "L2" if method == "cw" else "Linf",
            "success_rate": round(result.success_rate, 4),
            "mean_linf": round(result.linf.mean().item(), 4),
            "mean_l2": round(result.l2.mean().item(), 3),
            "seconds": round(seconds, 1),
        }
        figures["runs"].append(row)
        print(", ".join(f"{key} {value}" for key, value in row.items()))
    pgd = next(row for row in figures["runs"] if row["attack"] == "pgd" and row["eps"] == 0.1)
    figures["pgd_meets_goal_at_0_1"] = pgd["success_rate"] >= 0.9
    save("attack_rates_cpu", figures)


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
