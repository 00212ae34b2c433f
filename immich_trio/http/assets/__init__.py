"""The Assets tag, one module per sub-concern.

``upload`` (``uploadAsset``, ``checkBulkUpload``), ``info`` (``getAssetInfo``,
``getAssetStatistics``), ``edits`` (``updateAsset``, ``updateAssets``, ``deleteAssets``),
``metadata`` (key/value metadata), ``media`` (original, thumbnails, video playback),
``editing`` (crop/rotate/mirror edits and OCR boxes), ``copy_jobs`` (``copyAsset``, ``runAssetJobs``)
and ``video_stream`` (HLS: main and media playlists, segments, ending a session).
"""
