-- The CLIP vectors kept in smart_search's own rows (not in Immich's schema: a storage parameter).
-- A 512-d vector (2,056 bytes) is just over PostgreSQL's 2 kB toast threshold, so by default each
-- is moved to the TOAST table, and every distance computed from a row costs a second index lookup
-- there: a smart search narrowed to a person's 2,000 assets spent most of its time fetching them.
-- With the target at its maximum a row is toasted only above 8,160 bytes (vectors of more than
-- ~2,000 dimensions), and the column's storage stays EXTERNAL as Immich declares it. It applies to
-- rows written from now on; like 0005 it is skipped on an adopted Immich database, whose rows
-- stay where Immich put them.
DO $inline$
BEGIN
    IF to_regclass('smart_search') IS NOT NULL THEN
        ALTER TABLE smart_search SET (toast_tuple_target = 8160);
    END IF;
END
$inline$;
