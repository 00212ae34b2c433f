"""A mobile-sync client written from the protocol (docs/reference/sync.md), not from the server.

It streams the types Immich's v3 app requests, keeps every line in a small local store (one dict
per table, upserts and deletes by key, cascades as the app does), and acks in batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MOBILE_TYPES = [
    "AuthUsersV1", "UsersV1", "AssetsV2", "AssetExifsV1", "AssetEditsV1", "AssetMetadataV1", "PartnersV1",
    "PartnerAssetsV2", "PartnerAssetExifsV1", "AlbumsV2", "AlbumUsersV1", "AlbumAssetsV2", "AlbumAssetExifsV1",
    "AlbumToAssetsV1", "MemoriesV1", "MemoryToAssetsV1", "StacksV1", "PartnerStacksV1", "UserMetadataV1",
    "PeopleV1", "AssetFacesV2", "AssetOcrV1",
]  # fmt: skip

Key = Callable[[dict[str, Any]], Any]
_ID: Key = lambda d: d["id"]  # noqa: E731

# entity type -> (table, key of the row, True for upsert / False for delete)
ROUTES: dict[str, tuple[str, Key, bool]] = {
    "AuthUserV1": ("auth_user", _ID, True),
    "UserV1": ("users", _ID, True),
    "UserDeleteV1": ("users", lambda d: d["userId"], False),
    "PartnerV1": ("partners", lambda d: (d["sharedById"], d["sharedWithId"]), True),
    "PartnerDeleteV1": ("partners", lambda d: (d["sharedById"], d["sharedWithId"]), False),
    "AlbumV2": ("albums", _ID, True),
    "AlbumDeleteV1": ("albums", lambda d: d["albumId"], False),
    "AlbumUserDeleteV1": ("album_users", lambda d: (d["albumId"], d["userId"]), False),
    "AlbumToAssetDeleteV1": ("album_assets", lambda d: (d["albumId"], d["assetId"]), False),
    "MemoryV1": ("memories", _ID, True),
    "MemoryDeleteV1": ("memories", lambda d: d["memoryId"], False),
    "MemoryToAssetV1": ("memory_assets", lambda d: (d["memoryId"], d["assetId"]), True),
    "MemoryToAssetDeleteV1": ("memory_assets", lambda d: (d["memoryId"], d["assetId"]), False),
    "StackDeleteV1": ("stacks", lambda d: d["stackId"], False),
    "PartnerStackDeleteV1": ("stacks", lambda d: d["stackId"], False),
    "PersonV1": ("people", _ID, True),
    "PersonDeleteV1": ("people", lambda d: d["personId"], False),
    "AssetFaceV2": ("faces", _ID, True),
    "AssetFaceDeleteV1": ("faces", lambda d: d["assetFaceId"], False),
    "UserMetadataV1": ("user_metadata", lambda d: (d["userId"], d["key"]), True),
    "UserMetadataDeleteV1": ("user_metadata", lambda d: (d["userId"], d["key"]), False),
    "AssetMetadataV1": ("asset_metadata", lambda d: (d["assetId"], d["key"]), True),
    "AssetMetadataDeleteV1": ("asset_metadata", lambda d: (d["assetId"], d["key"]), False),
    "AssetEditV1": ("edits", _ID, True),
    "AssetEditDeleteV1": ("edits", lambda d: d["editId"], False),
    "AssetOcrV1": ("ocr", _ID, True),
    "AssetDeleteV1": ("assets", lambda d: d["assetId"], False),
    "PartnerAssetDeleteV1": ("assets", lambda d: d["assetId"], False),
}
for _t in (
    "AssetV2",
    "PartnerAssetV2",
    "PartnerAssetBackfillV2",
    "AlbumAssetCreateV2",
    "AlbumAssetUpdateV2",
    "AlbumAssetBackfillV2",
):
    ROUTES[_t] = ("assets", _ID, True)
for _t in (
    "AssetExifV1",
    "PartnerAssetExifV1",
    "PartnerAssetExifBackfillV1",
    "AlbumAssetExifCreateV1",
    "AlbumAssetExifUpdateV1",
    "AlbumAssetExifBackfillV1",
):
    ROUTES[_t] = ("exifs", lambda d: d["assetId"], True)
for _t in ("StackV1", "PartnerStackV1", "PartnerStackBackfillV1"):
    ROUTES[_t] = ("stacks", _ID, True)
ROUTES["AlbumUserV1"] = ROUTES["AlbumUserBackfillV1"] = (
    "album_users",
    lambda d: (d["albumId"], d["userId"]),
    True,
)
ROUTES["AlbumToAssetV1"] = ROUTES["AlbumToAssetBackfillV1"] = (
    "album_assets",
    lambda d: (d["albumId"], d["assetId"]),
    True,
)
CONTROL = {"SyncAckV1", "SyncCompleteV1", "SyncResetV1"}


class SyncClient:
    def __init__(self, client: Any, headers: dict[str, str], *, ack_batch: int = 3) -> None:
        self.client = client
        self.headers = headers
        self.ack_batch = ack_batch
        self.store: dict[str, dict[Any, dict[str, Any]]] = {}
        self.acked: set[str] = set()

    def table(self, name: str) -> dict[Any, dict[str, Any]]:
        return self.store.setdefault(name, {})

    async def stream(
        self, types: list[str] | None = None, *, reset: bool = False
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"types": types or MOBILE_TYPES}
        if reset:
            body["reset"] = True
        headers = {**self.headers, "Accept": "application/jsonlines+json"}
        response = await self.client.post("/api/sync/stream", headers=headers, json=body)
        assert response.status_code == 200, await response.get_data()
        assert response.headers["Content-Type"].startswith("application/jsonlines+json")
        raw = (await response.get_data()).decode()
        assert raw.endswith("\n")
        return [json.loads(text) for text in raw.splitlines()]

    def apply(self, item: dict[str, Any]) -> None:
        kind, data = item["type"], item["data"]
        if kind == "SyncResetV1":  # wipe, and everything may come again
            self.store.clear()
            self.acked.clear()
            return
        if kind in CONTROL:
            return
        if kind == "AssetOcrDeleteV1":
            ocr = self.table("ocr")
            for key in [k for k, v in ocr.items() if v["assetId"] == data["assetId"]]:
                del ocr[key]
            return
        table, key, upsert = ROUTES[kind]
        if upsert:
            self.table(table)[key(data)] = data
        else:
            self.table(table).pop(key(data), None)
            if table == "albums":
                for pair in [p for p in self.table("album_assets") if p[0] == key(data)]:
                    del self.table("album_assets")[pair]
            if table == "assets":
                self.table("exifs").pop(key(data), None)

    async def ack(self, acks: list[str]) -> None:
        response = await self.client.post(
            "/api/sync/ack", headers=self.headers, json={"acks": acks}
        )
        assert response.status_code == 204, await response.get_data()

    async def sync(
        self, types: list[str] | None = None, *, reset: bool = False
    ) -> list[dict[str, Any]]:
        """Stream, store and ack (the last line of each run of one type, in batches of lines)."""
        if reset:
            self.store.clear()
            self.acked.clear()
        items = await self.stream(types, reset=reset)
        pending: dict[str, str] = {}
        for n, item in enumerate(items, 1):
            assert item["ack"] not in self.acked or item["type"] == "SyncResetV1", (
                f"sent again: {item}"
            )
            self.apply(item)
            pending[item["type"]] = item["ack"]
            if n % self.ack_batch == 0 or n == len(items):
                await self.ack(list(pending.values()))
                self.acked.update(pending.values())
                pending.clear()
        return items
