"""Plain CPPN evolution against the hybrid (evolve the shape, climb the weights) (issue 14).

    python benchmarks/hybrid_cppn.py [--budget 150000] [--population 100]
        [--refine-steps 50] [--refine-every 650] [--learning-rate 0.03] [--seed 0]

EfficientNet-Lite0 on the CPU, 50 fixed ImageNet classes (every 20th: 0, 20, ..., 980),
CPPN encoding. Both methods get the same compute, counted in forward-equivalents: an
image scored is one, a refinement step on one genome is three (its forward pass and
its backward pass, counted as two). Each runs generation by generation until its
forward-equivalents reach the budget. The hybrid's default schedule refines at the
middle of the budget and near its end (generations 650 and 1300 of about 1360), as
`evolve` does by default. Printed and saved: the median confidence and the
classes at >= 0.99 (fp32), the forward and backward passes, and the wall time (a
backward pass runs on torch, while scoring runs on OpenVINO, so the hybrid's seconds
per forward-equivalent are higher). The hybrid's 10 most confident elites are saved as
a PNG strip, to see that they are still CPPN images.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

import fooling
from fooling.encodings import make_encoding
from fooling.search.evolution import Evolution
from fooling.search.refine import Refinement

CLASSES = list(range(0, 1000, 20))
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=150_000, help="forward-equivalents")
    parser.add_argument("--population", type=int, default=100)
    parser.add_argument("--refine-steps", type=int, default=50)
    parser.add_argument("--refine-every", type=int, default=650)
    parser.add_argument("--learning-rate", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="hybrid_cppn_cpu")
    args = parser.parse_args()
    classifier = fooling.load_classifier("efficientnet-lite0", "cpu")
    refinement = Refinement(steps=args.refine_steps, every=args.refine_every,
                            learning_rate=args.learning_rate)  # fmt: skip
    figures = {"benchmark": "hybrid_cppn", **machine(classifier.device), "classes": CLASSES,
               "budget_forward_equivalents": args.budget, "population": args.population,
               "seed": args.seed, "refinement": vars(args) | {"name": None}}  # fmt: skip
    for method, settings in (("plain", None), ("hybrid", refinement)):
        encoding = make_encoding("cppn", classifier.input_shape)
        run = Evolution(classifier, encoding, population=args.population, seed=args.seed,
                        classes=CLASSES, refinement=settings)  # fmt: skip
        started = time.perf_counter()
        while run.evaluations + 3 * run.refined < args.budget:
            run.step()
        result = run.result()
        seconds = time.perf_counter() - started
        figures[method] = {
            "generations": result.generations, "evaluations": result.evaluations,
            "refined_genome_steps": result.refined,
            "forward_equivalents": result.evaluations + 3 * result.refined,
            "median": result.median_confidence, "fooled_at_0.99": result.fooled(),
            "seconds": round(seconds, 1),
        }  # fmt: skip
        print(f"{method}: median {result.median_confidence:.4f}, {result.fooled()} of "
              f"{len(CLASSES)} at >= 0.99, {result.generations} generations, "
              f"{result.evaluations} evaluations + {result.refined} refinement steps, "
              f"{seconds:.0f} s", flush=True)  # fmt: skip
        if method == "hybrid":
            strip(result, RESULTS / f"{args.name}_strip.png")
    save(args.name, figures)


def strip(result, path: Path) -> None:
    """The 10 most confident elites side by side, each 112 pixels wide."""
    from PIL import Image

    best = result.confidences.argsort(descending=True)[:10]
    images = torch.nn.functional.interpolate(result.images[best].float(), size=112)
    row = torch.cat(list(images), dim=2).to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(row).save(path)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
