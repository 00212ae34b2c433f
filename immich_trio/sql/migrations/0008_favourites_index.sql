-- Our own index of each owner's favourites (not in Immich's schema; names start with
-- immich_trio_). A smart search narrowed to favourites otherwise walks clip_index past every
-- other asset until a page of favourites has come by (5 % of a library: ~2,200 candidates at
-- ~20 us each); with the favourites listed here it computes each favourite's distance instead,
-- nearest first, when they are few against the library (sql/smart_search.py). The predicate is
-- the one a favourites search applies to trash; "id" is included so that listing them reads the
-- index alone. Every update of an asset already changes the indexed "updateId" (Immich's
-- updated_at trigger), so no update was HOT before: this index costs only its own entries.
CREATE INDEX "immich_trio_asset_favorite_idx" ON "asset" ("ownerId") INCLUDE ("id")
    WHERE "isFavorite" AND "deletedAt" IS NULL;
