"""The Assets tag, one module per sub-concern.

``upload`` (``uploadAsset``, ``checkBulkUpload``), ``info`` (``getAssetInfo``,
``getAssetStatistics``), ``edits`` (``updateAsset``, ``updateAssets``, ``deleteAssets``),
``metadata`` (key/value metadata), ``media`` (original, thumbnails, video playback),
``editing`` (crop/rotate/mirror edits and OCR boxes) and ``copy_jobs`` (``copyAsset``, ``runAssetJobs``).
Operations that need features not built yet (HLS streaming) stay 501.
"""
