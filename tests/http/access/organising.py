"""Rows of the routes that organise a library: tags, memories and stacks (each the owner's
alone; no link reaches them)."""

from __future__ import annotations

from tests.http.access.vocabulary import (
    FORBIDDEN,
    Check,
    Outcome,
    Row,
    _same,
    asset_owner_only,
    no_access,
    ok,
    own_row,
    photo,
    shows,
)
from tests.http.access.world import ACTORS, World

# -- Tags (the owner's tag on the photo) ------------------------------------------------------


def _tag(w: World) -> str:
    return w.tag


def _tag_result(asset: str) -> Check:
    return lambda w, body: body == [{"id": getattr(w, asset), "success": True}]


def _tag_count(count: int) -> Outcome:
    return ok(check=lambda w, body: body == {"count": count})


TAG_ROWS: tuple[Row, ...] = (
    Row(op="getTagById", target=_tag, asset=False, request=lambda w, t: ("GET", f"/api/tags/{t}", None),
        expect=own_row(200, no_access("tag.read"))),
    Row(op="createTag", target=_tag, asset=False,
        request=lambda w, t: ("POST", "/api/tags", {"name": "Italy", "parentId": t}),
        expect=own_row(201, no_access("tag.read"))),
    Row(op="updateTag", target=_tag, asset=False,
        request=lambda w, t: ("PUT", f"/api/tags/{t}", {"color": "#123456"}),
        expect=own_row(200, no_access("tag.update"))),
    Row(op="deleteTag", target=_tag, asset=False, request=lambda w, t: ("DELETE", f"/api/tags/{t}", None),
        expect=own_row(204, no_access("tag.delete"))),
    Row(op="tagAssets", target=_tag, asset=False,
        request=lambda w, t: ("PUT", f"/api/tags/{t}/assets", {"ids": [w.video]}),
        expect=own_row(200, no_access("tag.asset")) | {"owner": ok(check=_tag_result("video"))}),
    Row(op="untagAssets", target=_tag, asset=False,
        request=lambda w, t: ("DELETE", f"/api/tags/{t}/assets", {"ids": [w.photo]}),
        expect=own_row(200, no_access("tag.asset")) | {"owner": ok(check=_tag_result("photo"))}),
    # Tags and assets the caller may not touch are left out: nothing tagged, nothing refused.
    Row(op="bulkTagAssets", target=_tag, asset=False,
        request=lambda w, t: ("PUT", "/api/tags/assets", {"tagIds": [t], "assetIds": [w.video]}),
        expect=own_row(200, _tag_count(0)) | {"owner": _tag_count(1)}),
    Row(op="getTimeBuckets", target=_tag, asset=False,
        request=lambda w, t: ("GET", f"/api/timeline/buckets?tagId={t}", None),
        expect=own_row(200, no_access("tag.read")) | {
            "album_link": no_access("timeline.read"), "asset_link": no_access("timeline.read")}),
)


# -- Memories (the owner's memory holding the photo) ------------------------------------------


def _memory(w: World) -> str:
    return w.memory


def memory_rule(permission: str, status: int = 200, check: Check | None = None) -> dict[str, Outcome]:
    """A memory is its owner's alone; links are refused by the route."""
    return {"owner": ok(status, check), "other": no_access(permission), "admin": no_access(permission),
            "partner": no_access(permission), "album_viewer": no_access(permission),
            "album_link": FORBIDDEN, "asset_link": FORBIDDEN}


def _memory_assets(count: int) -> Check:
    return lambda w, body: isinstance(body, dict) and len(body["assets"]) == count


MEMORY_ROWS: tuple[Row, ...] = (
    Row(op="getMemory", target=_memory, asset=False, request=lambda w, t: ("GET", f"/api/memories/{t}", None),
        expect=memory_rule("memory.read", check=_memory_assets(1))),
    Row(op="updateMemory", target=_memory, asset=False,
        request=lambda w, t: ("PUT", f"/api/memories/{t}", {"isSaved": True}), expect=memory_rule("memory.update")),
    Row(op="deleteMemory", target=_memory, asset=False, request=lambda w, t: ("DELETE", f"/api/memories/{t}", None),
        expect=memory_rule("memory.delete", 204)),
    Row(op="addMemoryAssets", target=_memory, asset=False,
        request=lambda w, t: ("PUT", f"/api/memories/{t}/assets", {"ids": [w.locked]}),
        expect=memory_rule("memory.read", check=lambda w, body: body[0]["error"] == "no_permission")),
    Row(op="removeMemoryAssets", target=_memory, asset=False,
        request=lambda w, t: ("DELETE", f"/api/memories/{t}/assets", {"ids": [w.photo]}),
        expect=memory_rule("memory.update", check=lambda w, body: body == [{"id": w.photo, "success": True}])),
    Row(op="createMemory", target=photo, asset=False,
        request=lambda w, t: ("POST", "/api/memories", {"type": "on_this_day", "data": {"year": 2024},
                                                         "memoryAt": "2024-01-15T00:00:00.000Z", "assetIds": [t]}),
        expect={"owner": ok(201, _memory_assets(1)), "other": ok(201, _memory_assets(0)),
                "admin": ok(201, _memory_assets(0)), "partner": ok(201, _memory_assets(1)),
                "album_viewer": ok(201, _memory_assets(0)), "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
)


# -- Stacks (the owner's stack of the photo and the video) --------------------------------------


def _stack(w: World) -> str:
    return w.stack


def stack_rule(permission: str, status: int = 200) -> dict[str, Outcome]:
    """Only the stack's owner; no link reaches a stack route."""
    refusal = no_access(permission)
    return {"owner": ok(status), "other": refusal, "admin": refusal, "partner": refusal,
            "album_viewer": refusal, "album_link": FORBIDDEN, "asset_link": FORBIDDEN}


def _stacks_listed(count: int) -> Check:
    return lambda w, body: [s["id"] for s in body] == [w.stack] * count


STACK_ROWS: tuple[Row, ...] = (
    Row(op="getStack", target=_stack, asset=False, request=lambda w, t: ("GET", f"/api/stacks/{t}", None),
        expect=_same(stack_rule("stack.read"), owner=ok(check=lambda w, b: shows(w, b, w.stack)))),
    Row(op="updateStack", target=_stack, asset=False,
        request=lambda w, t: ("PUT", f"/api/stacks/{t}", {"primaryAssetId": w.video}),
        expect=_same(stack_rule("stack.update"), owner=ok(check=lambda w, b: b["primaryAssetId"] == w.video))),
    Row(op="deleteStack", target=_stack, asset=False, request=lambda w, t: ("DELETE", f"/api/stacks/{t}", None),
        expect=stack_rule("stack.delete", 204)),
    Row(op="deleteStacks", target=_stack, asset=False,
        request=lambda w, t: ("DELETE", "/api/stacks", {"ids": [t]}), expect=stack_rule("stack.delete", 204)),
    Row(op="removeAssetFromStack", target=_stack, asset=False,
        request=lambda w, t: ("DELETE", f"/api/stacks/{t}/assets/{w.video}", None),
        expect=stack_rule("stack.update", 204)),
    Row(op="searchStacks", target=photo, asset=False,
        request=lambda w, t: ("GET", f"/api/stacks?primaryAssetId={t}", None),
        expect={actor: ok(check=_stacks_listed(0)) for actor in ACTORS} | {
            "owner": ok(check=_stacks_listed(1)), "album_link": FORBIDDEN, "asset_link": FORBIDDEN}),
    # a new stack of the target and the video (the photo's stack is merged into it)
    Row(op="createStack", target=photo,
        request=lambda w, t: ("POST", "/api/stacks", {"assetIds": [t, w.video]}),
        expect=asset_owner_only("asset.update", 201)),
)
