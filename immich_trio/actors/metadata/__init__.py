"""Metadata extraction: the exiftool client and the pure tag-to-record mapping."""
