"""The Assets tag beyond upload and info: edits, trash, statistics, metadata, files."""
