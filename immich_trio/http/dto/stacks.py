"""Stacks: ``StackResponseDto`` as Immich's ``mapStack`` builds it: the primary asset first,
then the others; the assets' dates keep PostgreSQL's JSON form (Immich aggregates them in SQL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from immich_trio.http.dto import OMIT, SqlJsonDatetime, key_order
from immich_trio.http.dto.assets import asset_dto
from immich_trio.http.dto.generated import AssetResponseDto, StackResponseDto
from immich_trio.sql.stacks import ASSET_DATES

key_order(StackResponseDto, "id", "primary_asset_id", "assets")


def _asset(row: Mapping[str, Any], caller_id: UUID) -> AssetResponseDto:
    dated = dict(row)
    for column in ASSET_DATES:
        dated[column] = SqlJsonDatetime.parse(row[f"{column}.json"])
    tags = row["tags"]
    return asset_dto(dated, caller_id=caller_id, exif=row["exifInfo"], tags=OMIT if tags is None else tags)


def stack_dto(
    stack: Mapping[str, Any], assets: Sequence[Mapping[str, Any]], caller_id: UUID
) -> StackResponseDto:
    primary = stack["primaryAssetId"]
    ordered = [a for a in assets if a["id"] == primary] + [a for a in assets if a["id"] != primary]
    return StackResponseDto(
        id=stack["id"],
        primary_asset_id=primary,
        assets=[_asset(a, caller_id) for a in ordered],
    )
