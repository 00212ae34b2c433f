-- Our own indexes for search filters and suggestions (not in Immich's schema; names start with
-- immich_trio_). Immich indexes no exif column but city, so every make/model/country/state
-- filter and every suggestion list read all of asset_exif. The columns are compared exactly
-- (`e.make = $1`, as Immich's searchAssetBuilder and getExifField do), so plain btrees serve
-- them; each leads with the column a suggestion lists or the cascade narrows first, so the
-- suggestions' loose index scan (sql/search_places.py) walks them in order, and PostgreSQL 18's
-- skip scan serves a filter on the second column alone.
CREATE INDEX IF NOT EXISTS "immich_trio_asset_exif_country_state_idx" ON "asset_exif" ("country", "state");
CREATE INDEX IF NOT EXISTS "immich_trio_asset_exif_country_city_idx" ON "asset_exif" ("country", "city");
CREATE INDEX IF NOT EXISTS "immich_trio_asset_exif_state_city_idx" ON "asset_exif" ("state", "city");
CREATE INDEX IF NOT EXISTS "immich_trio_asset_exif_make_model_idx" ON "asset_exif" ("make", "model");
CREATE INDEX IF NOT EXISTS "immich_trio_asset_exif_model_make_idx" ON "asset_exif" ("model", "make");
CREATE INDEX IF NOT EXISTS "immich_trio_asset_exif_lensModel_idx" ON "asset_exif" ("lensModel");
