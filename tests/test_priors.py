"""Image priors for ascent: Fourier and CPPN parameterisations, random transforms (real LeNet)."""

import pytest
import torch
from test_cli_errors import fails_with_one_line

from fooling.cli import main
from fooling.errors import FoolingError
from fooling.search.ascent import ascend
from fooling.search.priors import Parameterisation, Transforms


def high_frequency_share(images: torch.Tensor) -> float:
    """The share of an image's spectral energy above half the Nyquist frequency."""
    spectrum = torch.fft.rfft2(images - images.mean(dim=(-2, -1), keepdim=True)).abs() ** 2
    fy = torch.fft.fftfreq(images.shape[-2])[:, None].abs()
    fx = torch.fft.rfftfreq(images.shape[-1])[None, :]
    high = (fx.maximum(fy) > 0.25).expand_as(spectrum[0, 0])
    return float(spectrum[..., high].sum() / spectrum.sum())


@pytest.mark.parametrize("channels", [1, 3])
def test_fourier_images_are_valid_and_their_energy_sits_in_low_frequencies(channels):
    generator = torch.Generator().manual_seed(0)
    fourier = Parameterisation("fft", (4, channels, 32, 32), generator)
    images = fourier.images()
    assert images.shape == (4, channels, 32, 32) and images.min() >= 0 and images.max() <= 1
    images.sum().backward()
    assert fourier.values.grad is not None and bool((fourier.values.grad != 0).any())
    noise = torch.rand(4, channels, 32, 32, generator=generator)
    assert high_frequency_share(fourier.images().detach()) < high_frequency_share(noise) / 3


def test_cppn_images_come_from_fixed_networks_whose_weights_carry_gradients():
    cppn = Parameterisation("cppn", (3, 1, 28, 28), torch.Generator().manual_seed(0))
    images = cppn.images()
    assert torch.allclose(images, cppn.encoding.render(cppn.genomes), atol=2e-5)
    images.mean().backward()
    assert bool((cppn.values.grad != 0).any())


def test_the_priors_take_transforms_scaled_to_the_image_and_pixels_none():
    assert Transforms.default("fft", 224) == Transforms(jitter=8, scale=(0.9, 1.1), rotate=10)
    assert Transforms.default("cppn", 28).jitter == 1
    assert not Transforms.default("pixel", 224).any


@pytest.mark.parametrize(
    ("settings", "match"),
    [({"jitter": -1}, "jitter"), ({"scale": (0.0, 1.0)}, "scale"),
     ({"scale": (1.2, 0.8)}, "low <= high"), ({"rotate": 200.0}, "rotate")],
)  # fmt: skip
def test_bad_transforms_are_refused(settings, match):
    with pytest.raises(FoolingError, match=match):
        Transforms(**settings)


def test_transforms_keep_the_shape_move_the_image_and_pass_gradients():
    images = torch.rand(2, 3, 32, 32, requires_grad=True)
    generator = torch.Generator().manual_seed(0)
    assert Transforms()(images, generator) is images
    moved = Transforms(jitter=4, scale=(0.9, 1.1), rotate=10)(images, generator)
    assert moved.shape == images.shape and not torch.allclose(moved, images)
    moved.sum().backward()
    assert images.grad is not None and bool((images.grad != 0).any())


def test_fourier_ascent_with_transforms_fools_lenet_and_saves_untransformed_images(lenet):
    transforms = Transforms(jitter=2, scale=(0.95, 1.05), rotate=5)
    result = ascend(lenet, steps=100, param="fft", transforms=transforms, threshold=0.99,
                    progress=False)  # fmt: skip
    assert result.fooled(0.99) == 10, result.confidences  # measured: 14 steps
    assert result.history[-1].evaluations == 2 * 10 * (result.generations + 1)
    rescored = lenet.exact_probabilities(result.images.float() / 255)
    assert torch.allclose(rescored[torch.arange(10), torch.arange(10)], result.confidences,
                          atol=1e-5)  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--param", "fft", "--l2", "0.01"], "they are for --param pixel"),
        (["--param", "cppn", "--start", "mean"], "they are for --param pixel"),
        (["--scale", "1.2", "0.8"], "needs LOW <= HIGH"),
        (["--rotate", "200"], "--rotate: must be"),
        (["--jitter", "-1"], "--jitter: must be"),
    ],
)
def test_bad_prior_options_are_one_line(capsys, tmp_path, argv, match):
    out = tmp_path / "run"
    fails_with_one_line(capsys, ["ascend", *argv, "--out", str(out)], match)
    assert not out.exists()


def test_the_command_runs_a_fourier_ascent(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["ascend", "--param", "fft", "--jitter", "1", "--steps", "60", "--threshold", "0.99"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    assert "10/10 classes >= 0.99" in capsys.readouterr().out
