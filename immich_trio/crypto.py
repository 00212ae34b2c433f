"""Opaque random tokens, their stored hashes, and bcrypt passwords."""

from __future__ import annotations

import base64
import hashlib
import secrets

import bcrypt

TOKEN_BYTES = 32
BCRYPT_ROUNDS = 10


def new_token() -> str:
    """32 random bytes as base64 without ``+``, ``/`` and ``=`` (about 43 characters)."""
    raw = base64.b64encode(secrets.token_bytes(TOKEN_BYTES)).decode()
    return raw.replace("+", "").replace("/", "").replace("=", "")


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


# A real hash to compare against when the user is unknown, so timing does not tell.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(BCRYPT_ROUNDS))


def check_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        bcrypt.checkpw(password.encode()[:72], _DUMMY_HASH)
        return False
    try:
        return bcrypt.checkpw(password.encode()[:72], hashed.encode())
    except ValueError:
        return False
