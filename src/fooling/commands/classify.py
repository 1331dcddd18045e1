"""`fooling classify`: the top-5 labels of image files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from fooling.commands.arguments import add_classifier_arguments, classifier_from
from fooling.user_files import read_image

HELP = "Print the top-5 labels of image files."
EXAMPLE = "fooling classify --classifier lenet-mnist runs/cppn/images/003_3.png"
TOP = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `classify` (it writes nothing)."""
    add_classifier_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")


def run(args: argparse.Namespace) -> int:
    """Classify each image and print its top labels; returns the exit code."""
    classifier = classifier_from(args)
    images = [read_image(path, classifier.input_shape[0]) for path in args.images]
    reports = []
    for path, image in zip(args.images, images, strict=True):
        probabilities = classifier.exact_probabilities(image.unsqueeze(0))[0].cpu()  # fp32
        top = torch.topk(probabilities, min(TOP, classifier.num_classes))
        reports.append(
            {
                "image": str(path),
                "predictions": [
                    {"index": index, "label": classifier.labels[index], "probability": score}
                    for score, index in zip(top.values.tolist(), top.indices.tolist(), strict=True)
                ],
            }
        )
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    for report in reports:
        print(report["image"])
        for prediction in report["predictions"]:
            label = f"{prediction['index']:>4}  {prediction['label']}"
            print(f"  {label:<40} {prediction['probability']:>12.6%}")
    return 0
