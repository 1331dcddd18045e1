"""End-to-end evolution throughput against a bare LeNet forward pass, in one process.

    python benchmarks/evaluations_per_second.py [--device cpu] [--population 200]

Goals (issues 2 and 8): end-to-end evaluations/s >= 75% (direct) and >= 70% (CPPN) of the
bare forward pass at the same batch size, on the CPU, on the torch path. Goal (issue 10):
the default backend (`auto`, OpenVINO where installed) is never slower end to end than
the torch path, for both encodings (`auto_vs_torch` >= 1). The end-to-end figure is
`Evolution.run` itself: ask (select, mutate, render), evaluate, tell (archive), progress.
The CPPN encoding is also measured on its PyTorch path (what runs where no C compiler is
found), for comparison; it has no goal. The bare figure
is LeNet's own forward pass on a batch of the same size and memory format (no softmax,
no rendering, no archive). The two are measured in many short alternating rounds
and the figure is the median of the per-round ratios, so that a drifting (shared)
machine affects both sides of each ratio alike.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling.classifiers import load_classifier
from fooling.encodings import CPPNEncoding, make_encoding
from fooling.search.evolution import Evolution

GOALS = {"direct": 0.75, "cppn": 0.70}
SAME_PATH_NOISE = 0.97  # two runs of one path differ by up to 3% between rounds here


def bare_forward(net: torch.nn.Module, batch: torch.Tensor, repeats: int) -> float:
    """Images per second of the bare network on `batch`."""
    with torch.inference_mode():
        started = time.perf_counter()
        for _ in range(repeats):
            net(batch)
        return repeats * len(batch) / (time.perf_counter() - started)


def end_to_end(evolution: Evolution, generations: int) -> float:
    """Evaluations per second of `Evolution.run` itself (ask, evaluate, tell, progress)."""
    started = time.perf_counter()
    evolution.run(evolution.generation + generations, progress=False)
    return generations * evolution.population / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--generations", type=int, default=10, help="per round")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    classifier = load_classifier("lenet-mnist", args.device, backend="torch")
    automatic = load_classifier("lenet-mnist", args.device, backend="auto")
    net = classifier.model
    batch = torch.rand(args.population, 1, 28, 28, device=classifier.device)
    batch = batch.contiguous(memory_format=classifier.memory_format)  # as the model runs
    figures = {"benchmark": "evaluations_per_second", **machine(classifier.device)}
    figures.update(population=args.population, goal_ratios=GOALS, encodings={},
                   auto_backend=automatic.backend)  # fmt: skip
    encodings = {
        "direct": make_encoding("direct", classifier.input_shape, classifier.device),
        "cppn": make_encoding("cppn", classifier.input_shape, classifier.device),
        # the fallback without a C compiler, for comparison; the goal is for the default above
        "cppn_pytorch_path": CPPNEncoding(classifier.input_shape, device=classifier.device,
                                          native=False),
    }  # fmt: skip
    for name, encoding in encodings.items():
        evolution = Evolution(classifier, encoding, population=args.population, seed=0)
        evolution.run(200, progress=False)  # warm up, and let CPPNs grow to a realistic size
        fast = Evolution(automatic, copy.deepcopy(encoding), population=args.population, seed=0)
        fast.run(200, progress=False)
        bare_forward(net, batch, 20)
        bare, full, auto = [], [], []
        for _ in range(args.rounds):
            bare.append(bare_forward(net, batch, args.generations))
            full.append(end_to_end(evolution, args.generations))
            auto.append(end_to_end(fast, args.generations))
        ratios = [end / forward for end, forward in zip(full, bare, strict=True)]
        ratio = statistics.median(ratios)
        speedup = statistics.median(a / t for a, t in zip(auto, full, strict=True))
        figures["encodings"][name] = {
            "compiled_cpu_kernels": getattr(encoding, "native", None) is not None,
            "bare_forward_images_per_s": round(statistics.median(bare)),
            "end_to_end_evaluations_per_s": round(statistics.median(full)),
            "ratio": round(ratio, 3),
            "ratio_quartiles": [round(value, 3) for value in statistics.quantiles(ratios, n=4)],
            "meets_goal": ratio >= GOALS[name] if name in GOALS else None,
            "auto_end_to_end_evaluations_per_s": round(statistics.median(auto)),
            "auto_vs_torch": round(speedup, 3),
            "auto_never_slower": speedup >= SAME_PATH_NOISE,
            "rounds_bare": [round(value) for value in bare],
            "rounds_end_to_end": [round(value) for value in full],
        }
        goal = f"goal >= {GOALS[name]}" if name in GOALS else "no goal"
        print(
            f"{name:>17}: end-to-end {statistics.median(full):,.0f} eval/s, bare forward "
            f"{statistics.median(bare):,.0f} img/s, ratio {ratio:.2f} ({goal}); "
            f"auto ({automatic.backend}) {statistics.median(auto):,.0f} eval/s, "
            f"{speedup:.2f}x the torch path (goal: never slower)"
        )
    save(f"evaluations_per_second_{classifier.device.type}", figures)


if __name__ == "__main__":
    main()
