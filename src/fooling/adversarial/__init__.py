"""Adversarial examples, for contrast with fooling images: real images nudged across a boundary."""

from fooling.adversarial.attacks import ATTACKS, AttackResult, attack

__all__ = ["ATTACKS", "AttackResult", "attack"]
