"""The Classifier role: a model seen as images in [0, 1] -> class probabilities."""

from fooling.classifiers.classifier import Classifier
from fooling.classifiers.lenet import LeNet, load_lenet
from fooling.classifiers.registry import BUILT_IN, load_classifier, resolve_device

__all__ = ["BUILT_IN", "Classifier", "LeNet", "load_classifier", "load_lenet", "resolve_device"]
