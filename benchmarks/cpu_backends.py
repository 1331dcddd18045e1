"""CPU backends side by side: the forward pass, then whole evolution runs, in one process.

    python benchmarks/cpu_backends.py [--quick]

1. Forward pass, through `Classifier` (images in [0, 1] -> probabilities, as a
   search sees it): LeNet at batch 200 and EfficientNet-Lite0 at batches 50 and
   400. Every installed backend and precision is measured: images/s, its ratio
   to torch fp32, the largest difference in probability from torch fp32, and the
   top-1 agreement on the same batch.
2. End to end: `Evolution.run` evaluations/s with each backend. On Lite0 this is
   CPPN x 400 and direct x 200, the paper's ImageNet settings; on LeNet it is
   both encodings x 200. The script also projects the wall time of the paper's
   ImageNet runs here (CPPN: 5000 x 400, direct: 20,000 x 200).

Goals (issue 10, 2 cores): end-to-end ImageNet CPPN x 400 at >= 5x today's torch
fp32 evaluations/s with an exact (fp32) backend and >= 9x with bf16.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling.classifiers import backends, load_classifier
from fooling.encodings import make_encoding
from fooling.search.evolution import Evolution

VARIANTS = [("torch", "fp32"), ("torch", "bf16"), ("onnxruntime", "fp32"),
            ("openvino", "fp32"), ("openvino", "bf16")]  # fmt: skip
FORWARD = {"lenet-mnist": (200,), "efficientnet-lite0": (50, 400)}
RUNS = {  # model -> [(encoding, population)]
    "efficientnet-lite0": [("cppn", 400), ("direct", 200)],
    "lenet-mnist": [("direct", 200), ("cppn", 200)],
}
PAPER = {"cppn": 5000 * 400, "direct": 20_000 * 200}  # ImageNet evaluations in the paper
GOALS = {"fp32": 5.0, "bf16": 9.0}


def available() -> list[tuple[str, str]]:
    usable = []
    for backend, precision in VARIANTS:
        if backend != "torch" and not backends.installed(backend):
            continue
        if precision == "bf16" and backend == "openvino" and not backends.cpu_has_bf16():
            continue
        usable.append((backend, precision))
    return usable


def classifier_for(name: str, backend: str, precision: str):
    classifier = load_classifier(name, "cpu", backend=backend, precision=precision)
    assert (classifier.backend, classifier.precision) == (backend, precision), (
        f"{name} asked for {backend} {precision}, got {classifier.backend} {classifier.precision}"
    )
    return classifier


def images_per_second(classifier, images: torch.Tensor, least_seconds: float) -> float:
    classifier(images[:2])
    calls, started = 0, time.perf_counter()
    while True:
        classifier(images)
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= least_seconds:
            return calls * len(images) / elapsed


def forward_figures(variants, least_seconds: float) -> dict:
    figures = {}
    for name, batches in FORWARD.items():
        for batch in batches:
            reference = classifier_for(name, "torch", "fp32")
            generator = torch.Generator().manual_seed(0)
            images = torch.rand((batch, *reference.input_shape), generator=generator)
            expected = reference(images)
            rows = {}
            for backend, precision in variants:
                classifier = classifier_for(name, backend, precision)
                found = classifier(images)
                speed = images_per_second(classifier, images, least_seconds)
                rows[f"{backend} {precision}"] = {
                    "images_per_s": round(speed, 1),
                    "max_abs_probability_difference": float((found - expected).abs().max()),
                    "top1_agreement": float((found.argmax(1) == expected.argmax(1)).float().mean()),
                }
            base = rows["torch fp32"]["images_per_s"]
            for row in rows.values():
                row["vs_torch_fp32"] = round(row["images_per_s"] / base, 2)
            figures[f"{name} batch {batch}"] = rows
            for label, row in rows.items():
                print(f"forward {name:>18} batch {batch:>3}  {label:<17} "
                      f"{row['images_per_s']:>9,.1f} img/s  {row['vs_torch_fp32']:>5.2f}x  "
                      f"max diff {row['max_abs_probability_difference']:.1e}  "
                      f"top-1 {row['top1_agreement']:.2f}")  # fmt: skip
    return figures


def evaluations_per_second(classifier, encoding: str, population: int, generations: int) -> float:
    evolution = Evolution(
        classifier, make_encoding(encoding, classifier.input_shape), population=population, seed=0
    )
    evolution.run(1, progress=False)  # warm up (generation 0 and 1)
    started = time.perf_counter()
    for _ in range(generations):  # the loop itself, not the re-scoring that ends a run
        evolution.step()
        evolution.progress()
    return generations * population / (time.perf_counter() - started)


def end_to_end_figures(variants, quick: bool) -> dict:
    figures = {}
    for name, runs in RUNS.items():
        for encoding, population in runs:
            rows = {}
            for backend, precision in variants:
                if name == "lenet-mnist":
                    generations = 30 if quick else 200
                else:  # torch fp32 takes ~10 s a generation here
                    generations = 1 if backend == "torch" else (2 if quick else 4)
                classifier = classifier_for(name, backend, precision)
                rate = evaluations_per_second(classifier, encoding, population, generations)
                rows[f"{backend} {precision}"] = {
                    "evaluations_per_s": round(rate, 1), "timed_generations": generations,
                }  # fmt: skip
            base = rows["torch fp32"]["evaluations_per_s"]
            for row in rows.values():
                row["vs_torch_fp32"] = round(row["evaluations_per_s"] / base, 2)
                if name != "lenet-mnist":
                    hours = PAPER[encoding] / row["evaluations_per_s"] / 3600
                    row["paper_run_projected_hours"] = round(hours, 2)
            figures[f"{name} {encoding} x {population}"] = rows
            for label, row in rows.items():
                projected = row.get("paper_run_projected_hours")
                paper = f"  paper's run: {projected:.1f} h" if projected else ""
                print(f"evolve {name:>18} {encoding:>6} x {population}  {label:<17} "
                      f"{row['evaluations_per_s']:>9,.1f} eval/s  "
                      f"{row['vs_torch_fp32']:>5.2f}x{paper}")  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer generations (a smoke run)")
    args = parser.parse_args()
    torch.manual_seed(0)
    variants = available()
    figures = {"benchmark": "cpu_backends", **machine(torch.device("cpu"))}
    figures["variants"] = [f"{backend} {precision}" for backend, precision in variants]
    figures["forward"] = forward_figures(variants, least_seconds=0.5 if args.quick else 2.0)
    figures["end_to_end"] = end_to_end_figures(variants, args.quick)
    cppn = figures["end_to_end"]["efficientnet-lite0 cppn x 400"]
    best = {
        precision: max(
            (row["vs_torch_fp32"] for label, row in cppn.items()
             if label.endswith(precision) and not label.startswith("torch")),
            default=None,
        )
        for precision in GOALS
    }  # fmt: skip
    figures["goals"] = {
        precision: {"goal": goal, "best": best[precision],
                    "met": best[precision] is not None and best[precision] >= goal}
        for precision, goal in GOALS.items()
    }  # fmt: skip
    for precision, goal in figures["goals"].items():
        verdict = "met" if goal["met"] else "MISSED"
        print(f"ImageNet CPPN x 400 end to end, best {precision} backend: {goal['best']}x "
              f"torch fp32 (goal >= {goal['goal']}x: {verdict})")  # fmt: skip
    save("cpu_backends_cpu", figures)


if __name__ == "__main__":
    main()
