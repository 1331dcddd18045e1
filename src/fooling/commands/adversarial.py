"""`fooling adversarial`: attack real images and show original, perturbation and result."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from fooling.adversarial import ATTACKS, AttackResult, attack
from fooling.adversarial.attacks import check_attack
from fooling.classifiers import Classifier
from fooling.commands.arguments import (
    add_classifier_arguments,
    add_output_arguments,
    classifier_from,
)
from fooling.errors import FoolingError
from fooling.limits import COUNT, EPS, SHOW, STEPS
from fooling.report.gallery import GalleryCell, GallerySection, write_gallery
from fooling.runs.directory import RunDirectory
from fooling.runs.images import save_png
from fooling.user_files import read_image

HELP = "Adversarial examples: real images nudged across a boundary."
EXAMPLE = "fooling adversarial --classifier lenet-mnist --attack pgd --eps 0.2 --out runs/pgd"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `adversarial`."""
    add_classifier_arguments(parser)
    add_output_arguments(parser, "adversarial")
    parser.add_argument("--attack", choices=ATTACKS, required=True)
    parser.add_argument(
        "--eps", type=EPS.parse, required=True, help="L-inf bound (fgsm, pgd), L2 (cw)"
    )
    parser.add_argument("--targeted", metavar="CLASS", help="aim at this class (index or label)")
    parser.add_argument("--steps", type=STEPS.parse, default=100, help="for pgd and cw")
    parser.add_argument(
        "--count", type=COUNT.parse, default=1000,
        help="MNIST test images to attack when no IMAGE is given (28 x 28 gray classifiers)",
    )  # fmt: skip
    parser.add_argument("--show", type=SHOW.parse, default=12, help="images in the gallery")
    parser.add_argument("images", nargs="*", type=Path, metavar="IMAGE")


def run(args: argparse.Namespace) -> int:
    """Attack as the arguments say; returns the exit code."""
    classifier = classifier_from(args)
    images, labels = _inputs(args, classifier)
    target = None
    if args.targeted is not None:
        (target,) = classifier.class_indices([args.targeted])
        keep = labels != target  # an image already of the target class proves nothing
        images, labels = images[keep], labels[keep]
        if not len(labels):
            raise FoolingError(f"every image is already of class {args.targeted}")
    check_attack(classifier, method=args.attack, eps=args.eps, target=target, steps=args.steps,
                 seed=args.seed)  # fmt: skip
    classifier.trial()
    with RunDirectory(args.out).claim(force=args.force) as directory:
        result = attack(
            classifier, images, labels, method=args.attack, eps=args.eps, target=target,
            steps=args.steps, seed=args.seed, progress=not args.quiet,
        )  # fmt: skip
        gallery = write_attack_run(result, classifier, directory, show=args.show, seed=args.seed)
    count, hits = len(result.success), int(result.success.sum())
    print(
        f"{args.attack} eps {args.eps:g}: {hits}/{count} attacks succeeded "
        f"({result.success_rate:.1%}), mean L-inf {result.linf.mean():.3f}, "
        f"mean L2 {result.l2.mean():.2f}; gallery: {gallery}"
    )
    return 0


def _inputs(args: argparse.Namespace, classifier: Classifier) -> tuple[torch.Tensor, torch.Tensor]:
    """The images to attack and the classes they must leave."""
    channels, height, width = classifier.input_shape
    if args.images:
        images = torch.stack([
            F.interpolate(read_image(path, channels)[None], size=(height, width), mode="bilinear",
                          antialias=True, align_corners=False)[0].clamp(0, 1)
            for path in args.images
        ])  # fmt: skip
        return images, classifier(images).argmax(dim=1).cpu()  # leave what it sees now
    if (channels, height, width) != (1, 28, 28):
        raise FoolingError(f"{classifier.name} does not take MNIST digits: give IMAGE files")
    from fooling.data.mnist import load_mnist

    images, labels = load_mnist("test")
    return images[: args.count].view(-1, 1, 28, 28), labels[: args.count]


def write_attack_run(
    result: AttackResult, classifier: Classifier, directory: RunDirectory, *, show: int, seed: int
) -> Path:
    """Write summary.json, the first `show` images as PNGs, and gallery.html into `directory`.

    Returns:
        The path of `gallery.html`.
    """
    out = directory.path
    labels = classifier.labels
    items, sections = [], []
    for index in range(len(result.success)):
        before, after = (
            int(result.original_predictions[index]),
            int(result.adversarial_predictions[index]),
        )
        item = {
            "index": index,
            "label": labels[int(result.labels[index])],
            "original": {"class": before, "label": labels[before],
                         "confidence": result.original_confidences[index].item()},
            "adversarial": {"class": after, "label": labels[after],
                            "confidence": result.adversarial_confidences[index].item()},
            "success": bool(result.success[index]),
            "linf": result.linf[index].item(),
            "l2": result.l2[index].item(),
        }  # fmt: skip
        if index < show:
            item["images"] = _save_trio(result, index, out)
            sections.append(_section(item))
        items.append(item)
    summary = {
        "classifier": classifier.name, "method": "adversarial", "attack": result.attack,
        "eps": result.eps, "targeted": None if result.target is None else labels[result.target],
        "seed": seed,
        "images": len(items), "success_rate": result.success_rate,
        "mean_linf": result.linf.mean().item(), "mean_l2": result.l2.mean().item(),
        "scored_as": "float32 images; the PNGs are 8-bit renderings of them",
        "items": items,
    }  # fmt: skip
    title = f"{classifier.name} · {result.attack} · eps {result.eps:g}"
    subtitle = f"{result.success_rate:.1%} of {len(items)} attacks succeeded"
    write_gallery(directory.gallery, title, sections, subtitle=subtitle)
    directory.write_summary(summary)
    return directory.gallery


def _save_trio(result: AttackResult, index: int, out: Path) -> dict[str, str]:
    original, adversarial = result.originals[index], result.adversarials[index]
    change = adversarial - original
    scale = max(change.abs().max().item(), 1e-12)
    paths = {}
    for name, image in (
        ("original", original),
        ("perturbation", change / (2 * scale) + 0.5),  # gray is no change
        ("adversarial", adversarial),
    ):
        paths[name] = f"images/{index:04d}_{name}.png"
        save_png(image, out / paths[name])
    return paths


def _section(item: dict) -> GallerySection:
    original, adversarial = item["original"], item["adversarial"]
    size = f"L∞ {item['linf']:.3f} · L2 {item['l2']:.2f}"
    cells = [
        GalleryCell(original["class"], original["label"], original["confidence"],
                    Path(item["images"]["original"])),
        GalleryCell(adversarial["class"], "perturbation (stretched)", 0.0,
                    Path(item["images"]["perturbation"]), caption=size),
        GalleryCell(adversarial["class"], adversarial["label"], adversarial["confidence"],
                    Path(item["images"]["adversarial"])),
    ]  # fmt: skip
    verdict = "fooled" if item["success"] else "held"
    return GallerySection(f"image {item['index']} ({item['label']}): {verdict}", cells, count=False)
