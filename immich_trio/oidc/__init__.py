"""The OpenID Connect client side of Immich's OAuth login: discovery, the authorisation URL
with state and PKCE, the code exchange with ID-token verification, the profile, logout tokens.

It follows Immich v3.1's ``oauth.repository.ts`` (openid-client underneath): every request to
the provider is bounded by the ``oauth.timeout`` setting (milliseconds), plain ``http://``
endpoints are refused unless ``oauth.allowInsecureRequests`` is on, and the provider is
discovered afresh for each operation (a config change takes effect at once). JOSE work
(signatures, JWKS) is joserfc's; HTTP is httpx (Trio through anyio). ``provider.py`` reaches
the provider, ``tokens.py`` checks its JWTs, ``login.py`` is the login flow.
"""

from .login import (
    LoginProfile,
    authorization_url,
    code_challenge,
    finish_login,
    new_code_verifier,
    new_state,
)
from .provider import DiscoveryError, OidcError, Provider, discover, discovery_url, fetch_picture
from .tokens import verify_logout_token

__all__ = [
    "DiscoveryError", "LoginProfile", "OidcError", "Provider", "authorization_url", "code_challenge",
    "discover", "discovery_url", "fetch_picture", "finish_login", "new_code_verifier", "new_state",
    "verify_logout_token",
]
