"""How to gather fooling images against a retrained network: images per second, and the recall
a network trained on them reaches on images gathered the paper setting's way.

Against network N of a `fooling retrain` run (MNIST), each scheme gathers the same number
of fooling images as the run did. A LeNet is then trained as the run trains network N+1: the
real digits plus the run's fooling images of iterations 1..N plus the scheme's. Its recall is
measured on the run's own held-out images of iteration N+1 (gathered the baseline way, from
other seeds), and its test accuracy on the real test digits. The baseline scheme is the run's
own (`RetrainSettings` defaults); its images/second is measured here, in the same process,
on a part of the count.

    python benchmarks/gather_schemes.py runs/retrain15 --network 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from _machine import machine, save

from fooling.classifiers import load_classifier
from fooling.experiments.gather import gather
from fooling.experiments.retrain import IMAGES_FORMAT, RetrainSettings
from fooling.experiments.retrain_networks import LeNetsOnMnist
from fooling.runs.state import load_state
from fooling.user_files import read_weights

BASELINE = RetrainSettings()
SCHEMES = {  # name: (generations, snapshots)
    "baseline": (BASELINE.gather_generations, 4),
    "30 generations, read 4 times (the earlier setting)": (30, 4),
    "200 generations, read 20 times": (200, 20),
    "1000 generations, read 20 times": (1000, 20),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a `fooling retrain` run on MNIST")
    parser.add_argument("--network", type=int, default=3, help="gather against this network")
    parser.add_argument(
        "--baseline-share",
        type=float,
        default=0.1,
        help="share of the count the baseline gathers to measure its speed",
    )
    args = parser.parse_args()
    first = load_classifier("lenet-mnist", "cpu")
    networks = LeNetsOnMnist(first, None)
    folder = args.run / "iterations"
    weights = read_weights(folder / f"{args.network:02d}" / "weights.safetensors")
    target = networks.classifier(networks.load(weights), args.network)
    earlier = [
        load_state(folder / f"{k:02d}" / "fooling.safetensors", kind=IMAGES_FORMAT)
        for k in range(1, args.network + 2)
    ]
    previous = torch.cat([state["trained"] for state in earlier[:-1]])
    run_images, held_out = earlier[-1]["trained"], earlier[-1]["held_out"]
    count = len(run_images)
    rows = []
    for name, (generations, snapshots) in SCHEMES.items():
        wanted = max(1, round(count * args.baseline_share)) if name == "baseline" else count
        started = time.perf_counter()
        found = gather(
            target,
            wanted,
            classes=networks.classes,
            generations=generations,
            population=BASELINE.gather_population,
            snapshots=snapshots,
            seed=10**6,
            progress=False,
        )
        seconds = time.perf_counter() - started
        images = run_images if name == "baseline" else found.images
        trained = networks.train(
            args.network + 1,
            torch.cat([previous, images]),
            epochs=BASELINE.epochs,
            max_steps=None,
            seed=args.network + 1,
            progress=False,
        )
        classifier = networks.classifier(trained, args.network + 1)
        predicted = classifier.exact_probabilities(held_out.float() / 255).argmax(dim=1)
        recall = float((predicted == len(networks.classes)).float().mean())
        test = classifier.exact_probabilities(networks.test_images).argmax(dim=1)
        accuracy = float((test == networks.test_labels).float().mean())
        row = {
            "scheme": name,
            "generations": generations,
            "snapshots": snapshots,
            "images": wanted,
            "searches": found.searches,
            "seconds": round(seconds, 1),
            "images_per_second": round(wanted / seconds, 2),
            "trained_on": "the run's own images" if name == "baseline" else "these",
            "fooling_recall": recall,
            "test_accuracy": accuracy,
        }
        rows.append(row)
        print(row, flush=True)
    base = rows[0]["images_per_second"]
    for row in rows:
        row["speed_vs_baseline"] = round(row["images_per_second"] / base, 2)
    figures = {
        **machine(torch.device("cpu")),
        "run": str(args.run),
        "network": args.network,
        "count": count,
        "held_out": len(held_out),
        "rows": rows,
    }
    save("gather_schemes_cpu", figures)


if __name__ == "__main__":
    main()
