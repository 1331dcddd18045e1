"""Why MNIST runs do not fool every digit at 99.99% within 50 generations: each candidate measured.

    python benchmarks/mnist_fifty.py [--seeds 5] [--generations 200]

The paper: "in less than 50 generations, each run of evolution repeatedly produces
unrecognizable images of each digit type classified by MNIST DNNs with >= 99.99%
confidence". Our `reproduce mnist` found the first generation with every digit at
>= 99.99% at 143-171 (direct) on the built-in LeNet. This benchmark changes one
thing at a time, each a difference between our run and the original code
(`sferes/exp/images/dl_map_elites_images_mnist_direct_encoding.cpp` and its Caffe
model files), and records per run: the first generation with every digit at
>= 99.99%, the digits at >= 99.99% at generation 50, and the weakest digit then.

- network: the built-in `lenet-mnist` (5 epochs, linear schedule), `lenet-mnist-b`
  (the same from seed 1), and a LeNet trained with Caffe's own solver
  (`lenet_solver.prototxt`: 10,000 iterations of 64, lr 0.01 with the "inv" policy,
  momentum 0.9, weight decay 5e-4 on every blob, biases at twice the rate, Xavier
  initialisation), the network the original code loads (`lenet_iter_10000`);
- input: as trained, or with the MNIST mean image subtracted, as the original's
  deploy file does (`mean_file` in `lenet_image_memory_data.prototxt`) although the
  LeNet was trained without it;
- operator: mutation only (ours), or SBX crossover of two elites at rate 0.5
  (eta 10) before mutation, as the original's direct-encoding parameters set and
  its MAP-Elites loop (`p1->cross(p2, ...)`) applies.

Generations are counted as the original counts them: generation 0 is the random
population, each later one 200 offspring. Writes `results/mnist_fifty_cpu.json`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from fooling.archive import Archive
from fooling.classifiers import Classifier
from fooling.classifiers.lenet import MNIST_LABELS, LeNet, load_lenet, shipped_weights_path
from fooling.data.mnist import load_mnist
from fooling.encodings import Genomes, make_encoding, select
from fooling.search.emitter import Emitter, Offspring
from fooling.search.evolution import Evolution
from fooling.training.trainer import evaluate

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

PAPER_LEVEL = 0.9999
WITHIN = 50
CAFFE_ITERATIONS = 10_000


class MeanSubtracted(nn.Module):
    """A network fed `image - mean image`, as Caffe's `mean_file` does."""

    def __init__(self, net: nn.Module, mean: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", mean)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images - self.mean)


class CrossoverEmitter(Emitter):
    """Sferes' MAP-Elites offspring: pairs of elites, SBX-crossed at `rate`, then mutated."""

    def __init__(self, *args: object, rate: float = 0.5, eta: float = 10.0, **kwargs: object):
        super().__init__(*args, **kwargs)
        self.rate, self.eta = rate, eta

    @torch.inference_mode()
    def ask(self, archive: Archive, generation: int) -> Offspring:
        if generation == 0:
            return super().ask(archive, generation)
        cells = self.selection(archive, self.population, self.generator)
        pixels = select(archive.genomes, cells)["pixels"]
        first, second = pixels[0::2], pixels[1::2]
        child1, child2 = sbx(first, second, self.eta, self.generator)
        crossed = (torch.rand(len(first), generator=self.generator) < self.rate).view(-1, 1, 1, 1)
        child1 = torch.where(crossed, child1, first)
        child2 = torch.where(crossed, child2, second)
        children: Genomes = {"pixels": torch.stack([child1, child2], 1).reshape(pixels.shape)}
        genomes = self.encoding.mutate(children, generation, self.generator)
        return Offspring(generation, genomes, self.encoding.render(genomes, levels=True), cells)


def sbx(
    first: torch.Tensor, second: torch.Tensor, eta: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deb's simulated binary crossover on [0, 1], per value, as Sferes' `CrossOver_f<sbx>`."""
    low, high = torch.minimum(first, second), torch.maximum(first, second)
    apart = (high - low) > torch.finfo(torch.float32).eps
    spread = torch.where(apart, high - low, torch.ones_like(high))
    uniform = torch.rand(first.shape, generator=generator)

    def beta_q(beta: torch.Tensor) -> torch.Tensor:
        alpha = 2.0 - beta.pow(-(eta + 1.0))
        inside = uniform <= 1.0 / alpha
        return torch.where(inside, (uniform * alpha).pow(1.0 / (eta + 1.0)),
                           (1.0 / (2.0 - uniform * alpha)).pow(1.0 / (eta + 1.0)))  # fmt: skip

    child_low = (0.5 * ((low + high) - beta_q(1.0 + 2.0 * low / spread) * spread)).clamp(0, 1)
    child_high = 0.5 * ((low + high) + beta_q(1.0 + 2.0 * (1.0 - high) / spread) * spread)
    child_high = child_high.clamp(0, 1)
    flip = torch.rand(first.shape, generator=generator) < 0.5
    one, two = torch.where(flip, child_low, child_high), torch.where(flip, child_high, child_low)
    return torch.where(apart, one, first), torch.where(apart, two, second)


def caffe_lenet(seed: int = 0, iterations: int = CAFFE_ITERATIONS) -> tuple[LeNet, float, float]:
    """LeNet trained by Caffe's `lenet_solver.prototxt`: the net, its test accuracy, seconds."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    net = LeNet()
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):  # Caffe's "xavier" filler, zero biases
            bound = math.sqrt(3.0 / layer.weight[0].numel())
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)
    images, labels = load_mnist("train")
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
    groups = [{"params": weights, "scale": 1.0}, {"params": biases, "scale": 2.0}]  # blobs_lr
    optimizer = torch.optim.SGD(groups, lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    order, position = torch.randperm(len(images), generator=generator), 0
    net.train()
    for step in range(iterations):
        rate = 0.01 * (1 + 1e-4 * step) ** -0.75  # lr_policy "inv", gamma 1e-4, power 0.75
        for group in optimizer.param_groups:
            group["lr"] = rate * group["scale"]
        if position + 64 > len(images):
            order, position = torch.randperm(len(images), generator=generator), 0
        batch = order[position : position + 64]
        position += 64
        loss = nn.functional.cross_entropy(net(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        with torch.no_grad():  # weight_decay 5e-4 on every blob (decay_mult 1)
            for parameter in weights + biases:
                parameter.grad.add_(parameter, alpha=5e-4)
        optimizer.step()
    net.eval()
    test_images, test_labels = load_mnist("test")
    accuracy = evaluate(net, test_images, test_labels)
    return net, accuracy, time.perf_counter() - started


def wrap(net: nn.Module, name: str, mean: torch.Tensor | None) -> Classifier:
    model = net if mean is None else MeanSubtracted(net, mean)
    return Classifier(model.eval(), input_shape=(1, 28, 28), labels=MNIST_LABELS, name=name,
                      backend="torch")  # fmt: skip


def run_once(classifier: Classifier, encoding: str, seed: int, generations: int,
             crossover: bool) -> dict[str, object]:  # fmt: skip
    genomes = make_encoding(encoding, classifier.input_shape, device="cpu")
    run = Evolution(classifier, genomes, population=200, seed=seed)
    if crossover:
        run.emitter = CrossoverEmitter(genomes, population=200, seed=seed)
    first, at_within, weakest = None, 0, 0.0
    for generation in range(generations + 1):
        run.step()
        confidence = run.archive.confidence
        if generation == WITHIN:
            at_within = int((confidence >= PAPER_LEVEL).sum())
            weakest = float(confidence.min())
        if first is None and float(confidence.min()) >= PAPER_LEVEL:
            first = generation
            if generation >= WITHIN:
                break
    return {
        "seed": seed,
        "first_all_at_0.9999": first,
        f"digits_at_0.9999_by_{WITHIN}": at_within,
        f"weakest_at_{WITHIN}": round(weakest, 6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--caffe-iterations", type=int, default=CAFFE_ITERATIONS,
                        help="fewer for a quick check of the script only")  # fmt: skip
    args = parser.parse_args()
    figures = {"benchmark": "mnist_fifty", **machine(torch.device("cpu")), "settings": {
        "population": 200, "generations": args.generations, "seeds": args.seeds,
        "level": PAPER_LEVEL, "within": WITHIN}, "networks": {}, "variants": []}  # fmt: skip

    mean_image = load_mnist("train")[0].mean(0, keepdim=True)
    test_images, test_labels = load_mnist("test")
    networks = {
        "lenet-mnist": load_lenet(),
        "lenet-mnist-b": load_lenet(shipped_weights_path("lenet-mnist-b")),
    }
    for name, net in networks.items():
        figures["networks"][name] = {
            "recipe": "fooling's LENET_RECIPE: 5 epochs, lr 0.03 falling linearly",
            "test_accuracy": evaluate(net, test_images, test_labels),
        }
    net, accuracy, seconds = caffe_lenet(iterations=args.caffe_iterations)
    networks["caffe-recipe"] = net
    figures["networks"]["caffe-recipe"] = {
        "recipe": "Caffe lenet_solver.prototxt: 10,000 x 64, lr 0.01 inv (1e-4, 0.75), "
        "momentum 0.9, decay 5e-4, biases x2, Xavier", "test_accuracy": accuracy,
        "train_seconds": round(seconds, 1)}  # fmt: skip
    print(f"caffe-recipe LeNet: test accuracy {accuracy:.4f} ({seconds:.0f} s)", flush=True)

    variants = [  # (network, encoding, mean-subtracted input, SBX crossover)
        ("lenet-mnist", "direct", False, False),
        ("lenet-mnist", "direct", True, False),
        ("lenet-mnist", "direct", False, True),
        ("lenet-mnist", "direct", True, True),
        ("lenet-mnist-b", "direct", False, False),
        ("caffe-recipe", "direct", False, False),
        ("caffe-recipe", "direct", True, False),
        ("caffe-recipe", "direct", True, True),
        ("lenet-mnist", "cppn", False, False),
        ("caffe-recipe", "cppn", False, False),
        ("caffe-recipe", "cppn", True, False),
    ]
    for network, encoding, mean, crossover in variants:
        classifier = wrap(networks[network], network, mean_image if mean else None)
        started = time.perf_counter()
        runs = [run_once(classifier, encoding, seed, args.generations, crossover)
                for seed in range(args.seeds)]  # fmt: skip
        firsts = [run["first_all_at_0.9999"] for run in runs]
        variant = {
            "network": network, "encoding": encoding, "mean_subtracted_input": mean,
            "sbx_crossover": crossover, "runs": runs,
            f"runs_all_by_{WITHIN}": sum(f is not None and f <= WITHIN for f in firsts),
            "median_digits_by_50": statistics.median(r[f"digits_at_0.9999_by_{WITHIN}"]
                                                     for r in runs),
            "seconds": round(time.perf_counter() - started, 1),
        }  # fmt: skip
        figures["variants"].append(variant)
        print(f"{network:14s} {encoding:6s} mean={mean!s:5s} sbx={crossover!s:5s} "
              f"first all>=99.99%: {firsts}  digits by 50: "
              f"{[r[f'digits_at_0.9999_by_{WITHIN}'] for r in runs]}", flush=True)  # fmt: skip
    save("mnist_fifty_cpu", figures)


if __name__ == "__main__":
    main()
