"""Out-of-distribution detectors (pytorch-ood) fitted on a classifier's real images."""

from fooling.detectors.detector import DETECTORS, Detectors, check_detectors

__all__ = ["DETECTORS", "Detectors", "check_detectors"]
