"""CPU backends side by side: the forward pass, then whole evolution runs, in one process.

    python benchmarks/cpu_backends.py [--quick]

1. Forward pass, through `Classifier` (images in [0, 1] -> probabilities, as a
   search sees it): LeNet at batch 200 and EfficientNet-Lite0 at batches 50 and
   400. Every installed backend and precision is measured: images/s, the largest
   difference in probability from torch fp32, and the top-1 agreement on the
   same batch.
2. End to end: `Evolution.run` evaluations/s with each backend. On Lite0 this is
   CPPN x 400 and direct x 200, the paper's ImageNet settings; on LeNet it is
   both encodings x 200. The script also projects the wall time of the paper's
   ImageNet runs here (CPPN: 5000 x 400, direct: 20,000 x 200).

"Today's path" is torch fp32 with glibc's allocator as it comes, measured first;
then the allocator keeps freed memory, as the `fooling` command has it do (see
`fooling/allocator.py`: that alone made torch itself several times faster at
ImageNet size here), and every backend is measured, torch fp32 again among them.
Each row has its ratio to both.

Goals (issue 10, 2 cores): end-to-end ImageNet CPPN x 400 at >= 5x today's
evaluations/s with an exact (fp32) backend and >= 9x with bf16.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling.allocator import keep_freed_memory
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


BEFORE = "torch fp32, glibc defaults"  # today's path: what every CPU user ran before
LABEL_WIDTH = len(BEFORE)


def forward_figures(variants, least_seconds: float, figures: dict) -> None:
    """Add each variant's forward-pass row to `figures` (rows keyed by variant)."""
    for name, batches in FORWARD.items():
        for batch in batches:
            reference = classifier_for(name, "torch", "fp32")
            generator = torch.Generator().manual_seed(0)
            images = torch.rand((batch, *reference.input_shape), generator=generator)
            expected = reference(images)
            rows = figures.setdefault(f"{name} batch {batch}", {})
            for label, backend, precision in variants:
                classifier = classifier_for(name, backend, precision)
                found = classifier(images)
                rows[label] = {
                    "images_per_s": round(images_per_second(classifier, images, least_seconds), 1),
                    "max_abs_probability_difference": float((found - expected).abs().max()),
                    "top1_agreement": float((found.argmax(1) == expected.argmax(1)).float().mean()),
                }
                row = rows[label]
                print(f"forward {name:>18} batch {batch:>3}  {label:<{LABEL_WIDTH}} "
                      f"{row['images_per_s']:>9,.1f} img/s  "
                      f"max diff {row['max_abs_probability_difference']:.1e}  "
                      f"top-1 {row['top1_agreement']:.2f}")  # fmt: skip


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


def end_to_end_figures(variants, quick: bool, figures: dict) -> None:
    """Add each variant's end-to-end row to `figures` (rows keyed by variant)."""
    for name, runs in RUNS.items():
        for encoding, population in runs:
            rows = figures.setdefault(f"{name} {encoding} x {population}", {})
            for label, backend, precision in variants:
                if name == "lenet-mnist":
                    generations = 30 if quick else 200
                elif label == BEFORE:  # ~15 s a generation here
                    generations = 1 if quick else 2
                else:
                    generations = 2 if quick else 6
                classifier = classifier_for(name, backend, precision)
                rate = evaluations_per_second(classifier, encoding, population, generations)
                rows[label] = {
                    "evaluations_per_s": round(rate, 1),
                    "timed_generations": generations,
                }
                if name != "lenet-mnist":
                    rows[label]["paper_run_projected_hours"] = round(
                        PAPER[encoding] / rate / 3600, 2
                    )
                projected = rows[label].get("paper_run_projected_hours")
                paper = f"  paper's run: {projected:.1f} h" if projected else ""
                print(f"evolve {name:>18} {encoding:>6} x {population}  {label:<{LABEL_WIDTH}} "
                      f"{rate:>9,.1f} eval/s{paper}")  # fmt: skip


def add_ratios(figures: dict, key: str) -> None:
    """Each row's speed over today's path (`vs_before`) and over torch fp32 beside it."""
    for rows in figures.values():
        before, beside = rows[BEFORE][key], rows["torch fp32"][key]
        for row in rows.values():
            row["vs_before"] = round(row[key] / before, 2)
            row["vs_torch_fp32"] = round(row[key] / beside, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer generations (a smoke run)")
    args = parser.parse_args()
    torch.manual_seed(0)
    least_seconds = 0.5 if args.quick else 2.0
    figures = {"benchmark": "cpu_backends", **machine(torch.device("cpu"))}
    forward: dict = {}
    end_to_end: dict = {}
    # first today's path, with glibc's allocator as it comes; then the allocator kept
    # as the `fooling` command keeps it, and every backend (mallopt cannot be undone)
    forward_figures([(BEFORE, "torch", "fp32")], least_seconds, forward)
    end_to_end_figures([(BEFORE, "torch", "fp32")], args.quick, end_to_end)
    figures["allocator_kept"] = keep_freed_memory()
    variants = [
        (f"{backend} {precision}", backend, precision) for backend, precision in available()
    ]
    figures["variants"] = [BEFORE, *(label for label, *_ in variants)]
    forward_figures(variants, least_seconds, forward)
    end_to_end_figures(variants, args.quick, end_to_end)
    add_ratios(forward, "images_per_s")
    add_ratios(end_to_end, "evaluations_per_s")
    figures["forward"], figures["end_to_end"] = forward, end_to_end
    for section, key in ((forward, "images_per_s"), (end_to_end, "evaluations_per_s")):
        for what, rows in section.items():
            for label, row in rows.items():
                print(f"{what:<36} {label:<{LABEL_WIDTH}} {row[key]:>9,.1f}/s  "
                      f"{row['vs_before']:>5.2f}x today's path  "
                      f"{row['vs_torch_fp32']:>5.2f}x torch fp32 beside it")  # fmt: skip
    cppn = end_to_end["efficientnet-lite0 cppn x 400"]
    figures["goals"] = {}
    for precision, goal in GOALS.items():
        compiled = [label for label in cppn if label.split()[0] in ("openvino", "onnxruntime")]
        ratios = [cppn[label]["vs_before"] for label in compiled if label.endswith(precision)]
        best = max(ratios, default=None)
        figures["goals"][precision] = {"goal": goal, "best_vs_before": best,
                                       "met": best is not None and best >= goal}  # fmt: skip
        verdict = "met" if figures["goals"][precision]["met"] else "MISSED"
        print(
            f"ImageNet CPPN x 400 end to end, best {precision} backend: {best}x today's path "
            f"(goal >= {goal}x: {verdict})"
        )
    save("cpu_backends_cpu", figures)


if __name__ == "__main__":
    main()
