"""The HTTP framework: routing from the spec, 501s, unknown routes, errors, correlation ids, ETags."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from quart import request

from immich_trio.http import registry, spec
from immich_trio.http.app import _make_answer, create_app
from immich_trio.http.errors import BadRequest
from immich_trio.runtime import Runtime
from tests.http.conftest import MakeUser


async def test_ping_is_public_and_carries_correlation_id(client: Any) -> None:
    response = await client.get("/api/server/ping")
    assert response.status_code == 200
    assert await response.get_json() == {"res": "pong"}
    assert len(response.headers["X-Correlation-ID"]) >= 16


async def test_correlation_id_is_echoed(client: Any) -> None:
    response = await client.get("/api/server/ping", headers={"X-Correlation-ID": "abc-123"})
    assert response.headers["X-Correlation-ID"] == "abc-123"


async def test_well_known(client: Any) -> None:
    response = await client.get("/.well-known/immich")
    assert await response.get_json() == {"api": {"endpoint": "/api"}}


async def test_unknown_route_is_404_cannot(client: Any) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert await response.get_json() == {"message": "Cannot GET /api/nothing-here"}


async def test_authenticated_route_without_credentials_is_401(client: Any) -> None:
    response = await client.get("/api/server/about")
    assert response.status_code == 401
    assert await response.get_json() == {"message": "Authentication required"}


async def test_invalid_token_is_401(client: Any) -> None:
    response = await client.get("/api/server/about", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert await response.get_json() == {"message": "Invalid user token"}


async def test_unbuilt_operation_is_501_after_auth(
    runtime: Runtime, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every operation is built now; the 501 path stays for an app missing one (any
    authenticated GET without path parameters: ``getAboutInfo``)."""
    op = spec.operations()["getAboutInfo"]
    built = registry.handlers()
    del built[op.operation_id]
    monkeypatch.setattr(registry, "handlers", lambda: dict(built))
    app = create_app(runtime)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        user = await make_user("a@example.com")
        response = await client.get(op.path, headers=user.headers)
        assert response.status_code == 501
        assert await response.get_json() == {"message": f"Not implemented: {op.operation_id}"}
        assert (await client.get(op.path)).status_code == 401


async def test_admin_only_route_forbidden_for_user(client: Any, make_user: MakeUser) -> None:
    user = await make_user("b@example.com")
    response = await client.get("/api/system-config", headers=user.headers)
    assert response.status_code == 403
    assert await response.get_json() == {"message": "Forbidden"}


async def test_path_uuid_validation(client: Any, make_user: MakeUser) -> None:
    admin = await make_user("admin@example.com", is_admin=True)
    response = await client.get("/api/admin/users/not-a-uuid", headers=admin.headers)
    assert response.status_code == 400
    body = await response.get_json()
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == ["id"]
    assert body["errors"][0]["code"] == "invalid_format"


async def test_json_etag_and_304(client: Any) -> None:
    first = await client.get("/api/server/version")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and "-" in etag
    second = await client.get("/api/server/version", headers={"If-None-Match": etag})
    assert second.status_code == 304
    assert await second.get_data() == b""


async def test_server_version_and_features(client: Any) -> None:
    assert await (await client.get("/api/server/version")).get_json() == {
        "major": 3, "minor": 1, "patch": 0, "prerelease": None,
    }
    features = await (await client.get("/api/server/features")).get_json()
    assert features["passwordLogin"] is True and features["trash"] is True
    assert features["configFile"] is False
    assert len(features) == 16


# -- the request edge: exception groups are split, Cancelled is never swallowed ---------------


async def _answer_with(runtime: Runtime, handler: Any) -> tuple[int, Any]:
    """Answer ``GET /api/server/ping`` (a public operation) with ``handler`` in its place."""
    app = create_app(runtime)
    answer = _make_answer(runtime, spec.operations()["pingServer"], handler)
    async with app.test_request_context("/api/server/ping"):
        response = await answer(request._get_current_object(), {})  # type: ignore[attr-defined]
        return response.status_code, await response.get_json()


async def test_a_group_holding_an_http_error_answers_that_error(runtime: Runtime) -> None:
    async def nested(ctx: Any) -> None:
        raise ExceptionGroup("outer", [ValueError("bug"), ExceptionGroup("inner", [BadRequest("No way")])])

    assert await _answer_with(runtime, nested) == (400, {"message": "No way"})


async def test_a_group_of_bugs_answers_failed_to(runtime: Runtime) -> None:
    async def broken_ping(ctx: Any) -> None:
        raise ExceptionGroup("outer", [ValueError("a"), KeyError("b")])

    assert await _answer_with(runtime, broken_ping) == (500, {"message": "Failed to broken ping"})


async def test_cancelled_beside_an_http_error_still_propagates(runtime: Runtime) -> None:
    reached: list[str] = []
    answered: list[Any] = []
    with trio.CancelScope() as scope:

        async def cancelled(ctx: Any) -> None:
            reached.append("handler")
            scope.cancel()  # the request is being torn down while the handler fails
            try:
                await trio.sleep_forever()
            except trio.Cancelled as exc:
                raise BaseExceptionGroup("both", [BadRequest("late"), exc]) from None

        answered.append(await _answer_with(runtime, cancelled))
    assert reached == ["handler"]
    assert scope.cancelled_caught and answered == []
