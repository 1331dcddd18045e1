"""Reports built from steps: the paper re-run (`reproduce`) and a model's audit (`audit`)."""

from fooling.reproduce.run import Plan, check_packages, run_plan

__all__ = ["Plan", "check_packages", "run_plan"]
