"""Does evolution still fool the retrained LeNets if it searches longer? (issue 23)

    python benchmarks/retrained_evolution.py [--networks retrain:0 retrain:6 retrain:11
        retrain-far:6 retrain-far:13] [--report ~/campaign/mnist] [--generations 10000]

The paper retrained the MNIST LeNet for 15 iterations, a class of fooling images added
each time, and "evolution still found 99.99% images every time". In our campaign the
search each iteration runs after training (MAP-Elites on the ten digits, 200 generations
of 200 images as in the paper's MNIST runs, once per encoding) stops reaching 99% on any
digit from the sixth iteration of the paper's gathering scheme on. Whether that is the
network or the budget is measured here: the same search, with the same seed the
retraining gave it, continued to `--generations` against the networks a retraining run saved
(`iterations/NN/weights.safetensors` of a `fooling reproduce mnist` report; `retrain:0`
is the LeNet it started from). For each network and encoding: the digits at >= 99% and
>= 99.99% at generation 200 (the campaign's budget) and at the end, the first
generation with every digit at >= 99% and at >= 99.99% (None: not reached), and how
many of the digits at >= 99% have an elite far from every real digit (the retraining's
`NearReal` measure), both encodings taken together as the retraining counts them; and
each encoding's mean distance from its elites to their nearest real digit (`NearReal`'s
distance; an image within its `near_real_cutoff` is near one). The elites at the end
are saved as one sheet, a row per network and encoding.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _machine import RESULTS, machine, save

from fooling.classifiers import load_classifier
from fooling.encodings import make_encoding
from fooling.experiments.near_real import NearReal
from fooling.experiments.retrain import fooled_far_from_real
from fooling.experiments.retrain_networks import LeNetsOnMnist
from fooling.search.evolution import Evolution
from fooling.user_files import read_weights

NETWORKS = ["retrain:0", "retrain:6", "retrain:11", "retrain-far:6", "retrain-far:13"]
CAMPAIGN_BUDGET = 200  # the generations a retraining iteration's search runs
ENCODINGS = ("direct", "cppn")
FOOLED, PAPER = 0.99, 0.9999


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=Path.home() / "campaign" / "mnist")
    parser.add_argument("--networks", nargs="+", default=NETWORKS, type=network_name,
                        help="STEP:ITERATION of the report's retraining runs")  # fmt: skip
    parser.add_argument("--generations", type=int, default=10_000)
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--name", default="retrained_evolution_cpu")
    args = parser.parse_args()
    for step, number in args.networks:  # all checked before hours of search
        weights = "summary.json" if number == 0 else f"iterations/{number:02d}/weights.safetensors"
        if not (args.report / "runs" / step / weights).is_file():
            parser.error(f"{args.report / 'runs' / step / weights} not found")
    first = load_classifier("lenet-mnist", "cpu")
    networks = LeNetsOnMnist(first, None)
    near_real = NearReal.calibrate(networks.train_images, networks.test_images)
    figures = {"benchmark": "retrained_evolution", **machine(torch.device("cpu")),
               "report": str(args.report), "generations": args.generations,
               "population": args.population, "campaign_generations": CAMPAIGN_BUDGET,
               "near_real_cutoff": round(near_real.cutoff, 2),
               "paper": "evolution still found 99.99% images at every one of 15 iterations",
               "networks": []}  # fmt: skip
    rows = []
    for step, number in args.networks:
        found, elites = search(step, number, networks, near_real, args)
        figures["networks"].append(found)
        rows += elites
        save(args.name, figures)  # each network's figures are kept, even if a later one fails
    sheet = RESULTS / f"{args.name}.png"
    sheet_of(rows).save(sheet, optimize=True)
    print(f"elites, a row per network and encoding in the order above: {sheet}")


def network_name(text: str) -> tuple[str, int]:
    """`STEP:ITERATION` (`retrain:6`) as a step name and an iteration number."""
    step, _, number = text.partition(":")
    if not step or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not STEP:ITERATION (retrain:6)")
    return step, int(number)


def search(step: str, number: int, networks: LeNetsOnMnist, near_real: NearReal,
           args: argparse.Namespace) -> tuple[dict, list[torch.Tensor]]:  # fmt: skip
    """The retraining's own search against network `number` of run `step`, run longer:
    its figures, and its elites (`uint8 [10, 1, 28, 28]`, one per encoding)."""
    run = args.report / "runs" / step
    summary = json.loads((run / "summary.json").read_text())
    row = summary["iterations"][number]
    seed = summary["settings"]["seed"] + number  # as the retraining seeded it
    searched = (summary["settings"]["generations"], summary["settings"]["population"])
    if searched != (CAMPAIGN_BUDGET, args.population):
        sys.exit(f"{run} searched {searched[0]} generations of {searched[1]}, not "
                 f"{CAMPAIGN_BUDGET} of {args.population}: this compares with those")  # fmt: skip
    if number == 0:
        classifier, weights = networks.first, None
    else:
        path = run / "iterations" / f"{number:02d}" / "weights.safetensors"
        weights = hashlib.sha256(path.read_bytes()).hexdigest()
        classifier = networks.classifier(networks.load(read_weights(path)), number)
    results, encodings = [], {}
    for name in ENCODINGS:
        encoding = make_encoding(name, classifier.input_shape, classifier.device)
        evolution = Evolution(classifier, encoding, population=args.population, seed=seed,
                              classes=networks.classes)  # fmt: skip
        started = time.perf_counter()
        result = evolution.run(args.generations, progress=False)
        history = result.history
        at_budget = history[min(CAMPAIGN_BUDGET, len(history) - 1)]
        encodings[name] = {
            f"fooled_at_{FOOLED}_at_{CAMPAIGN_BUDGET}": at_budget.fooled,
            f"median_at_{CAMPAIGN_BUDGET}": round(at_budget.median_confidence, 4),
            f"fooled_at_{FOOLED}": result.fooled(),
            f"fooled_at_{PAPER}": int((result.confidences >= PAPER).sum()),
            "median": round(result.median_confidence, 4),
            f"all_at_{FOOLED}": next((r.generation for r in history if r.fooled == 10), None),
            f"all_at_{PAPER}": next(
                (r.generation for r in history if r.lowest_confidence >= PAPER), None
            ),
            "nearest_real_distance": round(float(near_real.distances(result.images).mean()), 2),
            "seconds": round(time.perf_counter() - started, 1),
        }
        results.append(result)
    best = torch.stack([result.confidences for result in results]).amax(dim=0)
    figures = {
        "network": f"{step}:{number}", "weights_sha256": weights, "seed": seed,
        "test_accuracy": row["test_accuracy"],
        "campaign": {f"fooled_at_{FOOLED}": row[f"fooled_at_{FOOLED}"],
                     f"fooled_at_{FOOLED}_far_from_real": row[f"fooled_at_{FOOLED}_far_from_real"]},
        f"fooled_at_{FOOLED}": int((best >= FOOLED).sum()),
        f"fooled_at_{PAPER}": int((best >= PAPER).sum()),
        f"fooled_at_{FOOLED}_far_from_real": fooled_far_from_real(results, near_real),
        "encodings": encodings,
    }  # fmt: skip
    print(f"{step}:{number}: at generation {args.generations} {figures[f'fooled_at_{FOOLED}']} "
          f"digits at >= 99% ({figures[f'fooled_at_{FOOLED}_far_from_real']} far from real), "
          f"{figures[f'fooled_at_{PAPER}']} at >= 99.99%; at {CAMPAIGN_BUDGET}: "
          + ", ".join(f"{e} {v[f'fooled_at_{FOOLED}_at_{CAMPAIGN_BUDGET}']}"
                      for e, v in encodings.items())
          + f" (the campaign's row: {row[f'fooled_at_{FOOLED}']})", flush=True)  # fmt: skip
    return figures, [result.images for result in results]


def sheet_of(rows: list[torch.Tensor]) -> Image.Image:
    """Rows of ten digits' elites, each shown at twice its size, on one grey-bordered sheet."""
    scale, gap = 2, 2
    size = 28 * scale + gap
    canvas = torch.full((len(rows) * size + gap, 10 * size + gap), 128, dtype=torch.uint8)
    for row, images in enumerate(rows):
        for column, image in enumerate(images):
            big = image[0].repeat_interleave(scale, 0).repeat_interleave(scale, 1)
            top, left = row * size + gap, column * size + gap
            canvas[top : top + 28 * scale, left : left + 28 * scale] = big
    return Image.fromarray(canvas.numpy())


if __name__ == "__main__":
    main()
