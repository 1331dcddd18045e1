"""Adversarial examples through foolbox, against the real LeNet on real MNIST test digits."""

import builtins
import json

import pytest
import torch

import fooling
from fooling.adversarial import attack
from fooling.classifiers import load_classifier
from fooling.cli import main
from fooling.data.mnist import load_mnist


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist("test")
    return images[:100].view(-1, 1, 28, 28), labels[:100]


def test_fgsm_stays_in_its_ball_and_pgd_does_better(lenet, digits):
    images, labels = digits
    fgsm = attack(lenet, images, labels, method="fgsm", eps=0.15)
    pgd = attack(lenet, images, labels, method="pgd", eps=0.15, steps=40)
    for result in (fgsm, pgd):
        assert (result.linf <= 0.15 + 1e-6).all()
        assert result.adversarials.min() >= 0 and result.adversarials.max() <= 1
        # success means the prediction really changed
        assert torch.equal(result.success, result.adversarial_predictions != labels)
    assert 0 < fgsm.success_rate < pgd.success_rate  # iterating beats one step


def test_pgd_at_eps_0_2_fools_nearly_every_digit(lenet, digits):
    result = attack(lenet, *digits, method="pgd", eps=0.2, steps=40)
    assert result.success_rate >= 0.9


def test_an_attack_computes_no_gradient_for_the_weights_and_leaves_them_trainable(digits):
    lenet = load_classifier("lenet-mnist", "cpu")  # its own: no other test's gradients
    attack(lenet, *digits, method="pgd", eps=0.1, steps=5)
    weights = list(lenet.model.parameters())
    assert all(weight.grad is None for weight in weights)  # foolbox's backward() skipped them
    assert all(weight.requires_grad for weight in weights)


def test_a_targeted_attack_reaches_its_class(lenet, digits):
    images, labels = digits
    keep = labels != 3
    result = attack(lenet, images[keep][:30], labels[keep][:30], method="pgd", eps=0.3,
                    target=3, steps=40)  # fmt: skip
    assert result.success_rate >= 0.8
    assert (result.adversarial_predictions[result.success] == 3).all()


def test_carlini_wagner_keeps_to_its_l2_bound(lenet, digits):
    images, labels = digits
    result = attack(lenet, images[:10], labels[:10], method="cw", eps=3.0, steps=30)
    assert (result.l2 <= 3.0 + 1e-4).all()
    assert result.success_rate > 0


def test_the_hen_is_nudged_into_another_class(tmp_path, capsys):
    out = tmp_path / "hen"
    argv = ["adversarial", "--classifier", "efficientnet-lite0", "--attack", "pgd", "--eps", "0.01"]
    argv += ["--steps", "10", "--out", str(out), "tests/data/hen_256.png"]
    assert main(argv) == 0
    assert "1/1 attacks succeeded" in capsys.readouterr().out
    item = json.loads((out / "summary.json").read_text())["items"][0]
    assert item["original"]["label"] == "hen" and item["adversarial"]["label"] != "hen"
    assert item["linf"] <= 0.01 + 1e-6
    for name in ("original", "perturbation", "adversarial"):
        assert (out / item["images"][name]).is_file()
    assert (out / "gallery.html").read_text().count("data:image/png;base64,") == 3


def test_a_black_box_is_refused(digits):
    classifier = fooling.Classifier(
        lambda images: torch.zeros(len(images), 10),
        input_shape=(1, 28, 28),
        labels=list("0123456789"),
    )
    with pytest.raises(fooling.FoolingError, match="need gradients"):
        attack(classifier, *digits, method="fgsm", eps=0.1)


def test_without_foolbox_the_message_says_what_to_install(lenet, digits, monkeypatch):
    real_import = builtins.__import__

    def without_foolbox(name, *args, **kwargs):
        if name == "foolbox":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_foolbox)
    with pytest.raises(fooling.FoolingError, match="pip install foolbox"):
        attack(lenet, *digits, method="fgsm", eps=0.1)


def test_a_targeted_run_leaves_out_digits_already_of_the_target(tmp_path, capsys):
    out = tmp_path / "to3"
    argv = ["adversarial", "--attack", "pgd", "--eps", "0.3", "--targeted", "3", "--steps", "20"]
    assert main([*argv, "--count", "50", "--out", str(out)]) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["targeted"] == "3"
    assert all(item["label"] != "3" for item in summary["items"])
    assert summary["images"] == 50 - int((load_mnist("test")[1][:50] == 3).sum())
