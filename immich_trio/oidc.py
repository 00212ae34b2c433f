"""The OpenID Connect client side of Immich's OAuth login: discovery, the authorisation URL
with state and PKCE, the code exchange with ID-token verification, the profile, logout tokens.

It follows Immich v3.1's ``oauth.repository.ts`` (openid-client underneath): every request to
the provider is bounded by the ``oauth.timeout`` setting (milliseconds), plain ``http://``
endpoints are refused unless ``oauth.allowInsecureRequests`` is on, and the provider is
discovered afresh for each operation (a config change takes effect at once). JOSE work
(signatures, JWKS) is joserfc's; HTTP is httpx (Trio through anyio).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit, urlunsplit

import attrs
import certifi
import httpx
import trio
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

WELL_KNOWN = "/.well-known/openid-configuration"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# openid-client's defaults: ID tokens may be a little early or late; logout tokens live 2 min.
CLOCK_TOLERANCE_S = 5
LOGOUT_TOKEN_MAX_AGE_S = 120
# How Node prints openid-client v6's errors, which Immich puts into "Error in OAuth discovery:
# ${error}": undici's TypeError for an unreachable host, ClientError for what its errorHandler
# maps (an AbortSignal timeout, oauth4webapi's HTTPS-only check, a refused response).
CLIENT_ERROR = "ClientError: "
FETCH_FAILED = "TypeError: fetch failed"
TIMED_OUT = CLIENT_ERROR + "operation timed out"
HTTPS_ONLY = CLIENT_ERROR + "only requests to HTTPS are allowed"


class OidcError(Exception):
    """The provider could not be reached, refused, or answered something unacceptable."""


class DiscoveryError(OidcError):
    """The provider's metadata could not be fetched or was unusable."""


@attrs.frozen(kw_only=True)
class Provider:
    """What discovery says about the provider (the fields this client uses)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None
    jwks_uri: str | None
    end_session_endpoint: str | None
    supports_pkce: bool


@attrs.frozen(kw_only=True)
class LoginProfile:
    """The outcome of a code exchange: the user's claims, the session id, the raw ID token."""

    profile: dict[str, Any]
    sid: str | None
    id_token: str | None


# --- secrets -----------------------------------------------------------------------------------


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    return secrets.token_urlsafe(32)


def code_challenge(verifier: str) -> str:
    """PKCE S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# --- transport ---------------------------------------------------------------------------------


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default trust (certifi), built once: a context costs ~100 ms to make."""
    return ssl.create_default_context(cafile=certifi.where())


def _timeout_s(oauth: Mapping[str, Any]) -> float:
    return max(float(oauth.get("timeout") or 30000), 1.0) / 1000


def _check_transport(oauth: Mapping[str, Any], url: str) -> None:
    if urlsplit(url).scheme != "https" and not oauth.get("allowInsecureRequests"):
        raise OidcError(HTTPS_ONLY)


async def _request(
    oauth: Mapping[str, Any], method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One request to the provider, the whole of it within ``oauth.timeout``. Failures carry
    the text openid-client's errors print as (``${error}`` in Immich's messages)."""
    _check_transport(oauth, url)
    seconds = _timeout_s(oauth)
    try:
        with trio.fail_after(seconds):
            async with httpx.AsyncClient(
                timeout=seconds, follow_redirects=False, verify=_tls()
            ) as client:
                return await client.request(method, url, **kwargs)
    except (trio.TooSlowError, httpx.TimeoutException):
        raise OidcError(TIMED_OUT) from None
    except httpx.HTTPError:
        raise OidcError(FETCH_FAILED) from None


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """A provider's JSON answer; refusals worded as openid-client's ``errorHandler`` words
    oauth4webapi's checks (status, content type, parse, top-level object)."""
    if response.status_code != 200:
        raise OidcError(f"{CLIENT_ERROR}unexpected HTTP response status code")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "application/jwk-set+json"):
        raise OidcError(f"{CLIENT_ERROR}unexpected response content-type")
    try:
        body = response.json()
    except ValueError:
        raise OidcError(f"{CLIENT_ERROR}parsing error occured") from None
    if not isinstance(body, dict):
        raise OidcError(f"{CLIENT_ERROR}invalid response encountered")
    return body


# --- discovery ---------------------------------------------------------------------------------


def discovery_url(issuer_url: str) -> str:
    """openid-client's rule: a URL already naming ``/.well-known/`` is used as it is."""
    parts = urlsplit(issuer_url)
    if "/.well-known/" in parts.path:
        return issuer_url
    path = parts.path.rstrip("/") + WELL_KNOWN
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


async def discover(oauth: Mapping[str, Any]) -> Provider:
    issuer_url = str(oauth.get("issuerUrl") or "")
    try:
        if not urlsplit(issuer_url).scheme:
            raise OidcError("TypeError: Invalid URL")
        meta = _json_object(await _request(oauth, "GET", discovery_url(issuer_url)), "discovery")
        issuer = meta.get("issuer")
        if not isinstance(issuer, str) or issuer.rstrip("/") != issuer_url.rstrip("/").split(
            "/.well-known/"
        )[0].rstrip("/"):
            raise OidcError(f"{CLIENT_ERROR}discovered metadata issuer does not match the expected issuer")
        for key in ("authorization_endpoint", "token_endpoint"):
            if not isinstance(meta.get(key), str):
                raise OidcError(f'"{key}" is missing from the discovery document')
    except OidcError as exc:
        raise DiscoveryError(str(exc)) from None
    methods = meta.get("code_challenge_methods_supported")
    return Provider(
        issuer=issuer,
        authorization_endpoint=meta["authorization_endpoint"],
        token_endpoint=meta["token_endpoint"],
        userinfo_endpoint=_str_or_none(meta.get("userinfo_endpoint")),
        jwks_uri=_str_or_none(meta.get("jwks_uri")),
        end_session_endpoint=_str_or_none(meta.get("end_session_endpoint")),
        supports_pkce=isinstance(methods, list) and "S256" in methods,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- the authorisation request ----------------------------------------------------------------


def authorization_url(
    provider: Provider, oauth: Mapping[str, Any], *, redirect_uri: str, state: str, challenge: str
) -> str:
    params = {
        "client_id": str(oauth.get("clientId") or ""),
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": str(oauth.get("scope") or ""),
        "state": state,
    }
    if oauth.get("prompt"):
        params["prompt"] = str(oauth["prompt"])
    if provider.supports_pkce:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = "S256"
    parts = urlsplit(provider.authorization_endpoint)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# --- the code exchange -------------------------------------------------------------------------


def _client_auth(oauth: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(form fields, headers) authenticating the client at the token endpoint."""
    client_id = str(oauth.get("clientId") or "")
    secret = str(oauth.get("clientSecret") or "")
    method = oauth.get("tokenEndpointAuthMethod")
    if secret and method == "client_secret_post":
        return {"client_id": client_id, "client_secret": secret}, {}
    if secret and method == "client_secret_basic":
        pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
        return {}, {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {"client_id": client_id}, {}


async def _key_set(provider: Provider, oauth: Mapping[str, Any]) -> KeySet:
    if provider.jwks_uri is None:
        raise OidcError("Unable to get JWKS URI")
    body = _json_object(await _request(oauth, "GET", provider.jwks_uri), "JWKS")
    try:
        return KeySet.import_key_set(body)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcError(f"invalid JWKS: {exc}") from None


async def _verify(
    token: str, provider: Provider, oauth: Mapping[str, Any], algorithm: str
) -> dict[str, Any]:
    """The claims of a JWT signed by the provider with ``algorithm`` (HS*: the client secret)."""
    try:
        header = _header(token)
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
        key = await _key_set(provider, oauth)
    try:
        return dict(jwt.decode(token, key, algorithms=[algorithm]).claims)
    except (JoseError, ValueError) as exc:
        raise OidcError(f"JWT verification failed: {exc}") from None


def _header(token: str) -> dict[str, Any]:
    first = token.split(".", 1)[0]
    data = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    if not isinstance(data, dict):
        raise ValueError("JWT header is not an object")
    return data


def _check_id_token_claims(claims: Mapping[str, Any], provider: Provider, client_id: str) -> None:
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


async def finish_login(
    provider: Provider,
    oauth: Mapping[str, Any],
    *,
    callback_url: str,
    expected_state: str,
    code_verifier: str,
) -> LoginProfile:
    """Check the callback's state, trade its code for tokens, and read the user's profile."""
    parts = urlsplit(callback_url)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if query.get("state") != expected_state:
        raise OidcError('unexpected "state" response parameter value')
    if "error" in query:
        raise OidcError(f"authorization response error: {query['error']}")
    code = query.get("code")
    if not code:
        raise OidcError('"code" parameter missing')
    fields, headers = _client_auth(oauth)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
        **fields,
    }
    if provider.supports_pkce:
        form["code_verifier"] = code_verifier
    tokens = _json_object(
        await _request(oauth, "POST", provider.token_endpoint, data=form, headers=headers), "token"
    )
    access_token = tokens.get("access_token")
    if not isinstance(access_token, str):
        raise OidcError('"response" body "access_token" property must be a string')
    id_token = tokens.get("id_token") if isinstance(tokens.get("id_token"), str) else None
    claims: dict[str, Any] = {}
    if id_token is not None:
        algorithm = str(oauth.get("signingAlgorithm") or "RS256")
        claims = await _verify(id_token, provider, oauth, algorithm)
        _check_id_token_claims(claims, provider, str(oauth.get("clientId") or ""))
    profile = claims if "email" in claims else await _user_info(provider, oauth, access_token)
    if not profile.get("sub"):
        raise OidcError("Unexpected profile response, no `sub`")
    sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    return LoginProfile(profile=profile, sid=sid, id_token=id_token)


async def _user_info(
    provider: Provider, oauth: Mapping[str, Any], access_token: str
) -> dict[str, Any]:
    if provider.userinfo_endpoint is None:
        raise OidcError("the provider has no userinfo endpoint")
    response = await _request(
        oauth,
        "GET",
        provider.userinfo_endpoint,
        headers={
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json, application/jwt",
        },
    )
    algorithm = str(oauth.get("profileSigningAlgorithm") or "none")
    if algorithm != "none":
        if response.status_code != 200:
            raise OidcError(f"userinfo answered {response.status_code}")
        return await _verify(response.text.strip(), provider, oauth, algorithm)
    return _json_object(response, "userinfo")


# --- the profile picture ------------------------------------------------------------------------


async def fetch_picture(oauth: Mapping[str, Any], url: str, *, limit: int) -> bytes:
    """The bytes behind a profile's ``picture`` claim: any host, redirects followed (as
    Immich's ``fetch``), at most ``limit`` bytes read, within ``oauth.timeout``."""
    seconds = _timeout_s(oauth)
    received = bytearray()
    try:
        with trio.fail_after(seconds):
            async with (
                httpx.AsyncClient(timeout=seconds, follow_redirects=True, verify=_tls()) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise OidcError(f"Failed to fetch picture: {response.reason_phrase}")
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > limit:
                        raise OidcError(f"the picture is larger than {limit} bytes")
    except (trio.TooSlowError, httpx.TimeoutException):
        raise OidcError(TIMED_OUT) from None
    except httpx.HTTPError:
        raise OidcError(FETCH_FAILED) from None
    return bytes(received)


# --- back-channel logout ------------------------------------------------------------------------


async def verify_logout_token(
    provider: Provider, oauth: Mapping[str, Any], token: str
) -> dict[str, Any]:
    """A logout token's claims, checked as OpenID Connect Back-Channel Logout 1.0 says."""
    algorithm = str(oauth.get("signingAlgorithm") or "RS256")
    claims = await _verify(token, provider, oauth, algorithm)
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
