"""FGSM, PGD and Carlini-Wagner attacks through foolbox, on any differentiable Classifier.

foolbox (extra `adversarial`) does the attacking; this module feeds it the
classifier with its own preprocessing, in [0, 1] pixel space, and measures
what each attack did to each image.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from fooling.classifiers import Classifier
from fooling.errors import FoolingError
from fooling.limits import BATCH_SIZE, EPS, SEED, STEPS

ATTACKS = ("fgsm", "pgd", "cw")


@dataclass
class AttackResult:
    """What an attack did, per image.

    Attributes:
        attack: `"fgsm"`, `"pgd"` or `"cw"`.
        eps: the L-infinity bound (FGSM, PGD) or L2 bound (CW) on the perturbation.
        target: the class the attack aimed at, or None (untargeted).
        originals: `float [N, C, H, W]` the images attacked.
        adversarials: the attacked images, within the bound and in `[0, 1]`.
        labels: `long [N]` the classes the attack had to move away from.
        original_predictions: `long [N]`; `original_confidences`: their probabilities.
        adversarial_predictions: `long [N]`; `adversarial_confidences`: their probabilities.
        success: `bool [N]` the prediction left the label (or reached the target).
        linf: `float [N]` the L-infinity size of each perturbation.
        l2: `float [N]` the L2 size of each perturbation.
    """

    attack: str
    eps: float
    target: int | None
    originals: torch.Tensor
    adversarials: torch.Tensor
    labels: torch.Tensor
    original_predictions: torch.Tensor
    original_confidences: torch.Tensor
    adversarial_predictions: torch.Tensor
    adversarial_confidences: torch.Tensor
    success: torch.Tensor
    linf: torch.Tensor
    l2: torch.Tensor

    @property
    def success_rate(self) -> float:
        return self.success.float().mean().item()


def check_attack(
    classifier: Classifier,
    *,
    method: str,
    eps: float,
    target: int | None = None,
    steps: int = 100,
    batch_size: int = 500,
    seed: int = 0,
) -> None:
    """Raise now if `attack` with these arguments cannot run (see `attack`).

    Raises:
        FoolingError: foolbox is missing, the classifier is a black box, or a bad setting.
    """
    try:
        import foolbox  # noqa: F401
    except ImportError:
        raise FoolingError("adversarial attacks need foolbox: pip install foolbox") from None
    if not classifier.differentiable:
        raise FoolingError(f"attacks need gradients, and {classifier.name} is a black box (ONNX)")
    if method not in ATTACKS:
        raise FoolingError(f"unknown attack {method!r}; choose one of: {', '.join(ATTACKS)}")
    EPS.check(eps)
    STEPS.check(steps)
    BATCH_SIZE.check(batch_size)
    SEED.check(seed)
    if target is not None and not 0 <= target < classifier.num_classes:
        raise FoolingError(f"target class {target} out of range 0..{classifier.num_classes - 1}")


class _Logits(nn.Module):
    """The classifier as foolbox wants it: `[0, 1]` images in, log-probabilities out."""

    def __init__(self, classifier: Classifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.log_probabilities(images)


@contextmanager
def _weights_frozen(model: object) -> Iterator[None]:
    """No gradients for a torch model's weights while it is attacked.

    foolbox takes its gradients with `backward()`, which would also compute every weight's,
    though only the images' are used: a tenth of PGD's time on LeNet
    (`benchmarks/gradient_weights.py`).
    """
    weights = list(model.parameters()) if isinstance(model, nn.Module) else []
    wanted = [weight.requires_grad for weight in weights]
    try:
        for weight in weights:
            weight.requires_grad_(False)
        yield
    finally:
        for weight, flag in zip(weights, wanted, strict=True):
            weight.requires_grad_(flag)


def attack(
    classifier: Classifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    method: str,
    eps: float,
    target: int | None = None,
    steps: int = 100,
    batch_size: int = 500,
    seed: int = 0,
    progress: bool = False,
) -> AttackResult:
    """Attack each image within `eps` of itself.

    Args:
        classifier: a differentiable classifier.
        images: `float [N, C, H, W]` in `[0, 1]`.
        labels: `long [N]` each image's class (its true label, or what the
            classifier says it is).
        method: `"fgsm"`, `"pgd"` (L-infinity) or `"cw"` (Carlini-Wagner, L2).
        eps: the bound: L-infinity for FGSM and PGD, L2 for CW.
        target: a class to reach (targeted attack); None to just leave `labels`.
        steps: iterations for PGD and CW.
        batch_size: images attacked at once.
        seed: seeds the attack's random start (PGD starts at a random point in the
            ball), without touching the caller's random state.
        progress: show a progress bar over the batches.

    Returns:
        Per image, the adversarial image, both predictions and the perturbation's size.

    Raises:
        FoolingError: foolbox is missing, the classifier is a black box, or a bad setting.
    """
    check_attack(classifier, method=method, eps=eps, target=target, steps=steps,
                 batch_size=batch_size, seed=seed)  # fmt: skip
    import foolbox

    runner = {
        "fgsm": lambda: foolbox.attacks.LinfFastGradientAttack(),
        "pgd": lambda: foolbox.attacks.LinfPGD(steps=steps, rel_stepsize=2.5 / steps),
        # foolbox's defaults (stepsize 0.01, initial_const 1e-3) left 2 of 10 real digits
        # unattacked in 100 steps; these found all 10, at L2 1.0-2.1 (measured)
        "cw": lambda: foolbox.attacks.L2CarliniWagnerAttack(
            steps=steps, stepsize=0.05, initial_const=1.0
        ),
    }[method]()
    model = foolbox.PyTorchModel(_Logits(classifier).eval(), bounds=(0, 1))
    device = classifier.device
    adversarials = []
    batches = list(zip(images.split(batch_size), labels.split(batch_size), strict=True))
    with (
        torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
        _weights_frozen(classifier.model),
    ):
        torch.manual_seed(seed)
        for chunk, chunk_labels in tqdm(batches, desc=method, unit="batch", disable=not progress):
            chunk, chunk_labels = chunk.to(device), chunk_labels.to(device)
            criterion = (
                foolbox.criteria.TargetedMisclassification(torch.full_like(chunk_labels, target))
                if target is not None
                else foolbox.criteria.Misclassification(chunk_labels)
            )
            _, clipped, _ = runner(model, chunk, criterion, epsilons=eps)
            adversarials.append(clipped.detach())
    adversarial = torch.cat(adversarials)
    images, labels = images.to(device), labels.to(device)
    before, after = (
        classifier.exact_probabilities(images),
        classifier.exact_probabilities(adversarial),
    )
    predicted = after.argmax(dim=1)
    success = predicted == target if target is not None else predicted != labels
    change = (adversarial - images).flatten(1)
    return AttackResult(
        attack=method, eps=eps, target=target, originals=images.cpu(),
        adversarials=adversarial.cpu(), labels=labels.cpu(),
        original_predictions=before.argmax(dim=1).cpu(),
        original_confidences=before.max(dim=1).values.cpu(),
        adversarial_predictions=predicted.cpu(),
        adversarial_confidences=after.max(dim=1).values.cpu(), success=success.cpu(),
        linf=change.abs().max(dim=1).values.cpu(), l2=change.norm(dim=1).cpu(),
    )  # fmt: skip
