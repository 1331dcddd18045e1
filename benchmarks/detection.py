"""Would an out-of-distribution detector catch fooling images? AUROC per detector and source.

`python benchmarks/detection.py lenet` makes, against the built-in LeNet, five runs
each of direct and CPPN evolution at the paper's MNIST setting (200 generations x
200), five pixel-ascent runs and one PGD run on 500 test digits (eps 0.2), then
runs `fooling detect` on them with all six detectors fitted on the whole MNIST
training set and set on the whole test set. It prints the table and saves
`results/detection_lenet_cpu.json`.
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
from fooling.detectors.real_images import real_images

SEEDS = range(5)
GENERATIONS, POPULATION = 200, 200
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


if __name__ == "__main__":
    {"lenet": lenet}[sys.argv[1] if len(sys.argv) > 1 else "lenet"]()
