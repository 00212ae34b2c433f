-- The map's markers kept ahead of time (not in Immich's schema): one row per asset that
-- GET /map/markers can show (not trashed, timeline or archive, with latitude and longitude),
-- holding the filters' columns and the marker's JSON text exactly as sql/map.py printed it from
-- asset JOIN asset_exif. The request for one owner is then an ordered index scan and a
-- string_agg: no join, no sort, no JSON built per request. Triggers on asset and asset_exif keep
-- it exact under every write (insert, update of a column the markers read, delete, truncate);
-- album membership stays a join at read time. The table and functions live in our schema; the
-- triggers sit on Immich's tables, so like 0005 this migration is skipped on an adopted Immich
-- database (sql/map.py then answers with the join).
CREATE SCHEMA IF NOT EXISTS immich_trio;

CREATE TABLE immich_trio.map_marker (
    "assetId" uuid PRIMARY KEY,
    "ownerId" uuid NOT NULL,
    "fileCreatedAt" timestamptz NOT NULL,
    archived boolean NOT NULL,
    "isFavorite" boolean NOT NULL,
    marker text NOT NULL
);
CREATE INDEX map_marker_owner_created_idx
    ON immich_trio.map_marker ("ownerId", "fileCreatedAt" DESC);

-- Rebuild the rows of these assets from asset JOIN asset_exif. The JSON is sql/map.py's
-- MARKER_OBJECT, character for character.
CREATE FUNCTION immich_trio.map_marker_refresh(ids uuid[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM immich_trio.map_marker WHERE "assetId" = ANY(ids);
    INSERT INTO immich_trio.map_marker ("assetId", "ownerId", "fileCreatedAt", archived, "isFavorite", marker)
    SELECT a.id, a."ownerId", a."fileCreatedAt", a.visibility = 'archive', a."isFavorite",
           concat('{"id":"', a.id, '","lat":', e.latitude, ',"lon":', e.longitude,
                  ',"city":', coalesce(to_json(e.city)::text, 'null'),
                  ',"state":', coalesce(to_json(e.state)::text, 'null'),
                  ',"country":', coalesce(to_json(e.country)::text, 'null'), '}')
    FROM public.asset a JOIN public.asset_exif e ON e."assetId" = a.id
    WHERE a.id = ANY(ids) AND a."deletedAt" IS NULL AND a.visibility IN ('timeline', 'archive')
      AND e.latitude IS NOT NULL AND e.longitude IS NOT NULL;
$$;

-- Inserts and deletes arrive in bulk (COPY, cascades from a user's deletion): one statement each.
CREATE FUNCTION immich_trio.map_marker_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'asset' THEN
        PERFORM immich_trio.map_marker_refresh(ARRAY(SELECT id FROM inserted_rows));
    ELSE
        PERFORM immich_trio.map_marker_refresh(ARRAY(SELECT "assetId" FROM inserted_rows));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION immich_trio.map_marker_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'asset' THEN
        DELETE FROM immich_trio.map_marker WHERE "assetId" IN (SELECT id FROM deleted_rows);
    ELSE
        DELETE FROM immich_trio.map_marker WHERE "assetId" IN (SELECT "assetId" FROM deleted_rows);
    END IF;
    RETURN NULL;
END
$$;

-- Updates are per row, and only when a column the markers read changed (the WHEN clause is
-- checked without calling the function: thumbnails, paths and timestamps cost nothing).
-- Coordinates are compared as printed: -0 equals 0 as a number but prints "-0".
CREATE FUNCTION immich_trio.map_marker_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'asset' THEN
        PERFORM immich_trio.map_marker_refresh(ARRAY[OLD.id, NEW.id]);
    ELSE
        PERFORM immich_trio.map_marker_refresh(ARRAY[OLD."assetId", NEW."assetId"]);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION immich_trio.map_marker_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE immich_trio.map_marker;
    RETURN NULL;
END
$$;

CREATE TRIGGER "immich_trio_map_marker_inserted" AFTER INSERT ON "asset"
    REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION immich_trio.map_marker_inserted();
CREATE TRIGGER "immich_trio_map_marker_deleted" AFTER DELETE ON "asset"
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION immich_trio.map_marker_deleted();
CREATE TRIGGER "immich_trio_map_marker_updated" AFTER UPDATE OF "id", "ownerId", "fileCreatedAt", "visibility", "isFavorite", "deletedAt" ON "asset"
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD."ownerId" IS DISTINCT FROM NEW."ownerId"
          OR OLD."fileCreatedAt" IS DISTINCT FROM NEW."fileCreatedAt" OR OLD.visibility IS DISTINCT FROM NEW.visibility
          OR OLD."isFavorite" IS DISTINCT FROM NEW."isFavorite" OR OLD."deletedAt" IS DISTINCT FROM NEW."deletedAt")
    EXECUTE FUNCTION immich_trio.map_marker_updated();
CREATE TRIGGER "immich_trio_map_marker_truncated" AFTER TRUNCATE ON "asset"
    FOR EACH STATEMENT EXECUTE FUNCTION immich_trio.map_marker_truncated();

CREATE TRIGGER "immich_trio_map_marker_inserted" AFTER INSERT ON "asset_exif"
    REFERENCING NEW TABLE AS inserted_rows FOR EACH STATEMENT EXECUTE FUNCTION immich_trio.map_marker_inserted();
CREATE TRIGGER "immich_trio_map_marker_deleted" AFTER DELETE ON "asset_exif"
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION immich_trio.map_marker_deleted();
CREATE TRIGGER "immich_trio_map_marker_updated" AFTER UPDATE OF "assetId", "latitude", "longitude", "city", "state", "country" ON "asset_exif"
    FOR EACH ROW
    WHEN (OLD."assetId" IS DISTINCT FROM NEW."assetId" OR OLD.latitude::text IS DISTINCT FROM NEW.latitude::text
          OR OLD.longitude::text IS DISTINCT FROM NEW.longitude::text OR OLD.city IS DISTINCT FROM NEW.city
          OR OLD.state IS DISTINCT FROM NEW.state OR OLD.country IS DISTINCT FROM NEW.country)
    EXECUTE FUNCTION immich_trio.map_marker_updated();
CREATE TRIGGER "immich_trio_map_marker_truncated" AFTER TRUNCATE ON "asset_exif"
    FOR EACH STATEMENT EXECUTE FUNCTION immich_trio.map_marker_truncated();

-- The rows of what is already there.
SELECT immich_trio.map_marker_refresh(ARRAY(
    SELECT e."assetId" FROM public.asset_exif e
    WHERE e.latitude IS NOT NULL AND e.longitude IS NOT NULL));
ANALYZE immich_trio.map_marker;
