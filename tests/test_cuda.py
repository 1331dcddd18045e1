"""The CUDA paths, on a real GPU: skipped where there is none (CI has none).

Run them where a GPU is: `python -m pytest tests/test_cuda.py` (the script
`benchmarks/gpu_check.sh` does, beside the GPU benchmarks). Each test holds the
GPU to what the CPU path is already held to: the same predictions, the same
images, the same runs from the same seed, and saved confidences that a fresh
fp32 scoring of the saved PNG gives back.
"""

import json
import os
from pathlib import Path

import pytest
import torch

import fooling
from fooling.cli import main
from fooling.data.mnist import load_mnist
from fooling.encodings import CPPNEncoding
from fooling.user_files import read_image

# FOOLING_TEST_DEVICE=cpu runs them here as a dry run of the tests themselves
DEVICE = os.environ.get("FOOLING_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(
    DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU"
)

HEN = Path(__file__).parent / "data" / "hen_256.png"  # a real photo of a hen, ImageNet class 8


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist("test")
    return images[:2000].view(-1, 1, 28, 28), labels[:2000]


@pytest.fixture(scope="module")
def lenet_gpu():
    return fooling.load_classifier("lenet-mnist", DEVICE)


def test_lenet_on_the_gpu_agrees_with_the_cpu(lenet, lenet_gpu, digits):
    images, labels = digits
    on_cpu = lenet.exact_probabilities(images)
    on_gpu = lenet_gpu.exact_probabilities(images.to(DEVICE)).cpu()
    assert torch.allclose(on_cpu, on_gpu, atol=1e-4)
    assert (on_gpu.argmax(1) == labels).float().mean() >= 0.98
    searched = lenet_gpu(images.to(DEVICE)).float().cpu()  # whatever precision the search uses
    assert (searched.argmax(1) == on_cpu.argmax(1)).float().mean() >= 0.995


def test_efficientnet_on_the_gpu_sees_the_hen(efficientnet):
    on_gpu = fooling.load_classifier("efficientnet-lite0", DEVICE)
    assert on_gpu.precision == "bf16" or DEVICE != "cuda"  # auto, on a GPU
    photo = read_image(HEN, channels=3)[None]
    exact = on_gpu.exact_probabilities(photo.to(DEVICE)).cpu()[0]
    assert exact.argmax().item() == 8 and exact[8] >= 0.8
    assert torch.allclose(exact, efficientnet.exact_probabilities(photo)[0], atol=1e-3)
    assert on_gpu(photo.to(DEVICE)).float().argmax().item() == 8


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 224, 224)])
@pytest.mark.parametrize("compiled", [True, False])
def test_cppn_images_on_the_gpu_are_the_cpus_to_one_level(shape, compiled, capsys):
    """The dense renderer on the GPU against the C kernels on the CPU.

    On an H200 (torch 2.11), the compiled renderer's PNG levels differed by one from the C
    kernels' in 22% (gray) and 30% (colour) of pixels, never by more: values within 1e-3,
    where the CPU's two renderers differ in under 0.001% of levels. A genome's image is
    therefore the device's own; a run saves its images, so no result depends on this.
    """
    cpu = CPPNEncoding(shape)
    gpu = CPPNEncoding(shape, device=DEVICE, compile_on_gpu=compiled)
    genomes = cpu.random(200, torch.Generator().manual_seed(0))
    for generation in range(1, 31):  # grown, so that hidden nodes and links are in play
        genomes = cpu.mutate(genomes, generation, torch.Generator().manual_seed(generation))
    on_gpu = {key: value.to(DEVICE) for key, value in genomes.items()}
    assert torch.allclose(gpu.render(on_gpu).cpu(), cpu.render(genomes), atol=1e-3)
    levels = (gpu.render(on_gpu, levels=True).cpu() - cpu.render(genomes, levels=True)).abs()
    assert levels.max() <= 1 / 255 + 1e-6
    with capsys.disabled():
        share = (levels > 0).float().mean().item()
        print(f"\n{shape} compiled={compiled}: {share:.2%} of levels differ by one")


@pytest.mark.parametrize("encoding", ["direct", "cppn"])
def test_a_short_run_on_the_gpu_fools_lenet_and_repeats_exactly(lenet_gpu, encoding):
    def run():
        return fooling.evolve(lenet_gpu, encoding=encoding, generations=150, population=100,
                              seed=0, progress=False)  # fmt: skip

    first, second = run(), run()
    assert first.fooled(0.99) == 10, first.confidences
    assert torch.equal(first.confidences, second.confidences)  # same seed, same device


def test_a_gpu_run_resumes_as_if_never_stopped(lenet_gpu, tmp_path):
    settings = {"encoding": "cppn", "population": 50, "seed": 3, "progress": False}
    straight = fooling.evolve(lenet_gpu, generations=30, out=tmp_path / "a", **settings)
    fooling.evolve(lenet_gpu, generations=10, out=tmp_path / "b", checkpoint_every=5, **settings)
    resumed = fooling.resume(tmp_path / "b", generations=30, progress=False)
    assert torch.equal(resumed.confidences, straight.confidences)
    on_cpu = fooling.load_run(tmp_path / "b")  # a GPU run reads back anywhere
    assert torch.allclose(on_cpu.confidences, straight.confidences.cpu())


@pytest.mark.parametrize("method", ["evolve", "ascend"])
def test_the_commands_on_the_gpu_save_what_they_report(lenet, tmp_path, capsys, method):
    out = tmp_path / method
    argv = [method, "--device", DEVICE, "--classes", "3", "8", "--out", str(out), "--quiet"]
    argv += ["--generations", "100"] if method == "evolve" else ["--steps", "100"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    for cell in summary["classes"]:  # scored again on the CPU from the saved PNG
        image = read_image(out / cell["image"], channels=1)
        score = lenet.exact_probabilities(image[None])[0, cell["index"]].item()
        assert score == pytest.approx(cell["confidence"], abs=1e-4)


def test_pixel_ascent_on_the_gpu_reaches_four_nines(lenet_gpu):
    result = fooling.ascend(lenet_gpu, steps=200, seed=0, param="pixel", progress=False)
    assert (result.confidences >= 0.9999).all(), result.confidences


def test_a_short_imagenet_run_on_the_gpu_reports_fp32(tmp_path, efficientnet):
    out = tmp_path / "cppn"
    argv = ["evolve", "--classifier", "efficientnet-lite0", "--encoding", "cppn", "--device"]
    argv += [DEVICE, "--classes", "hen", "1", "--generations", "20", "--population", "40"]
    assert main([*argv, "--out", str(out), "--quiet", "--seed", "0"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluations"] == 21 * 40
    for cell in summary["classes"]:  # ranked in bf16 on the GPU; saved in fp32
        image = read_image(out / cell["image"], channels=3)
        score = efficientnet.exact_probabilities(image[None])[0, cell["index"]].item()
        assert score == pytest.approx(cell["confidence"], abs=1e-3)


def test_retraining_on_the_gpu_adds_its_class(tmp_path):
    from fooling.experiments.retrain import RetrainSettings

    tiny = RetrainSettings(
        iterations=1, fooling_per_iteration=60, held_out=30, gather_generations=8,
        gather_population=40, epochs=1, max_steps=150, generations=8, population=40,
    )  # fmt: skip
    fooling.retrain(out=tmp_path / "run", settings=tiny, device=DEVICE, progress=False)
    row = json.loads((tmp_path / "run" / "summary.json").read_text())["iterations"][-1]
    assert row["test_accuracy"] >= 0.9 and row["trained_fooling_images"] > 0


def test_adversarial_examples_on_the_gpu(lenet_gpu, digits):
    pytest.importorskip("foolbox")
    from fooling.adversarial import attack

    images, labels = digits[0][:100].to(DEVICE), digits[1][:100].to(DEVICE)
    result = attack(lenet_gpu, images, labels, method="pgd", eps=0.2, steps=40)
    assert (result.linf <= 0.2 + 1e-6).all() and result.success_rate >= 0.9
