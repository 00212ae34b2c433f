"""SQL of the mobile sync stream (docs/reference/sync.md).

``stream`` holds the machinery (checkpoints, ``nowId``, cursors); the other modules hold one
family of entity queries each. Every entity query answers two text columns: ``ack`` (the
row's ``updateId``, or the audit row's ``id``) and ``data`` (the line's JSON object, built by
PostgreSQL with Immich's key order and formats), ordered by ``ack``, bounded by ``nowId``.
"""
