"""Gradient ascent on the pixels: LeNet through the command line, and EfficientNet-Lite0
in one batch (`--param pixel`, the paper's ascent, on which these goals were set; the
default Fourier parameterisation is measured in `ascent_priors.py`).

    python benchmarks/ascend_runs.py [--device cuda] [--imagenet-classes N] [--imagenet-start S]

Goals (issue 4): LeNet, every one of the 10 classes >= 0.9999 within 200 steps in
<= 20 s wall on 2 cores (timed from outside, a fresh process); EfficientNet-Lite0,
all 1000 classes >= 0.9999 in one batched run on one H200 in <= 60 s. On a CPU the
ImageNet run takes the first few classes (default 4), or N from class S (saved apart, as
`ascend_runs_cpu_from_S.json`: a block of the campaign's 1000-class ascent run again).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

import fooling
from fooling.classifiers import load_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--imagenet-classes", type=int, help="default: 1000 on a GPU, 4 on a CPU")
    parser.add_argument("--imagenet-start", type=int, default=0, help="the first class")
    args = parser.parse_args()
    device = torch.device(args.device)
    figures = {"benchmark": "ascend_runs", **machine(device)}

    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "fooling", "ascend", "--classifier", "lenet-mnist",
                   "--param", "pixel", "--steps", "200", "--seed", "0", "--device", args.device,
                   "--out", str(Path(folder) / "lenet"), "--quiet"]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        summary = json.loads((Path(folder) / "lenet" / "summary.json").read_text())
    weakest = min(cell["confidence"] for cell in summary["classes"])
    figures["lenet"] = {
        "command": " ".join(["fooling", *command[3:-3], "--quiet"]),
        "wall_s": round(wall, 2),
        "search_s": summary["seconds"],
        "steps_used": summary["generations"],
        "weakest_class_confidence": weakest,
        "meets_goal": weakest >= 0.9999 and summary["generations"] <= 200 and wall <= 20,
    }
    print(f"lenet: {wall:.2f} s wall, {summary['generations']} steps, weakest class {weakest:.6f}")

    classifier = load_classifier("efficientnet-lite0", device)
    count = args.imagenet_classes or (1000 if device.type == "cuda" else 4)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    classes = list(range(args.imagenet_start, args.imagenet_start + count))
    result = fooling.ascend(classifier, steps=200, classes=classes, progress=False, param="pixel")
    seconds = time.perf_counter() - started
    every_class = bool((result.confidences >= 0.9999).all())
    figures["efficientnet_lite0"] = {
        "classes": count,
        "first_class": args.imagenet_start,
        "stopped_in": (result.ascent or {}).get("stopped_in"),
        "precision": classifier.precision,
        "seconds": round(seconds, 2),
        "steps_used": result.generations,
        "weakest_class_confidence": result.confidences.min().item(),
        "classes_at_0.9999": int((result.confidences >= 0.9999).sum()),
        "meets_goal": every_class and count == 1000 and seconds <= 60,
    }
    print(
        f"efficientnet-lite0: {count} classes in {seconds:.1f} s, {result.generations} steps, "
        f"weakest class {result.confidences.min().item():.6f}"
    )
    suffix = f"_from_{args.imagenet_start}" if args.imagenet_start else ""
    save(f"ascend_runs_{device.type}{suffix}", figures)


if __name__ == "__main__":
    main()
