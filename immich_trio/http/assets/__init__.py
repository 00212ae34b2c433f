"""The Assets tag, one module per sub-concern.

``upload`` (``uploadAsset``, ``checkBulkUpload``), ``info`` (``getAssetInfo``,
``getAssetStatistics``), ``edits`` (``updateAsset``, ``updateAssets``, ``deleteAssets``),
``metadata`` (key/value metadata) and ``media`` (original, thumbnails, video playback).
Operations that need features not built yet (HLS streaming) stay 501.
"""
