"""External libraries: the scanner actor (``actor.py``: the ``library`` queue's jobs), the
bounded-memory disk walk and exclusion patterns (``walk.py``) and the watcher of import paths
(``watch.py``)."""

from __future__ import annotations

from immich_trio.actors.library_scanner.actor import JOBS, LibraryScannerActor

__all__ = ["JOBS", "LibraryScannerActor"]
