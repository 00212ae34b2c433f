"""Errors of the database layer that callers act on (the HTTP layer maps them to 503)."""

from __future__ import annotations


class DatabaseUnavailable(Exception):
    """The database cannot be reached right now; retry later (HTTP 503).

    Raised by the pool when no connection can be made within the connect timeout, when a
    connection breaks in use, or when no connection becomes free within the acquire
    timeout. ``__cause__`` holds the underlying error when there is one.
    """


class PoolClosed(DatabaseUnavailable):
    """The pool is not running (not started yet, or shut down)."""


class MigrationError(Exception):
    """A migration failed; its transaction was rolled back and it was not recorded."""

    def __init__(self, version: int, name: str, message: str) -> None:
        super().__init__(f"migration {name} failed: {message}")
        self.version = version
        self.name = name


class EmbeddedPostgresDied(Exception):
    """The embedded PostgreSQL server exited (or never became ready) while it was wanted.

    ``returncode`` is the process exit status (negative: killed by that signal), and
    ``log_tail`` the last lines of its log, to say why.
    """

    def __init__(self, message: str, *, returncode: int | None, log_tail: str = "") -> None:
        detail = f"{message} (exit status {returncode})"
        if log_tail:
            detail += "\n--- postgres log (tail) ---\n" + log_tail
        super().__init__(detail)
        self.returncode = returncode
        self.log_tail = log_tail
