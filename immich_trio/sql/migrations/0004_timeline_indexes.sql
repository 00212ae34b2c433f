-- Our own index for GET /timeline/buckets (not in Immich's schema; names start with immich_trio_).
--
-- The bucket counts read every non-trashed asset of the owners; with owner and visibility only
-- in the heap that was a full (parallel) scan of asset. This partial index holds everything the
-- query reads, so it is answered by an index-only scan: the month expression is stored exactly
-- as in asset_localDateTime_month_idx and in sql/timeline.py (the planner matches it textually),
-- "localDateTime" is included because the planner only allows an index-only scan when the
-- expression's base column is in the index too, and "stackId" + id serve the withStacked test.
-- Every column here is already indexed elsewhere, so the index costs no HOT updates.
CREATE INDEX "immich_trio_asset_timeline_month_idx" ON "asset" (
    "ownerId",
    "visibility",
    (date_trunc('MONTH'::text, ("localDateTime" AT TIME ZONE 'UTC'::text)) AT TIME ZONE 'UTC'::text)
) INCLUDE ("localDateTime", "stackId", "id") WHERE "deletedAt" IS NULL;
