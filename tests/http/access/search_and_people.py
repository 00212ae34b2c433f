"""Rows of the routes that find assets: search (metadata, random, statistics, smart, large
assets), people and faces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.http.access.vocabulary import (
    FORBIDDEN,
    Check,
    Outcome,
    Row,
    _same,
    asset_read,
    file_route,
    no_access,
    ok,
    own_row,
    photo,
    refused,
    shows,
)
from tests.http.access.world import ACTORS, World

# -- Search (in the owner's album) ------------------------------------------------------------


def _search_found(count: int) -> Check:
    return lambda w, body: [a["id"] for a in body["assets"]["items"]] == [w.photo] * count


def _listed(count: int) -> Check:  # random has no id filter: the album's photo and video
    return lambda w, body: {a["id"] for a in body} == ({w.photo, w.video} if count else set())


def _search_row(op: str, path: str, found: Callable[[int], Check], link: Outcome) -> Row:
    """A search in the owner's album: only the owner (and its album link, where links may
    search) finds the album's assets; everyone else finds nothing."""
    return Row(
        op=op, target=photo, asset=False,
        request=lambda w, t: ("POST", path, {"albumIds": [w.album], "id": t}),
        expect={actor: ok(check=found(0)) for actor in ACTORS} | {
            "owner": ok(check=found(1)), "album_link": link, "asset_link": link},
    )


SEARCH_ROWS: tuple[Row, ...] = (
    Row(op="searchAssets", target=photo, asset=False,
        request=lambda w, t: ("POST", "/api/search/metadata", {"albumIds": [w.album], "id": t}),
        expect={actor: ok(check=_search_found(0)) for actor in ACTORS} | {
            "owner": ok(check=_search_found(1)), "album_link": ok(check=_search_found(1)),
            "asset_link": refused(400, "Not found or no album.read access")}),
    _search_row("searchRandom", "/api/search/random", _listed, FORBIDDEN),
    _search_row("searchAssetStatistics", "/api/search/statistics",
                lambda n: lambda w, body: body == {"total": 2 * n}, FORBIDDEN),
    # By a stored embedding: asset.read on queryAssetId, then Immich's 400 for an asset
    # without one (the world stores none); links may not smart-search at all.
    Row(op="searchSmart", target=photo,
        request=lambda w, t: ("POST", "/api/search/smart", {"queryAssetId": t}),
        expect={actor: (ok(400, check=lambda w, body: body["message"].endswith(" has no embedding"))
                        if not o.refused else o)
                for actor, o in asset_read("asset.read", links=False).items()}),
    Row(op="searchLargeAssets", target=photo, asset=False,
        request=lambda w, t: ("POST", "/api/search/large-assets?minFileSize=0", None),
        expect={actor: ok(check=lambda w, body: w.photo not in {a["id"] for a in body}) for actor in ACTORS} | {
            "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
)


# -- People and faces (the owner's person with a face on the photo; routes admit no link) -------


def _person(w: World) -> str:
    return w.person


def _face(w: World) -> str:
    return w.face


def person_rule(permission: str, status: int = 200, check: Check | None = None) -> dict[str, Outcome]:
    """Only the person's owner; links are refused at the route (no shared-link access)."""
    return own_row(status, no_access(permission)) | {"owner": ok(status, check)}


def _people_listed(w: World, body: Any) -> bool:
    return [p["id"] for p in body["people"]] == [w.person]


def _faces_seen(owner: bool) -> Check:
    def check(w: World, body: Any) -> bool:
        [face] = body
        return bool(face["id"] == w.face and (face["person"] or {}).get("id") == (w.person if owner else None))

    return check


def _bulk(success: bool) -> Check:
    def check(w: World, body: Any) -> bool:
        wanted = {"id": w.person, "success": True} if success else {"id": w.person, "success": False, "error": "unknown"}
        return bool(body == [wanted])

    return check


_FACE_BOX = {"imageWidth": 100, "imageHeight": 100, "x": 50, "y": 50, "width": 20, "height": 20}

PEOPLE_ROWS: tuple[Row, ...] = (
    Row(op="getPerson", target=_person, asset=False, request=lambda w, t: ("GET", f"/api/people/{t}", None),
        expect=person_rule("person.read", check=lambda w, b: shows(w, b, w.person))),
    Row(op="getPersonStatistics", target=_person, asset=False,
        request=lambda w, t: ("GET", f"/api/people/{t}/statistics", None),
        expect=person_rule("person.read", check=lambda w, b: b == {"assets": 1})),
    Row(op="getPersonThumbnail", target=_person, asset=False,
        request=lambda w, t: ("GET", f"/api/people/{t}/thumbnail", None),
        expect=file_route(person_rule("person.read"))),
    Row(op="updatePerson", target=_person, asset=False,
        request=lambda w, t: ("PUT", f"/api/people/{t}", {"name": "Renamed"}),
        expect=person_rule("person.update", check=lambda w, b: b["name"] == "Renamed")),
    Row(op="updatePeople", target=_person, asset=False,
        request=lambda w, t: ("PUT", "/api/people", {"people": [{"id": t, "name": "Renamed"}]}),
        expect=own_row(200, ok(check=_bulk(False))) | {"owner": ok(check=_bulk(True))}),
    # Immich reads the closest person without an access check, then lists the caller's own people.
    Row(op="getAllPeople", target=_person, asset=False,
        request=lambda w, t: ("GET", f"/api/people?closestPersonId={t}", None),
        expect=own_row(200, ok(check=lambda w, b: b["people"] == [])) | {"owner": ok(check=_people_listed)}),
    Row(op="mergePerson", target=_person, asset=False,
        request=lambda w, t: ("POST", f"/api/people/{t}/merge", {"ids": [w.person2]}),
        expect=person_rule("person.update", check=lambda w, b: b == [{"id": w.person2, "success": True}])),
    Row(op="reassignFaces", target=lambda w: w.person2, asset=False,
        request=lambda w, t: ("PUT", f"/api/people/{t}/reassign", {"data": [{"personId": w.person, "assetId": w.photo}]}),
        expect=person_rule("person.update", check=lambda w, b: [p["id"] for p in b] == [w.person2])),
    Row(op="reassignFacesById", target=lambda w: w.person2, asset=False,
        request=lambda w, t: ("PUT", f"/api/faces/{t}", {"id": w.face}),
        expect=person_rule("person.update", check=lambda w, b: shows(w, b, w.person2))),
    Row(op="deletePerson", target=_person, asset=False, request=lambda w, t: ("DELETE", f"/api/people/{t}", None),
        expect=person_rule("person.delete", 204)),
    Row(op="deletePeople", target=_person, asset=False,
        request=lambda w, t: ("DELETE", "/api/people", {"ids": [t]}), expect=person_rule("person.delete", 204)),
    Row(op="getFaces", target=photo, request=lambda w, t: ("GET", f"/api/faces?id={t}", None),
        expect=_same(asset_read("asset.read", links=False), owner=ok(check=_faces_seen(True)),
                     partner=ok(check=_faces_seen(False)), album_viewer=ok(check=_faces_seen(False)),
                     locked_elevated=ok(check=lambda w, b: b == []))),
    # Both the asset (asset.read) and the person (person.read) must be the caller's to read.
    Row(op="createFace", target=_person, asset=False,
        request=lambda w, t: ("POST", "/api/faces", {"assetId": w.photo, "personId": t, **_FACE_BOX}),
        expect=person_rule("person.read", 201) | {
            "other": no_access("asset.read"), "admin": no_access("asset.read")}),
    Row(op="deleteFace", target=_face, asset=False,
        request=lambda w, t: ("DELETE", f"/api/faces/{t}", {"force": False}), expect=person_rule("face.delete", 204)),
)


# -- Duplicates (the owner's group of two photos) -------------------------------------------------


def _duplicate(w: World) -> str:
    return w.duplicate


def _resolved(w: World, body: Any) -> bool:
    return bool(body == [{"id": w.duplicate, "success": True}])


DUPLICATE_ROWS: tuple[Row, ...] = (
    Row(op="deleteDuplicate", target=_duplicate, asset=False,
        request=lambda w, t: ("DELETE", f"/api/duplicates/{t}", None),
        expect=own_row(204, no_access("duplicate.delete"))),
    Row(op="deleteDuplicates", target=_duplicate, asset=False,
        request=lambda w, t: ("DELETE", "/api/duplicates", {"ids": [t]}),
        expect=own_row(204, no_access("duplicate.delete"))),
    Row(op="resolveDuplicates", target=_duplicate, asset=False,
        request=lambda w, t: ("POST", "/api/duplicates/resolve", {"groups": [
            {"duplicateId": t, "keepAssetIds": [w.duplicates[0]], "trashAssetIds": [w.duplicates[1]]}]}),
        expect=own_row(200, no_access("duplicate.delete")) | {"owner": ok(check=_resolved)}),
)
