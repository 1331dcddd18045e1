"""Training: a generic trainer (`train` with a `Recipe`) and LeNet's recipe on the real MNIST."""

from fooling.training.trainer import LabelledImages, Recipe, Trained, evaluate, train

__all__ = ["LabelledImages", "Recipe", "Trained", "evaluate", "train"]
