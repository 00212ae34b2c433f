"""Hostile request bodies answer 4xx, never 500 (issue 7, defects 3 and 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from immich_trio.http.validation import UNSTORABLE_MESSAGE, unstorable_strings, validate
from tests.http.conftest import MakeUser

BAD = ["a\u0000b", "\ud800", "x\udfff"]


def raw_json(value: Any) -> str:
    return json.dumps(value)  # ensure_ascii: lone surrogates travel as \\udXXX escapes


def test_unstorable_strings_anywhere_in_a_value() -> None:
    value = {"a": [{"b": "ok"}, {"c\u0000": "ok"}], "d": {"e": "\ud800"}, "f": "😀"}
    paths = sorted(str(issue["path"]) for issue in unstorable_strings(value))
    assert paths == ["['a', 1, 'c\\x00']", "['d', 'e']"]
    assert unstorable_strings({"g": "😀 e\u0301 \u2028"}) == []


@pytest.mark.parametrize("bad", BAD)
def test_every_string_schema_refuses_them(bad: str) -> None:
    [issue] = validate({"type": "string"}, bad, ["name"])
    assert issue["message"] == UNSTORABLE_MESSAGE and issue["path"] == ["name"]


@pytest.mark.parametrize("bad", BAD)
async def test_user_and_api_key_names_answer_400(client: Any, make_user: MakeUser, bad: str) -> None:
    user = await make_user("nul@example.com")
    headers = {**user.headers, "Content-Type": "application/json"}
    for method, path, body in [
        ("PUT", "/api/users/me", {"name": bad}),
        ("POST", "/api/api-keys", {"name": bad, "permissions": ["all"]}),
        ("PUT", "/api/users/me/preferences", {"download": {"archiveSize": 1, "x": bad}}),
    ]:
        response = await client.open(path, method=method, headers=headers, data=raw_json(body))
        assert response.status_code == 400, (path, await response.get_data())
        assert (await response.get_json())["message"] == "Validation failed"


async def test_deeply_nested_json_answers_400(client: Any, make_user: MakeUser) -> None:
    user = await make_user("deep@example.com")
    headers = {**user.headers, "Content-Type": "application/json"}
    response = await client.put("/api/users/me", headers=headers, data="[" * 100_000)
    assert response.status_code == 400


def test_dates_before_year_1000_have_four_digit_years() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from immich_trio.http.dto import iso_z
    from immich_trio.sql.memory_generation import iso

    assert iso_z(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"
    assert iso_z(datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == "0999-12-31T23:59:59.999Z"
    assert iso_z(datetime(1, 1, 1, 5, tzinfo=timezone(timedelta(hours=2)))) == "0001-01-01T03:00:00.000Z"
    assert iso_z(datetime(2024, 2, 29, 1, 2, 3, 4000)) == "2024-02-29T01:02:03.004Z"
    assert iso(datetime(12, 6, 1, tzinfo=UTC)) == "0012-06-01T00:00:00.000Z"


def test_dates_built_in_postgres_keep_four_digit_years(sql: Any) -> None:
    [row] = sql(
        """SELECT to_char(timestamptz '0001-01-01 00:00:00+00' AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t"""
    )
    assert row[0] == "0001-01-01T00:00:00.000Z"


def test_email_pattern_is_matched_as_javascript_does() -> None:
    from immich_trio.http import spec

    schema = {"$ref": "#/components/schemas/UserUpdateMeDto"}
    assert spec.resolve(schema)
    assert validate(schema, {"email": "a@b.co"}) == []
    # Python's $ matches before a final newline; JavaScript's (and so Immich's) does not
    [issue] = validate(schema, {"email": "a@b.co\n"})
    assert issue["format"] == "email" and issue["path"] == ["email"]


def test_uuid_with_a_trailing_newline_is_refused() -> None:
    [issue] = validate({"type": "string", "format": "uuid"}, "7b2b2f51-1f4c-4e0a-9b3e-2c4a5d6e7f80\n", ["id"])
    assert issue["format"] == "uuid"
