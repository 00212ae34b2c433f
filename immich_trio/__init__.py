"""A drop-in replacement for the Immich photo server, written in Python on Trio."""

from __future__ import annotations

__version__ = "0.1.0"

# The Immich API version this server speaks and reports.
IMMICH_VERSION = (3, 1, 0)
IMMICH_VERSION_STRING = "v3.1.0"
