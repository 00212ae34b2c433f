"""The login itself: state and PKCE, the authorisation URL, and the code exchange with the
ID token's verification and the user's profile (userinfo, plain or signed)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit, urlunsplit

import attrs

from .provider import OidcError, Provider, json_object, request
from .tokens import check_id_token_claims, verify_jwt


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
    tokens = json_object(
        await request(oauth, "POST", provider.token_endpoint, data=form, headers=headers), "token"
    )
    access_token = tokens.get("access_token")
    if not isinstance(access_token, str):
        raise OidcError('"response" body "access_token" property must be a string')
    id_token = tokens.get("id_token") if isinstance(tokens.get("id_token"), str) else None
    claims: dict[str, Any] = {}
    if id_token is not None:
        algorithm = str(oauth.get("signingAlgorithm") or "RS256")
        claims = await verify_jwt(id_token, provider, oauth, algorithm)
        check_id_token_claims(claims, provider, str(oauth.get("clientId") or ""))
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
    response = await request(
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
        return await verify_jwt(response.text.strip(), provider, oauth, algorithm)
    return json_object(response, "userinfo")

