"""Rows of the Libraries tag: admin only (403 ``Forbidden`` for everyone else, links included).

The world has no library, so the rows aim at an id that is none (the owner's user id): the admin
passes the guard and meets Immich's ``Library not found``, which changes nothing; the 2xx answers
on a real library are in ``tests/http/test_libraries.py``.
"""

from __future__ import annotations

from tests.http.access.vocabulary import Outcome, Row, admin_only, refused


def _admin_meets(outcome: Outcome) -> dict[str, Outcome]:
    return {**admin_only(), "admin": outcome}


NOT_FOUND = refused(400, "Library not found")

LIBRARY_ROWS: tuple[Row, ...] = (
    Row(op="getLibrary", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/libraries/{t}", None), expect=_admin_meets(NOT_FOUND)),
    Row(op="updateLibrary", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("PUT", f"/api/libraries/{t}", {"name": "x"}), expect=_admin_meets(NOT_FOUND)),
    Row(op="deleteLibrary", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("DELETE", f"/api/libraries/{t}", None), expect=_admin_meets(NOT_FOUND)),
    Row(op="scanLibrary", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("POST", f"/api/libraries/{t}/scan", None), expect=_admin_meets(NOT_FOUND)),
    Row(op="getLibraryStatistics", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("GET", f"/api/libraries/{t}/statistics", None),
        expect=_admin_meets(Outcome(400))),  # "Library <id> not found"
    Row(op="validate", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("POST", f"/api/libraries/{t}/validate", {"importPaths": []}),
        expect=admin_only(200)),
    # createLibrary's ownerId: any user may own a library, only an admin may create one
    Row(op="createLibrary", target=lambda w: w.owner_id, asset=False,
        request=lambda w, t: ("POST", "/api/libraries", {"ownerId": t, "importPaths": []}),
        expect=admin_only(201)),
)
