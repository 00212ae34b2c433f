"""JWTs from the provider: ID tokens and signed userinfo (its JWKS, or the client secret for
HS*), and back-channel logout tokens, checked as openid-client checks them (joserfc underneath)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

from .provider import OidcError, Provider, json_object, request

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# openid-client's defaults: ID tokens may be a little early or late; logout tokens live 2 min.
CLOCK_TOLERANCE_S = 5
LOGOUT_TOKEN_MAX_AGE_S = 120


async def key_set(provider: Provider, oauth: Mapping[str, Any]) -> KeySet:
    if provider.jwks_uri is None:
        raise OidcError("Unable to get JWKS URI")
    body = json_object(await request(oauth, "GET", provider.jwks_uri), "JWKS")
    try:
        return KeySet.import_key_set(body)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcError(f"invalid JWKS: {exc}") from None


async def verify_jwt(
    token: str, provider: Provider, oauth: Mapping[str, Any], algorithm: str
) -> dict[str, Any]:
    """The claims of a JWT signed by the provider with ``algorithm`` (HS*: the client secret)."""
    try:
        header = jwt_header(token)
    except (JoseError, ValueError) as exc:
        raise OidcError(f"invalid JWT: {exc}") from None
    if header.get("alg") != algorithm:
        raise OidcError(
            f"unexpected JWT alg received, expected {algorithm}, got: {header.get('alg')}"
        )
    key: Any
    if algorithm.startswith("HS"):
        key = OctKey.import_key(str(oauth.get("clientSecret") or ""))
    else:
        key = await key_set(provider, oauth)
    try:
        return dict(jwt.decode(token, key, algorithms=[algorithm]).claims)
    except (JoseError, ValueError) as exc:
        raise OidcError(f"JWT verification failed: {exc}") from None


def jwt_header(token: str) -> dict[str, Any]:
    first = token.split(".", 1)[0]
    data = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    if not isinstance(data, dict):
        raise ValueError("JWT header is not an object")
    return data


def check_id_token_claims(claims: Mapping[str, Any], provider: Provider, client_id: str) -> None:
    now = time.time()
    if claims.get("iss") != provider.issuer:
        raise OidcError('unexpected JWT "iss" (issuer) claim value')
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise OidcError('unexpected JWT "aud" (audience) claim value')
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now - CLOCK_TOLERANCE_S:
        raise OidcError('unexpected JWT "exp" (expiration time) claim value, expiration is past')
    if not isinstance(claims.get("sub"), str):
        raise OidcError('JWT "sub" (subject) claim missing')



# --- back-channel logout ------------------------------------------------------------------------


async def verify_logout_token(
    provider: Provider, oauth: Mapping[str, Any], token: str
) -> dict[str, Any]:
    """A logout token's claims, checked as OpenID Connect Back-Channel Logout 1.0 says."""
    algorithm = str(oauth.get("signingAlgorithm") or "RS256")
    claims = await verify_jwt(token, provider, oauth, algorithm)
    now = time.time()
    if claims.get("iss") != provider.issuer:
        raise OidcError('unexpected "iss" claim value')
    audience = claims.get("aud")
    if str(oauth.get("clientId") or "") not in (
        audience if isinstance(audience, list) else [audience]
    ):
        raise OidcError('unexpected "aud" claim value')
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or iat < now - LOGOUT_TOKEN_MAX_AGE_S - CLOCK_TOLERANCE_S:
        raise OidcError('"iat" claim timestamp check failed (too far in the past)')
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or exp <= now - CLOCK_TOLERANCE_S):
        raise OidcError('"exp" claim timestamp check failed')
    events = claims.get("events")
    # JavaScript truthiness: the event's value is normally ``{}``, which counts as present.
    if not isinstance(events, dict) or events.get(BACKCHANNEL_LOGOUT_EVENT) in (None, False, 0, ""):
        raise OidcError("Missing backchannel-logout event claim")
    if claims.get("nonce"):
        raise OidcError("Logout token must not contain a nonce")
    return claims
