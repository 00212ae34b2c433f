-- scope: own
-- The durable job queue (Immich keeps its jobs in Redis with BullMQ; we keep them here).
-- Our own tables live in the "immich_trio" schema so that "public" stays exactly Immich's
-- schema for the tools that read it.
CREATE SCHEMA IF NOT EXISTS immich_trio;

-- One row per job that is waiting, running or failed. Completed jobs are deleted (BullMQ's
-- removeOnComplete); failed ones are kept with their error. "delayed" = waiting with a
-- run_after in the future (a retry); run_after NULL means "as soon as possible".
CREATE TABLE immich_trio.job (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    name text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    status text NOT NULL DEFAULT 'waiting',
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 3,
    run_after timestamptz,
    lease_owner text,
    lease_until timestamptz,
    error text,
    -- data.id of asset jobs, so failures can be found per asset. No foreign key: the job
    -- that deletes an asset must still find its own row when it completes.
    "assetId" uuid,
    dedupe_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT job_status_chk CHECK (status IN ('waiting', 'active', 'failed')),
    CONSTRAINT job_attempts_chk CHECK (attempts >= 0 AND max_attempts >= 1)
);

-- Claiming: the oldest waiting jobs of a queue.
CREATE INDEX job_waiting_idx ON immich_trio.job (queue, id) WHERE status = 'waiting';
-- Re-claiming jobs of a dead process, and counting active ones.
CREATE INDEX job_active_idx ON immich_trio.job (queue, lease_until) WHERE status = 'active';
CREATE INDEX job_failed_idx ON immich_trio.job (queue, id) WHERE status = 'failed';
-- At most one pending (waiting or running) job per queue and key, like BullMQ's jobId.
CREATE UNIQUE INDEX job_dedupe_uq ON immich_trio.job (queue, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND status IN ('waiting', 'active');
CREATE INDEX job_asset_idx ON immich_trio.job ("assetId") WHERE "assetId" IS NOT NULL;

-- Pause state per queue, shared by every process; a missing row means "not paused".
CREATE TABLE immich_trio.queue (
    name text PRIMARY KEY,
    is_paused boolean NOT NULL DEFAULT false
);
