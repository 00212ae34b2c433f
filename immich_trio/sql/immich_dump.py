"""Restoring a dump of Immich's database (``pg_dump``, plain SQL, maybe gzipped) into ours.

Immich's databases carry extensions that a PostgreSQL may lack (the embedded one has
``vector``, ``cube``, ``earthdistance``, ``pg_trgm``, ``unaccent``, but neither ``uuid-ossp``
nor VectorChord's ``vchord``). When the target server cannot install one of them the dump is
rewritten on the way, line by line:

- ``uuid-ossp``: Immich uses only its ``uuid_generate_v4()``, as column defaults. Its
  ``CREATE EXTENSION`` is replaced by a plain SQL function ``public.uuid_generate_v4()``
  returning ``gen_random_uuid()`` (the same random version-4 UUIDs, built into PostgreSQL since
  13), created in the same transaction before the tables that use it. Immich itself creates
  ``uuid-ossp`` only in its initial migration, which an adopted database has already run, so
  Immich keeps working on the database afterwards; a ``pg_dump`` of it restores anywhere.
- ``vchord``: its ``CREATE EXTENSION`` is left out and the ``vchordrq`` vector indexes
  (``clip_index``, ``face_index``) become pgvector ``hnsw`` indexes on the same columns (the
  embeddings are pgvector ``vector`` values either way). Immich started on such a database
  with ``DB_VECTOR_EXTENSION`` unset finds pgvector and uses it.

The whole dump runs with ``psql --single-transaction -v ON_ERROR_STOP=1``: it is restored
entirely or not at all.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

UUID_V4_FUNCTION = (
    "CREATE FUNCTION public.uuid_generate_v4() RETURNS uuid"
    " LANGUAGE sql VOLATILE PARALLEL SAFE"
    " AS 'SELECT pg_catalog.gen_random_uuid()';\n"
    "COMMENT ON FUNCTION public.uuid_generate_v4() IS"
    " 'uuid-ossp''s uuid_generate_v4, provided by immich-trio where the extension is missing';\n"
)

_EXTENSION_RE = re.compile(
    r'^(CREATE EXTENSION|COMMENT ON EXTENSION) (IF NOT EXISTS )?"?([a-z_\-]+)"?'
)
_VCHORD_INDEX_RE = re.compile(r"USING vchordrq \((?P<col>[^)]*)\).*$", re.DOTALL)
_HNSW = "USING hnsw (\\g<col>) WITH (ef_construction='300', m='16');\n"


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def rewrite_lines(lines: Iterable[str], missing: frozenset[str]) -> Iterator[str]:
    """The dump's lines, with the extensions of ``missing`` handled as the module says."""
    skipping_options = False  # inside the multi-line options of a vchordrq index
    for line in lines:
        if skipping_options:
            skipping_options = not line.rstrip().endswith(";")
            continue
        match = _EXTENSION_RE.match(line)
        if match is not None and match.group(3) in missing:
            extension = match.group(3)
            yield f"-- immich-trio: {match.group(1)} {extension} left out (not available here)\n"
            if extension == "uuid-ossp" and match.group(1) == "CREATE EXTENSION":
                yield UUID_V4_FUNCTION
            continue
        if "vchord" in missing and "USING vchordrq (" in line:
            # The options (vchordrq's TOML) may span lines; the statement ends at the ";".
            skipping_options = not line.rstrip().endswith(";")
            line = _VCHORD_INDEX_RE.sub(_HNSW, line)
        yield line


def rewrite_dump(source: Path, target: Path, missing: frozenset[str]) -> None:
    """Write the plain SQL of ``source`` (``.sql`` or ``.sql.gz``) to ``target``, rewritten (blocking)."""
    with _open_text(source) as dump, target.open("w", encoding="utf-8") as out:
        out.writelines(rewrite_lines(dump, missing))
