"""Experiments built from the same Classifier, Encoding and Archive pieces."""
