"""Queries on assets, one module per sub-concern of the Assets tag.

``upload`` (ingest, duplicates, recovery), ``info`` (one asset with its exif, owner, tags and
stack; statistics), ``edits`` (updates, live-photo links, trash), ``metadata`` (key/value
metadata) and ``media`` (the files of an asset). Who may touch which asset is decided in
``sql/access.py``.
"""
