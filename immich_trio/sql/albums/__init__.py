"""Album queries: ``read`` (albums as the responses show them, covers) and ``write``."""
