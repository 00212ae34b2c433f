"""The response check that the HTTP tests' client applies: it catches what it should."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.http.response_schema import ResponseMismatch, check, mismatch

USER = {"$ref": "#/components/schemas/UserResponseDto"}


def _user(**changes: Any) -> dict[str, Any]:
    user = {
        "id": "0190a6a8-7c4b-7d2e-9f00-3b5a1c2d4e6f",  # version 7, as Immich's ids are
        "email": "a@example.com",
        "name": "A",
        "profileImagePath": "",
        "avatarColor": "red",
        "profileChangedAt": "2024-01-15T10:30:00.123Z",
    }
    user.update(changes)
    return {k: v for k, v in user.items() if v is not ...}


def test_a_matching_body_passes() -> None:
    assert mismatch(USER, _user()) is None
    # rows aggregated to JSON in SQL keep PostgreSQL's offset form
    assert mismatch(USER, _user(profileChangedAt="2024-01-15T10:30:00+00:00")) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"extra": 1}, "$: key 'extra' is not in the schema"),
        ({"email": ...}, "$: required key 'email' is missing"),
        ({"name": None}, "$.name: null where the schema is not nullable"),
        ({"avatarColor": "teal"}, '$.avatarColor: "teal" is not one of'),
        ({"id": "42"}, '$.id: "42" is not an ISO uuid'),
        ({"profileChangedAt": "2024-01-15 10:30"}, "$.profileChangedAt: "),
        ({"name": 3}, "$.name: expected a string, got 3"),
    ],
)
def test_a_difference_is_named_with_its_path(changes: dict[str, Any], expected: str) -> None:
    found = mismatch(USER, _user(**changes))
    assert found is not None and found.startswith(expected)


def test_nested_arrays_report_the_index() -> None:
    schema = {"type": "array", "items": USER}
    found = mismatch(schema, [_user(), _user(isAdmin=True)])
    assert found == "$[1]: key 'isAdmin' is not in the schema"


def test_check_names_operation_and_status() -> None:
    body = b'{"res":"pong","extra":true}'
    with pytest.raises(ResponseMismatch, match=r"pingServer answered 200: .* key 'extra'"):
        check("pingServer", 200, "application/json", body)
    with pytest.raises(ResponseMismatch, match="pingServer answered 201: the spec declares no"):
        check("pingServer", 201, "application/json", b'{"res":"pong"}')
    with pytest.raises(ResponseMismatch, match="expected JSON"):
        check("pingServer", 200, "text/plain", b"pong")
    check("pingServer", 200, "application/json", b'{"res":"pong"}')
    check("pingServer", 404, "application/json", b'{"message":"x"}')  # errors are not in the spec


def test_only_immichs_known_extra_key_is_excused() -> None:
    bucket = {
        key: []
        for key in (
            "duration id visibility isFavorite isImage isTrashed livePhotoVideoId fileCreatedAt"
            " localOffsetHours createdAt ownerId projectionType ratio thumbhash status"
        ).split()
    }
    check("getTimeBucket", 200, "application/json", _json(bucket))
    with pytest.raises(ResponseMismatch, match="key 'bogus'"):
        check("getTimeBucket", 200, "application/json", _json({**bucket, "bogus": []}))


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()
