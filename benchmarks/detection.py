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

`python benchmarks/detection.py imagenet CPPN_RUN DIRECT_RUN` does the same for
EfficientNet-Lite0, with the fooling images of two finished (or snapshot) runs
against it, pixel ascent on the photos' 20 classes, and PGD on the photos. The
real images are what can be had offline: the 20 ImageNet validation photos that
foolbox ships and the hen of `tests/data`, 16 random crops and flips of each,
split by photo (the crops of every fourth photo are held out). Saves
`results/detection_imagenet_cpu.json`.

`python benchmarks/detection.py snapshot RUN OUT` writes, as a finished run in OUT,
the elites of a run still in progress as its last checkpoint holds them (the
ImageNet direct run of the issue-23 campaign takes days on 2 cores).
"""

from __future__ import annotations

import json
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
from fooling.detectors.real_images import RealImages, real_images

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


PHOTO_CROPS = 16
HELD_OUT_EVERY = 4  # every fourth photo's crops are held out
IMAGENET_PGD = ["--attack", "pgd", "--eps", "0.01", "--steps", "20"]


def photos() -> list[tuple[Path, int]]:
    """The real ImageNet photos to hand: foolbox's validation samples and the hen."""
    import foolbox

    folder = Path(foolbox.__file__).parent / "data"
    found = [(path, int(path.stem.split("_")[-1])) for path in sorted(folder.glob("imagenet_*"))]
    return [*found, (Path(__file__).parents[1] / "tests" / "data" / "hen_256.png", 8)]


def photo_crops(classifier: fooling.Classifier) -> RealImages:
    """`PHOTO_CROPS` random resized crops (and flips) of every photo, split by photo."""
    from fooling.records import to_bytes
    from fooling.user_files import read_image

    generator = torch.Generator().manual_seed(0)
    fit, labels, held = [], [], []
    found = photos()
    for number, (path, label) in enumerate(found):
        image = read_image(path, 3)
        height, width = image.shape[-2:]
        for _ in range(PHOTO_CROPS):
            share = 0.35 + 0.65 * torch.rand(1, generator=generator).item()
            side = max(16, round(min(height, width) * share**0.5))
            top = int(torch.randint(0, height - side + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - side + 1, (1,), generator=generator))
            crop = image[:, top : top + side, left : left + side]
            if torch.rand(1, generator=generator).item() < 0.5:
                crop = crop.flip(-1)
            crop = to_bytes(classifier.fit(crop.unsqueeze(0)).cpu())[0]
            if number % HELD_OUT_EVERY == HELD_OUT_EVERY - 1:
                held.append(crop)
            else:
                fit.append(crop)
                labels.append(label)
    return RealImages(torch.stack(fit), torch.tensor(labels), torch.stack(held),
                      f"{PHOTO_CROPS} crops of each of {len(found)} ImageNet photos")  # fmt: skip


def imagenet(cppn: Path, direct: Path) -> None:
    classifier = fooling.load_classifier("efficientnet-lite0", precision="fp32")
    real = photo_crops(classifier)
    classes = sorted({label for _, label in photos()})
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        ascended = Path(folder) / "ascend"
        fooling.ascend(classifier, classes=classes, seed=0, progress=False, out=ascended)
        attacked = Path(folder) / "pgd"
        assert main(["adversarial", "--classifier", "efficientnet-lite0", *IMAGENET_PGD,
                     "--show", "100", "--quiet", "--out", str(attacked),
                     *(str(path) for path, _ in photos())]) == 0  # fmt: skip
        made = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        result = fooling.detect(classifier, [direct, cppn, ascended, attacked],
                                detectors=DETECTORS, real=real)  # fmt: skip
        seconds = time.perf_counter() - started
    print(format_table(result.table(), result.detectors))
    runs = {}
    for kind, run in (("direct", direct), ("cppn", cppn)):
        summary = json.loads((run / "summary.json").read_text())
        runs[kind] = {
            key: summary.get(key) for key in ("generations", "population", "seed", "fooled_at_0.99")
        }
    figures = {
        "benchmark": "detection_imagenet", **machine(torch.device("cpu")),
        "command": "python benchmarks/detection.py imagenet CPPN_RUN DIRECT_RUN",
        "classifier": "efficientnet-lite0",
        "real_images": {"photos": [path.name for path, _ in photos()], "crops": PHOTO_CROPS,
                        "held_out": f"the crops of every {HELD_OUT_EVERY}th photo"},
        "runs": {**runs, "ascend": f"pixel ascent (the defaults) on classes {classes}",
                 "adversarial": "fooling adversarial " + " ".join(IMAGENET_PGD)
                 + " on the photos", "seconds": made},
        "detect_seconds": round(seconds, 1),
        "summary": result.summary(),
    }  # fmt: skip
    save("detection_imagenet_cpu", figures)


def snapshot(run: Path, out: Path) -> None:
    from fooling.search.evolution import Evolution, read_checkpoint

    state = read_checkpoint(run / "checkpoint")
    settings = state["settings"]
    classifier = fooling.load_classifier(  # as the run scored; its result is re-scored in fp32
        settings["classifier"], "cpu", backend=settings["model"]["backend"],
        precision=settings["model"]["precision"],
    )  # fmt: skip
    result = Evolution.from_state_dict(state, classifier).result()
    result.save(out)
    print(f"{out}: generation {result.generations}, {result.headline()}")


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
    which = sys.argv[1] if len(sys.argv) > 1 else "lenet"
    if which == "imagenet":
        imagenet(Path(sys.argv[2]), Path(sys.argv[3]))
    elif which == "snapshot":
        snapshot(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        {"lenet": lenet, "against": against}[which]()
