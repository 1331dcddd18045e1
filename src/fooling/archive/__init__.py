"""The Archive role: MAP-Elites over classes."""

from fooling.archive.elites import Archive

__all__ = ["Archive"]
