"""The integrity checks: missing files, untracked files, checksum mismatches (Immich's
``integrityCheck`` queue), and the removal of what their reports point at."""

from immich_trio.actors.integrity.actor import JOBS, IntegrityActor

__all__ = ["JOBS", "IntegrityActor"]
