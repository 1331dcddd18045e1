"""Ascent with image priors: which images carry their class to other networks? (issue 14)

    python benchmarks/ascent_priors.py [--steps 200] [--methods pixel fft fft+t cppn+t]
        [--classes 50]

Against EfficientNet-Lite0 on the CPU, on 50 fixed ImageNet classes (every 20th: 0,
20, ..., 980), each method climbs to >= 0.99; then `fooling.experiments.transfer`
scores the images with EfficientNet-Lite1 and Lite2. Printed and saved per method:
the classes reached, the steps taken, the seconds, and the share of the 50 images
whose class Lite1 and Lite2 also give as top-1 (the measure of "recognisable": real
features fool other networks too). Methods: `pixel` (raw pixels), `fft` (the Fourier
parameterisation), `cppn` (a fixed random CPPN's weights); `+t` adds the random
transforms (jitter 8, scale 0.9-1.1, rotation 10 degrees) before each step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

import fooling
from fooling.experiments.transfer import transfer
from fooling.search.ascent import ascend
from fooling.search.priors import Transforms

TRANSFORMS = Transforms.default("fft", 224)  # ascend's default: jitter 8, scale 0.9-1.1, 10 degrees


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--methods", nargs="+", default=["pixel", "fft", "fft+t", "cppn+t"])
    parser.add_argument("--name", default="ascent_priors_cpu")
    args = parser.parse_args()
    classes = list(range(0, 1000, 1000 // args.classes))[: args.classes]
    classifier = fooling.load_classifier("efficientnet-lite0", "cpu")
    figures = {"benchmark": "ascent_priors", **machine(classifier.device), "classes": classes,
               "steps": args.steps, "transforms": vars(TRANSFORMS), "methods": {}}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for method in args.methods:
            param, _, transformed = method.partition("+")
            out = Path(folder) / method
            started = time.perf_counter()
            result = ascend(
                classifier, steps=args.steps, classes=classes, param=param,
                threshold=0.99, progress=False,
                transforms=TRANSFORMS if transformed else Transforms(), out=out,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            moved = transfer(out, ["efficientnet-lite1", "efficientnet-lite2"], progress=False)
            shares = {pair.target: pair.figures()["same_top1"] for pair in moved.pairs}
            figures["methods"][method] = {
                "reached_0.99": result.fooled(0.99), "median": result.median_confidence,
                "steps": result.generations, "forwards": result.evaluations,
                "seconds": round(seconds, 1), "same_top1": shares,
            }  # fmt: skip
            print(f"{method}: {result.fooled(0.99)}/{len(classes)} at >= 0.99 in "
                  f"{result.generations} steps, {seconds:.0f} s; same top-1 on "
                  + ", ".join(f"{target} {share:.0%}" for target, share in shares.items()),
                  flush=True)  # fmt: skip
    save(args.name, figures)


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
