"""The generic trainer on the real MNIST: any network, any labelled images, a recipe as data."""

import dataclasses

import pytest
import torch
from torch import nn

import fooling
from fooling.classifiers.lenet import LeNet
from fooling.data.mnist import load_mnist
from fooling.training import Recipe, evaluate, train
from fooling.training.train_lenet import LENET_RECIPE


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    return images[:6000], labels[:6000], test_images[:2000], test_labels[:2000]


def small_network(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


QUICK = Recipe(epochs=1, batch_size=64, learning_rate=0.1, schedule="cosine")


@pytest.mark.parametrize(
    "recipe", [QUICK, dataclasses.replace(QUICK, optimizer="adam", learning_rate=2e-3, epochs=2)],
    ids=["sgd-cosine", "adam"],
)  # fmt: skip
def test_a_small_network_learns_real_digits(digits, recipe):
    images, labels, test_images, test_labels = digits
    network = small_network()
    assert evaluate(network, test_images, test_labels) < 0.3
    trained = train(network, (images, labels), recipe, progress=False)
    assert trained.steps == recipe.epochs * 94 and trained.last_loss < 1.0
    assert evaluate(network, test_images, test_labels) > 0.85
    assert not network.training


def test_the_same_seed_trains_the_same_weights_and_another_does_not(digits):
    images, labels, *_ = digits
    runs = []
    for seed in (0, 0, 1):
        network = small_network()
        train(network, (images, labels), dataclasses.replace(QUICK, max_steps=30), seed=seed,
              progress=False)  # fmt: skip
        runs.append(network[1].weight.detach().clone())
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_only_the_parameters_given_are_trained(digits):
    images, labels, *_ = digits
    network = small_network()
    first, last = network[1].weight.detach().clone(), network[3].weight.detach().clone()
    train(network, (images, labels), dataclasses.replace(QUICK, max_steps=20),
          parameters=network[3].parameters(), progress=False)  # fmt: skip
    assert torch.equal(network[1].weight, first) and not torch.equal(network[3].weight, last)


class Bytes:
    """Labelled images kept as bytes and made float a batch at a time."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = (images * 255).round().to(torch.uint8), labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index].float() / 255, self.labels[index]


def test_any_labelled_images_train(digits):
    images, labels, test_images, test_labels = digits
    network = small_network()
    train(network, Bytes(images, labels), QUICK, progress=False)
    assert evaluate(network, test_images, test_labels) > 0.85


@pytest.mark.parametrize(
    ("change", "match"),
    [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"max_steps": 0}, "max_steps"),
     ({"learning_rate": 0.0}, "learning_rate"), ({"schedule": "step"}, "schedule"),
     ({"optimizer": "lbfgs"}, "optimizer")],
)  # fmt: skip
def test_a_bad_recipe_is_one_clear_error(digits, change, match):
    images, labels, *_ = digits
    with pytest.raises(fooling.FoolingError, match=match):
        train(small_network(), (images, labels), dataclasses.replace(QUICK, **change))


def test_no_images_is_an_error():
    with pytest.raises(fooling.FoolingError, match="no training images"):
        train(small_network(), (torch.zeros(0, 784), torch.zeros(0, dtype=torch.long)), QUICK)


def test_lenets_recipe_is_caffes_solver_with_a_linear_rate():
    assert (LENET_RECIPE.batch_size, LENET_RECIPE.momentum, LENET_RECIPE.weight_decay) == (
        64, 0.9, 5e-4,
    )  # fmt: skip
    assert LENET_RECIPE.rate(0, 100) == 0.03 and LENET_RECIPE.rate(50, 100) == pytest.approx(0.015)
    cosine = dataclasses.replace(LENET_RECIPE, schedule="cosine")
    assert cosine.rate(50, 100) == pytest.approx(0.015) and cosine.rate(100, 100) == 0


class Failing(Bytes):
    """Labelled images that fail at the third batch."""

    batches = 0

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.batches += 1
        if self.batches == 3:
            raise OSError("the disk went away")
        return super().__getitem__(index)


def test_channels_last_learns_what_the_default_layout_does_and_gives_the_network_back(digits):
    images, labels, *_ = digits
    networks = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        network = LeNet()
        recipe = dataclasses.replace(LENET_RECIPE, max_steps=30, channels_last=channels_last)
        train(network, (images, labels), recipe, progress=False)
        networks.append(network)
    default, channels_last = (network.state_dict() for network in networks)
    for name, weight in channels_last.items():  # the same weights but for rounding,
        assert torch.allclose(weight, default[name], atol=1e-4), name
        assert weight.is_contiguous()  # laid out as before, so that safetensors saves them
    torch.manual_seed(0)
    network = LeNet()
    with pytest.raises(OSError, match="went away"):  # and when training fails part-way too
        train(network, Failing(images, labels), LENET_RECIPE, progress=False)
    assert all(weight.is_contiguous() for weight in network.state_dict().values())
