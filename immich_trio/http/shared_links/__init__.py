"""The Shared links tag: the owner's links (manage, assets) and the holder's view (holder)."""
