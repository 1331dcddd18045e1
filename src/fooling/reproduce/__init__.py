"""Reports built from steps: the paper re-run (`reproduce`) and a model's audit (`audit`)."""

from fooling.reproduce.run import Plan, run_plan

__all__ = ["Plan", "run_plan"]
