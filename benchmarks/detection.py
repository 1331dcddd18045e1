"""Would an out-of-distribution detector catch fooling images? AUROC per detector and source.

`python benchmarks/detection.py lenet` makes, against the built-in LeNet, five runs
each of direct and CPPN evolution at the paper's MNIST setting (200 generations x
200), five pixel-ascent runs and one PGD run on 500 test digits (eps 0.2), then
runs `fooling detect` on them with all six detectors fitted on the whole MNIST
training set and set on the whole test set. It prints the table and saves
`results/detection_lenet_cpu.json`.

`python benchmarks/detection.py against` evolves against the built-in LeNet and one
detector at a time (`fooling evolve --against`), direct and CPPN, both penalties,
three seeds each at 200 generations x 200, detectors fitted on the whole MNIST
training set and set on the whole test set. Per run: the digits at >= 99% that
the detector lets through (goal: >= 8 of 10 with >= 90% of those elites let
through), and the curve of the search's median. Saves
`results/detection_against_lenet_cpu.json`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _machine import machine, save

import fooling
from fooling.cli import main
from fooling.commands.detect import format_table
from fooling.detectors import DETECTORS
from fooling.detectors.against import PENALTIES, AgainstDetector
from fooling.detectors.detector import Detectors
from fooling.detectors.real_images import real_images

SEEDS = range(5)
GENERATIONS, POPULATION = 200, 200
AGAINST = ("mahalanobis", "vim", "energy")  # the strongest on evolved images, then others
AGAINST_SEEDS = range(3)
PGD = ["--attack", "pgd", "--eps", "0.2", "--count", "500", "--show", "500"]


def lenet() -> None:
    classifier = fooling.load_classifier("lenet-mnist")
    with tempfile.TemporaryDirectory() as folder:
        runs, made = [], {}
        started = time.perf_counter()
        for seed in SEEDS:
            for encoding in ("direct", "cppn"):
                out = Path(folder) / f"{encoding}-{seed}"
                fooling.evolve(classifier, encoding=encoding, generations=GENERATIONS,
                               population=POPULATION, seed=seed, progress=False,
                               out=out)  # fmt: skip
                runs.append(out)
            out = Path(folder) / f"ascend-{seed}"
            fooling.ascend(classifier, seed=seed, progress=False, out=out)
            runs.append(out)
        out = Path(folder) / "pgd"
        assert main(["adversarial", "--classifier", "lenet-mnist", *PGD, "--quiet",
                     "--out", str(out)]) == 0  # fmt: skip
        runs.append(out)
        made["seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        result = fooling.detect(classifier, runs, detectors=DETECTORS,
                                real=real_images(classifier))  # fmt: skip
        seconds = time.perf_counter() - started
    table = result.table()
    print(format_table(table, result.detectors))
    figures: dict[str, Any] = {
        "benchmark": "detection_lenet", **machine(torch.device("cpu")),
        "command": "python benchmarks/detection.py lenet",
        "classifier": "lenet-mnist",
        "runs": {
            "evolve": f"direct and CPPN, {GENERATIONS} generations x {POPULATION}, seeds "
            f"{SEEDS.start}..{SEEDS.stop - 1}",
            "ascend": f"pixel ascent (the defaults), seeds {SEEDS.start}..{SEEDS.stop - 1}",
            "adversarial": "fooling adversarial " + " ".join(PGD),
            "seconds": made["seconds"],
        },
        "detect_seconds": round(seconds, 1),
        "summary": result.summary(),
    }  # fmt: skip
    save("detection_lenet_cpu", figures)


def against() -> None:
    classifier = fooling.load_classifier("lenet-mnist")
    real = real_images(classifier)
    detectors = Detectors(classifier, AGAINST, real.fit_images, real.fit_labels, real.held_out)
    runs = []
    for name in AGAINST:
        for penalty in PENALTIES:
            evaluator = AgainstDetector(detectors, name, penalty)
            for encoding in ("direct", "cppn"):
                for seed in AGAINST_SEEDS:
                    result = fooling.evolve(classifier, encoding=encoding, generations=GENERATIONS,
                                            population=POPULATION, seed=seed, progress=False,
                                            evaluator=evaluator)  # fmt: skip
                    verdict = result.against
                    fooled = [row for row in verdict["elites"] if row["confidence"] >= 0.99]
                    passed = sum(row["passed"] for row in fooled)
                    run = {
                        "detector": name, "penalty": penalty, "encoding": encoding, "seed": seed,
                        "fooled_and_passed": verdict["fooled_and_passed"],
                        "fooled": len(fooled), "share_of_fooled_passed":
                        round(passed / len(fooled), 3) if fooled else None,
                        "passed": verdict["passed"], "seconds": round(result.seconds, 1),
                        "median_every_20_generations": [
                            round(row.median_confidence, 5) for row in result.history[::20]],
                        "goal_met": verdict["fooled_and_passed"] >= 8
                        and (passed / len(fooled) if fooled else 0) >= 0.9,
                    }  # fmt: skip
                    print(run, flush=True)
                    runs.append(run)
    figures = {
        "benchmark": "detection_against_lenet", **machine(torch.device("cpu")),
        "command": "python benchmarks/detection.py against",
        "classifier": "lenet-mnist", "generations": GENERATIONS, "population": POPULATION,
        "detectors": detectors.settings(),
        "goal": ">= 8 of 10 digits at >= 99% with >= 90% of those elites let through",
        "runs": runs,
    }  # fmt: skip
    save("detection_against_lenet_cpu", figures)


if __name__ == "__main__":
    {"lenet": lenet, "against": against}[sys.argv[1] if len(sys.argv) > 1 else "lenet"]()
