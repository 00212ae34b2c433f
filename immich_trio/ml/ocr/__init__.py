"""OCR as Immich's machine-learning service does it: PP-OCR text detection and recognition."""
