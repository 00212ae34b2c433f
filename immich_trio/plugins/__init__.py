"""Immich's workflow plugins, natively: the core plugin's manifest (``core_manifest.json``,
written into ``plugin``/``plugin_method`` at start) and its filters and actions in Python
(``core.py``). Immich runs the core plugin as WebAssembly through Extism; this server embeds no
WebAssembly runtime, so only the core plugin's methods run, and external plugins are not loaded.
"""
