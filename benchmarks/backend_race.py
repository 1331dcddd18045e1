"""Does the backend race see what a search sees? LeNet's forward race against its search loop.

    python benchmarks/backend_race.py [--searches N]

`--backend auto` chooses OpenVINO over torch by a race of forward passes (see
`fooling.classifiers.backends`). For a small model a search's generation is mostly
torch's own work around a forward pass of a few milliseconds, and torch's threads
and the compiled model's then hand the CPU back and forth. This measures both for
the built-in LeNet in one process, on fp32 OpenVINO and fp32 torch taking turns: the
race as `auto` runs it (each side's best of its turns over a batch of 200), and the
time of whole gathering searches (`fooling.experiments.gather.search`, 100 generations
of 100, direct and CPPN alternately). The ratios, torch's time over OpenVINO's (above 1:
OpenVINO is faster), are what `TORCH_MARGIN` is set from: LeNet's race five times over,
to show its spread, and EfficientNet-Lite0's once, for scale. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling.classifiers import load_classifier
from fooling.classifiers.backends import RACE_IMAGES, TORCH_MARGIN, _best_seconds
from fooling.experiments.gather import Searches, search


def race(name: str, times: int) -> dict[str, object]:
    """The race `auto` runs, `times` times over: how much its verdict varies."""
    torch_path = load_classifier(name, "cpu", backend="torch", precision="fp32")
    openvino = load_classifier(name, "cpu", backend="openvino", precision="fp32")
    assert openvino._compiled is not None
    batch = torch.rand((RACE_IMAGES, *openvino.input_shape),
                       generator=torch.Generator().manual_seed(1))  # fmt: skip
    ratios = []
    for _ in range(times):
        seconds_openvino, seconds_torch, _ = _best_seconds(
            openvino._compiled.forward, torch_path._reference, batch
        )
        ratios.append(round(seconds_torch / seconds_openvino, 3))
    return {"races": times, "torch_over_openvino": ratios}


def searches(count: int) -> dict[str, float]:
    classifiers = {backend: load_classifier("lenet-mnist", "cpu", backend=backend,
                                            precision="fp32")
                   for backend in ("torch", "openvino")}  # fmt: skip
    spent = dict.fromkeys(classifiers, 0.0)
    for number in range(count):
        encoding = ("direct", "cppn")[number % 2]
        for backend, classifier in classifiers.items():
            shared = Searches(classifier, list(range(10)), [encoding], 100, 0, 0.99,
                              [25, 50, 75, 100])  # fmt: skip
            started = time.perf_counter()
            search(shared, number)
            spent[backend] += time.perf_counter() - started
    return {"searches_each": count,
            "openvino_fp32_seconds_per_search": round(spent["openvino"] / count, 4),
            "torch_fp32_seconds_per_search": round(spent["torch"] / count, 4),
            "torch_over_openvino": round(spent["torch"] / spent["openvino"], 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=12, help="gathering searches per backend")
    args = parser.parse_args()
    figures = {"benchmark": "backend_race", **machine(torch.device("cpu")),
               "torch_margin": TORCH_MARGIN,
               "lenet_race": race("lenet-mnist", 5),
               "lenet_searches": searches(args.searches),
               "efficientnet_lite0_race": race("efficientnet-lite0", 1)}  # fmt: skip
    for key in ("lenet_race", "lenet_searches", "efficientnet_lite0_race"):
        print(f"{key}: torch time / OpenVINO time = {figures[key]['torch_over_openvino']}")
    save("backend_race_cpu", figures)


if __name__ == "__main__":
    main()
