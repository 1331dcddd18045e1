"""The paper's ImageNet settings on EfficientNet-Lite0: end-to-end against the bare forward pass.

    python benchmarks/imagenet_throughput.py [--device cuda] [--generations 50]

For each setting (CPPN, 400 images per generation; direct, 200), in one process:
the bare forward throughput of the same network at the same batch size, precision
and memory format (inputs prepared beforehand, as the Classifier prepares them);
CPPN rendering alone against that forward pass; and end-to-end evaluations per
second of `Evolution.run` itself (ask: select, mutate, render; evaluate; tell: archive;
progress read back). Warm-up generations, which include
`torch.compile`'s one-off compile on a GPU, are timed apart. The JSON also
projects the paper's full CPPN run (5000 generations x 400 images; about 4 days
on 128 cores in the original code) from the end-to-end rate.

Goals (issue 3): on one H200, end-to-end >= 80% of bare bf16 forward for CPPN at
400 per generation, the full run projected <= 3 minutes, rendering <= ~10% of
the forward pass. On a CPU the same figures are measured with few generations.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling.classifiers import load_classifier
from fooling.encodings import make_encoding
from fooling.search.evolution import Evolution

SETTINGS = {"cppn": 400, "direct": 200}  # images per generation, as in the paper
PAPER_RUN = 5000 * 400  # evaluations in the paper's full CPPN run
GOAL_RATIO = 0.80


def wait(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(call, device: torch.device, repeats: int) -> float:
    call()  # warm
    wait(device)
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    wait(device)
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--generations", type=int, help="timed generations (default: 50, CPU 2)")
    parser.add_argument("--warmup", type=int, help="generations before timing (default: 5, CPU 1)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    args = parser.parse_args()
    on_cpu = args.device == "cpu"
    generations = args.generations or (2 if on_cpu else 50)
    warmup = args.warmup if args.warmup is not None else (1 if on_cpu else 5)

    classifier = load_classifier(  # the torch path (CPU backends: benchmarks/cpu_backends.py)
        "efficientnet-lite0", args.device, precision=args.precision, backend="torch"
    )
    device = classifier.device
    figures = {"benchmark": "imagenet_throughput", **machine(device)}
    figures.update(
        classifier=classifier.name, precision=classifier.precision, classes=classifier.num_classes,
        timed_generations=generations, warmup_generations=warmup,
        goal="on one H200: CPPN end-to-end >= 0.8 of bare, rendering <= 0.1 of the forward pass",
        settings={},
    )  # fmt: skip
    for name, population in SETTINGS.items():
        torch.manual_seed(0)
        batch = classifier.prepare(torch.rand(population, *classifier.input_shape, device=device))
        bf16 = classifier.precision == "bf16"

        def forward(batch=batch, bf16=bf16) -> None:
            with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                classifier.model(batch)

        encoding = make_encoding(name, classifier.input_shape, device)
        evolution = Evolution(classifier, encoding, population=population, seed=0)
        started = time.perf_counter()
        evolution.run(warmup, progress=False)  # generations 0..warmup
        warmup_s = time.perf_counter() - started

        bare_s = seconds_per_call(forward, device, 3 if on_cpu else 20)
        started = time.perf_counter()
        evolution.run(warmup + generations, progress=False)  # the real loop, as `evolve` runs it
        end_to_end = generations * population / (time.perf_counter() - started)
        bare = population / bare_s
        result = {
            "population": population,
            "bare_forward_images_per_s": round(bare, 1),
            "end_to_end_evaluations_per_s": round(end_to_end, 1),
            "ratio": round(end_to_end / bare, 3),
            "warmup_s": round(warmup_s, 1),
            "median_confidence_after": round(evolution.result().median_confidence, 5),
        }
        if name == "cppn":
            genomes = evolution.ask().genomes  # a generation's offspring, grown as in the run
            render_s = seconds_per_call(partial(encoding.render, genomes), device, 3)
            result["render_ms"] = round(render_s * 1e3, 2)
            result["render_over_forward"] = round(render_s / bare_s, 3)
            result["projected_paper_run_s"] = round(PAPER_RUN / end_to_end, 1)
            if device.type == "cuda":  # the goals are set for one H200
                result["meets_goal"] = end_to_end / bare >= GOAL_RATIO and render_s <= 0.1 * bare_s
        figures["settings"][name] = result
        print(f"{name:>6} x {population}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    save(f"imagenet_throughput_{device.type}", figures)


if __name__ == "__main__":
    main()
