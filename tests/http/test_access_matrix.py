"""The access matrix: every implemented route that takes an id, driven by every kind of caller.

The matrix lives in ``tests/http/access/``: ``world.py`` builds the cast and the snapshot a
refusal must leave unchanged, ``vocabulary.py`` holds ``Row``, the outcomes and the shared rule
templates, one module per tag family holds the rows, and ``rows.py`` assembles ``ROWS`` (its
docstring says which module a new route's row goes in). This module is the entry point: the
guard that every route with an id has a row, and the test that drives each row.

The cast (``access/world.py``): the owner of a photo, a video and a locked photo; a stranger
(``other``); an admin who is not the owner; a ``partner`` the owner shares with; an
``album_viewer`` of the owner's album; an ``album_link`` (album shared link, upload and
download allowed) and an ``asset_link`` (individual link to the photo and video, no download,
no metadata); and, for asset routes, the owner on the locked photo without (``locked``) and
with (``locked_elevated``) a PIN-unlocked session. Then the actors a row may leave out
(``world.EXTRA_ACTORS``): an ``album_editor`` (defaults to the viewer's outcome), the
album link without allowDownload / without allowUpload / with a password and the cookie that
proves it (default to the album link's outcome), an expired album link, which fails
authentication and so gets 401 ``Invalid share key`` on every route, and a password link without
the cookie: 401 ``Password required`` wherever links are admitted (``outcome_of``).

Each ``Row`` says, for every actor, what Immich answers: ``ok(status)`` (optionally with a check
of the body) or ``refused(status, message)`` (exact body). A refused request must also leave
every row and file unchanged (``world.snapshot``). Refused actors run first, then the
allowed ones, in ``ACTORS`` order.

Adding a route: append a ``Row`` to its tag family's block (see ``access/rows.py``) with its
operationId, a ``target`` (which id of the world it is aimed at), a ``request`` (method, path,
JSON body) and an outcome for every actor (``asset=True`` rows also for the locked actors).
``test_every_route_with_an_id_is_in_the_matrix`` fails for an implemented route that takes an id
(path or query parameter, or body field named ``id``/``...Id``/``...Ids``) and has no row;
``NOT_IDS`` lists the exceptions with their reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from immich_trio.actors.uploader import Uploader
from immich_trio.config import Settings
from immich_trio.http import registry, spec
from immich_trio.http.app import create_app
from immich_trio.runtime import Runtime
from tests.http.access.rows import ROWS
from tests.http.access.vocabulary import Request, Row, actors_of, outcome_of
from tests.http.access.world import ACTORS, DERIVED_FROM, LOCKED_ACTORS, Sql, build_world, snapshot
from tests.http.conftest import MakeUser

# Implemented routes whose id-like fields are not server ids a caller could be refused.
NOT_IDS = {
    "checkBulkUpload": "assets[].id are the client's own labels for its files",
    "updateConfig": "oauth.clientId and the like are settings, not rows",
}


# -- the guard: every route with an id is in the matrix ---------------------------------------


def _id_like(name: str) -> bool:
    return name in ("id", "ids") or name.endswith("Id") or name.endswith("Ids")


def _body_has_id(schema: Any, depth: int = 0) -> bool:
    if not isinstance(schema, dict) or depth > 3:
        return False
    schema = spec.resolve(schema)
    for name, prop in schema.get("properties", {}).items():
        if _id_like(name) or _body_has_id(prop, depth + 1):
            return True
    return _body_has_id(schema.get("items"), depth + 1)


def routes_with_ids() -> set[str]:
    class _NoPool:
        def connection(self) -> None:
            raise AssertionError("the route table needs no database")

    create_app(Runtime(settings=Settings(), pool=_NoPool()))  # type: ignore[arg-type]
    handlers = registry.handlers()
    out = set()
    for op in spec.operations().values():
        if op.hidden or op.operation_id not in handlers:
            continue
        params = [p["name"] for p in op.parameters if p["in"] in ("path", "query")]
        if any(_id_like(n) for n in params) or _body_has_id(op.body_schema):
            out.add(op.operation_id)
    return out


def test_every_route_with_an_id_is_in_the_matrix() -> None:
    in_matrix = {row.op for row in ROWS}
    needed = routes_with_ids() - set(NOT_IDS)
    assert needed == in_matrix, (
        f"routes with an id and no row: {sorted(needed - in_matrix)}; rows of no such route:"
        f" {sorted(in_matrix - needed)}. A row goes in its tag family's module under"
        " tests/http/access/ (tests/http/access/rows.py says which), or the route in NOT_IDS"
        " with its reason"
    )
    for row in ROWS:
        wanted = set(ACTORS) | (set(LOCKED_ACTORS) if row.asset else set())
        assert wanted <= set(row.expect) <= wanted | set(DERIVED_FROM), row.op


def matrix_size() -> int:
    return sum(len(actors_of(row)) for row in ROWS)


# -- driving one row ---------------------------------------------------------------------------


BOUNDARY = "access-matrix-boundary"


def _multipart(fields: Mapping[str, str]) -> bytes:
    parts = [("fileCreatedAt", "2024-01-15T10:30:00Z"), ("fileModifiedAt", "2024-01-15T10:30:00Z"), *fields.items()]
    body = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in parts
    )
    return body + (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="assetData"; filename="still.jpg"\r\n\r\n'.encode()
        + b"\xff\xd8\xff still " + BOUNDARY.encode()[:4]
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def _send(client: Any, headers: dict[str, str], request: Request, serial: int) -> Any:
    method, path, body = request
    if isinstance(body, dict) and "multipart" in body:
        data = _multipart(body["multipart"]).replace(b"still ", f"still {serial} ".encode())
        headers = {**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        return await client.open(path, method=method, headers=headers, data=data)
    return await client.open(path, method=method, headers=headers, json=body)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.op)
async def test_access(row: Row, client: Any, runtime: Runtime, uploader: Uploader, make_user: MakeUser,
                      sql: Sql) -> None:
    world = await build_world(sql, make_user, runtime.settings.media_location)
    order = actors_of(row)
    actors = sorted(order, key=lambda a: (not outcome_of(row, a).refused, order.index(a)))
    failures = []
    for serial, actor in enumerate(actors):
        expected = outcome_of(row, actor)
        target = world.locked if actor in LOCKED_ACTORS else row.target(world)
        before = snapshot(sql, world.media) if expected.refused else None
        response = await _send(client, world.headers[actor], row.request(world, target), serial)
        body = await response.get_json(silent=True)
        seen = (response.status_code, body)
        if expected.refused:
            if seen != (expected.status, {"message": expected.message}):
                failures.append(f"{actor}: expected {expected.status} {expected.message!r}, got {seen}")
            elif snapshot(sql, world.media) != before:
                failures.append(f"{actor}: refused, but something changed")
        elif response.status_code != expected.status:
            failures.append(f"{actor}: expected {expected.status}, got {seen}")
        elif expected.check is not None and not expected.check(world, body):
            failures.append(f"{actor}: body shows what it must not: {body}")
    assert not failures, "\n".join(failures)
