"""The spec-driven request validator: zod-style issues on real schemas of Immich's spec."""

from __future__ import annotations

from typing import Any

import pytest

from immich_trio.http import spec
from immich_trio.http.validation import coerce_parameter, validate

V4 = "7b2b2f51-1f4c-4e0a-9b3e-2c4a5d6e7f80"
V7 = "0190f5a4-7c2e-7d3b-8a1f-5e6d7c8b9a01"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def param(path: str, method: str, name: str) -> dict[str, Any]:
    for p in spec.spec()["paths"][path][method]["parameters"]:
        if p["name"] == name:
            return p["schema"]  # type: ignore[no-any-return]
    raise KeyError(name)


def test_valid_body_has_no_issues() -> None:
    assert validate(ref("LoginCredentialDto"), {"email": "a@example.com", "password": "x"}) == []
    # unknown keys are ignored (non-strict objects)
    assert (
        validate(ref("LoginCredentialDto"), {"email": "a@b.co", "password": "", "deviceId": 1})
        == []
    )


def test_required_and_wrong_types() -> None:
    assert validate(ref("LoginCredentialDto"), {"password": 5}) == [
        {
            "expected": "string",
            "code": "invalid_type",
            "path": ["email"],
            "message": "Invalid input: expected string, received undefined",
        },
        {
            "expected": "string",
            "code": "invalid_type",
            "path": ["password"],
            "message": "Invalid input: expected string, received number",
        },
    ]
    assert validate(ref("LoginCredentialDto"), []) == [
        {
            "expected": "object",
            "code": "invalid_type",
            "path": [],
            "message": "Invalid input: expected object, received array",
        }
    ]
    assert validate(ref("LoginCredentialDto"), None)[0]["message"] == (
        "Invalid input: expected object, received null"
    )


def test_integer_fields_expect_number() -> None:
    crop = ref("CropParameters")
    issues = validate(crop, {"height": 1, "width": 1, "x": 0})
    assert issues == [
        {
            "expected": "number",
            "code": "invalid_type",
            "path": ["y"],
            "message": "Invalid input: expected number, received undefined",
        }
    ]
    assert validate(crop, {"height": True, "width": 1.5, "x": "0", "y": 0}) == [
        {
            "expected": "number",
            "code": "invalid_type",
            "path": ["height"],
            "message": "Invalid input: expected number, received boolean",
        },
        {
            "expected": "int",
            "format": "safeint",
            "code": "invalid_type",
            "path": ["width"],
            "message": "Invalid input: expected int, received number",
        },
        {
            "expected": "number",
            "code": "invalid_type",
            "path": ["x"],
            "message": "Invalid input: expected number, received string",
        },
    ]
    assert validate(crop, {"height": 2.0, "width": 1, "x": 0, "y": 0}) == []


def test_min_max() -> None:
    assert validate(ref("CropParameters"), {"height": 0, "width": 1, "x": 0, "y": 0}) == [
        {
            "origin": "number",
            "code": "too_small",
            "minimum": 1,
            "inclusive": True,
            "path": ["height"],
            "message": "Too small: expected number to be >=1",
        }
    ]
    short = validate(ref("ChangePasswordDto"), {"password": "a", "newPassword": "short"})
    assert short == [
        {
            "origin": "string",
            "code": "too_small",
            "minimum": 8,
            "inclusive": True,
            "path": ["newPassword"],
            "message": "Too small: expected string to have >=8 characters",
        }
    ]
    port = validate(ref("SystemConfigSmtpTransportDto"), {
        "host": "", "ignoreCert": False, "password": "", "port": 65536, "secure": False, "username": "",
    })  # fmt: skip
    assert [(i["code"], i["maximum"], i["message"]) for i in port] == [
        ("too_big", 65535, "Too big: expected number to be <=65535")
    ]


def test_exclusive_minimum() -> None:
    limit = param("/admin/integrity/report", "get", "limit")
    _value, issues = coerce_parameter(limit, "0", ["limit"])
    assert issues == [
        {
            "origin": "number",
            "code": "too_small",
            "minimum": 0,
            "inclusive": False,
            "path": ["limit"],
            "message": "Too small: expected number to be >0",
        }
    ]
    assert coerce_parameter(limit, "1", ["limit"]) == (1, [])


def test_enum() -> None:
    action = ref("AssetEditAction")
    assert validate(action, "crop") == []
    expected = {
        "code": "invalid_value",
        "values": ["crop", "rotate", "mirror"],
        "path": [],
        "message": 'Invalid option: expected one of "crop"|"rotate"|"mirror"',
    }
    assert validate(action, "blur") == [expected]
    assert validate(action, 3) == [expected]
    assert validate(action, None) == [expected]
    # a missing enum field is an invalid_value too (z.enum on undefined)
    missing = validate(ref("AssetEditActionItemDto"), {"parameters": {"angle": 90}})
    assert missing == [{**expected, "path": ["action"]}]
    assert validate({"type": "string", "enum": ["only"]}, "x")[0]["message"] == (
        'Invalid input: expected "only"'
    )


def test_uuid_format_follows_the_spec_pattern() -> None:
    ids = ref("BulkIdsDto")
    assert validate(ids, {"ids": [V4, V4.upper()]}) == []
    issues = validate(ids, {"ids": [V4, "nope", V7]})
    assert [i["path"] for i in issues] == [["ids", 1], ["ids", 2]]
    issue = issues[0]
    assert list(issue) == ["origin", "code", "format", "pattern", "path", "message"]
    assert (issue["code"], issue["format"], issue["message"]) == (
        "invalid_format",
        "uuid",
        "Invalid UUID",
    )
    assert issue["pattern"].startswith("/^(") and issue["pattern"].endswith(")$/")
    # Immich's primary ids are UUIDv4; the integrity-report ids are UUIDv7
    report_id = param("/admin/integrity/report/{id}", "delete", "id")
    assert coerce_parameter(report_id, V7, ["id"]) == (V7, [])
    assert coerce_parameter(report_id, V4, ["id"])[1][0]["message"] == "Invalid UUID"
    # without a pattern any well-formed UUID passes
    assert validate({"type": "string", "format": "uuid"}, V7) == []


def test_email_format() -> None:
    issues = validate(ref("LoginCredentialDto"), {"email": "not-an-email", "password": "x"})
    assert [(i["code"], i["format"], i["path"], i["message"]) for i in issues] == [
        ("invalid_format", "email", ["email"], "Invalid email address")
    ]
    # Immich v3.1 checks e-mails with the HTML5 rule its spec carries as the pattern: `&.@x` and
    # a dotless domain pass there (issue 7's item 9 expected a refusal; the contract says otherwise)
    create = ref("UserAdminCreateDto")
    for accepted in ("&.@x", "a@b", "a.b+c@d-e.fg"):
        assert validate(create, {"email": accepted, "name": "n", "password": "p"}) == [], accepted
    for refused in ("a b@c.d", "a@-b.c", "@b.c", "a@b..c"):
        issues = validate(create, {"email": refused, "name": "n", "password": "p"})
        assert [i["message"] for i in issues] == ["Invalid email address"], refused


def test_date_time_and_date_formats() -> None:
    schema = ref("ServerVersionHistoryResponseDto")
    row = {"id": V4, "version": "v3.1.0"}
    for good in ("2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z", "2024-02-29T10:00:00+02:00"):
        assert validate(schema, {**row, "createdAt": good}) == [], good
    for bad in ("2024-01-01", "2024-01-01T00:00:00", "2023-02-29T00:00:00Z", "yesterday"):
        issues = validate(schema, {**row, "createdAt": bad})
        assert [(i["code"], i["format"], i["message"]) for i in issues] == [
            ("invalid_format", "datetime", "Invalid ISO datetime")
        ], bad
    birth = ref("PersonCreateDto")
    assert validate(birth, {"birthDate": "2000-12-31"}) == []
    issues = validate(birth, {"birthDate": "2000-13-01"})
    assert [(i["format"], i["message"], i["path"]) for i in issues] == [
        ("date", "Invalid ISO date", ["birthDate"])
    ]


def test_url_format() -> None:
    schema = ref("SystemConfigMapDto")
    ok = {
        "enabled": True,
        "darkStyle": "https://x.example/d.json",
        "lightStyle": "http://localhost:8080/l",
    }
    assert validate(schema, ok) == []
    issues = validate(schema, {**ok, "darkStyle": "tiles/dark.json", "lightStyle": "https://"})
    assert issues == [
        {
            "code": "invalid_format",
            "format": "url",
            "path": ["darkStyle"],
            "message": "Invalid URL",
        },
        {
            "code": "invalid_format",
            "format": "url",
            "path": ["lightStyle"],
            "message": "Invalid URL",
        },
    ]


def test_regex_pattern() -> None:
    issues = validate(ref("SystemConfigNightlyTasksDto"), {
        "clusterNewFaces": True, "databaseCleanup": True, "generateMemories": True,
        "missingThumbnails": True, "startTime": "24:00", "syncQuotaUsage": True,
    })  # fmt: skip
    pattern = "/^(?:[01]\\d|2[0-3]):[0-5]\\d$/"
    assert issues == [
        {
            "origin": "string",
            "code": "invalid_format",
            "format": "regex",
            "pattern": pattern,
            "path": ["startTime"],
            "message": f"Invalid string: must match pattern {pattern}",
        }
    ]


def test_arrays() -> None:
    ids = ref("BulkIdsDto")
    assert validate(ids, {"ids": []}) == []
    assert validate(ids, {"ids": V4})[0]["expected"] == "array"
    issues = validate({"type": "array", "items": {"type": "string"}, "minItems": 2}, [1])
    # element issues first, then the size check (zod's order)
    assert [i["code"] for i in issues] == ["invalid_type", "too_small"]
    assert issues[1]["message"] == "Too small: expected array to have >=2 items"
    assert issues[0]["path"] == [0]
    ml = ref("SystemConfigMachineLearningDto")
    assert spec.resolve(ml)["properties"]["urls"]["minItems"] == 1


def test_nullable_and_all_of() -> None:
    # {"allOf": [{"$ref": UserAvatarColor}], "nullable": true}
    update = ref("UserUpdateMeDto")
    assert validate(update, {"avatarColor": None}) == []
    assert validate(update, {"avatarColor": "pink"}) == []
    issues = validate(update, {"avatarColor": "plaid"})
    assert issues[0]["code"] == "invalid_value"
    assert issues[0]["path"] == ["avatarColor"]
    assert "pink" in issues[0]["values"]
    quota = ref("SystemConfigOAuthDto")
    resolved = spec.resolve(quota)
    assert resolved["properties"]["defaultStorageQuota"]["nullable"] is True
    # a non-nullable field refuses null with "received null"
    assert validate(ref("LoginCredentialDto"), {"email": None, "password": "x"})[0]["message"] == (
        "Invalid input: expected string, received null"
    )


def test_additional_properties() -> None:
    item = ref("AssetMetadataUpsertItemDto")
    assert validate(item, {"key": "k", "value": {"a": [1, {"b": None}], "c": "d"}}) == []
    assert validate(item, {"key": "k", "value": "text"})[0]["expected"] == "object"
    # zod's z.record(z.string(), z.unknown()): a value may be null
    assert validate(item, {"key": "k", "value": {"adjustmentTime": None}}) == []
    assert validate(item, {"key": "k", "value": None})[0]["expected"] == "object"


def test_any_of_reports_a_union_issue() -> None:
    item = ref("AssetEditActionItemDto")
    assert validate(item, {"action": "rotate", "parameters": {"angle": 90}}) == []
    assert (
        validate(item, {"action": "crop", "parameters": {"x": 0, "y": 0, "width": 5, "height": 5}})
        == []
    )
    [issue] = validate(item, {"action": "mirror", "parameters": {"axis": "diagonal"}})
    assert list(issue) == ["code", "errors", "path", "message"]
    assert (issue["code"], issue["path"], issue["message"]) == (
        "invalid_union",
        ["parameters"],
        "Invalid input",
    )
    assert len(issue["errors"]) == 3
    # each option's issues have paths relative to the union
    assert issue["errors"][1] == [
        {
            "expected": "number",
            "code": "invalid_type",
            "path": ["angle"],
            "message": "Invalid input: expected number, received undefined",
        }
    ]


@pytest.mark.parametrize("raw", ["true", "false"])
def test_query_booleans_accept_true_and_false(raw: str) -> None:
    assert coerce_parameter({"type": "boolean"}, raw, ["isFavorite"]) == (raw == "true", [])


@pytest.mark.parametrize("raw", ["1", "0", "yes", "True", "FALSE", ""])
def test_query_booleans_refuse_anything_else(raw: str) -> None:
    _value, issues = coerce_parameter({"type": "boolean"}, raw, ["isFavorite"])
    assert issues == [
        {
            "code": "invalid_value",
            "values": ["true", "false"],
            "path": ["isFavorite"],
            "message": 'Invalid option: expected one of "true"|"false"',
        }
    ]


def test_query_numbers() -> None:
    integer = {"type": "integer", "minimum": 1, "maximum": 1000}
    assert coerce_parameter(integer, "250", ["size"]) == (250, [])
    assert coerce_parameter({"type": "number"}, "0.5", ["x"]) == (0.5, [])
    _value, issues = coerce_parameter(integer, "abc", ["size"])
    assert issues == [
        {
            "expected": "number",
            "code": "invalid_type",
            "received": "NaN",
            "path": ["size"],
            "message": "Invalid input: expected number, received NaN",
        }
    ]
    assert coerce_parameter(integer, "1.5", ["size"])[1][0]["expected"] == "int"
    assert coerce_parameter(integer, "0", ["size"])[1][0]["code"] == "too_small"
    assert coerce_parameter(integer, "1001", ["size"])[1][0]["code"] == "too_big"


def test_query_enums_and_arrays() -> None:
    visibility = {"$ref": "#/components/schemas/AssetVisibility"}
    assert coerce_parameter(visibility, "archive", ["visibility"]) == ("archive", [])
    assert coerce_parameter(visibility, "nowhere", ["visibility"])[1][0]["code"] == "invalid_value"
    ids = {"type": "array", "items": {"type": "string", "format": "uuid"}}
    assert coerce_parameter(ids, [V4, V7], ["ids"]) == ([V4, V7], [])
    _values, issues = coerce_parameter(ids, [V4, "x"], ["ids"])
    assert [i["path"] for i in issues] == [["ids", 1]]
    flags = {"type": "array", "items": {"type": "boolean"}}
    assert coerce_parameter(flags, "true", ["f"]) == ([True], [])
