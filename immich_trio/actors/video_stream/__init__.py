"""HLS streaming (Immich v3.1's real-time transcoding, Alpha): ``plan`` (variants, segmentation,
playlist texts), ``encoder`` (one PyAV transcode run writing fMP4 segments, in a worker thread),
``streamer`` (the actor owning the sessions and their runs) and ``expiry`` (the
``HlsSessionCleanup`` job's work)."""
