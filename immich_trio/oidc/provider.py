"""The OpenID Connect provider as this client reaches it: its errors, every request to it
(bounded by ``oauth.timeout``, plain ``http://`` only with ``oauth.allowInsecureRequests``, failures
worded as openid-client's), discovery of its metadata, and the profile picture behind a claim."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import certifi
import httpx
import trio

WELL_KNOWN = "/.well-known/openid-configuration"
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


async def request(
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


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
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
        meta = json_object(await request(oauth, "GET", discovery_url(issuer_url)), "discovery")
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

