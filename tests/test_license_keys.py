"""Licence activation keys: Immich's RSA/SHA-256 signature rule, with injected and real keys."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from immich_trio import license_keys as lk
from immich_trio.config import load_settings
from tests.license_examples import IMMICH_TEST_CLIENT_LICENSE, IMMICH_TEST_SERVER_LICENSE


def _key_pair() -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(pem).decode()


def _sign(private: rsa.RSAPrivateKey, text: str) -> str:
    signature = private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.urlsafe_b64encode(signature).decode().rstrip("=")


def test_generated_pair_signs_and_verifies() -> None:
    client_private, client_public = _key_pair()
    server_private, server_public = _key_pair()
    keys = lk.LicensePublicKeys(client=client_public, server=server_public)
    client_key = "IMCL-AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"
    server_key = "IMSV-AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH"
    client_activation = _sign(client_private, client_key)
    server_activation = _sign(server_private, server_key)

    assert lk.verify(client_key, client_activation, client_public)
    # Standard base64 with padding is accepted too (Node's decoder takes both alphabets).
    standard = base64.b64encode(base64.urlsafe_b64decode(client_activation + "==")).decode()
    assert lk.verify(client_key, standard, client_public)
    assert not lk.verify(client_key + "X", client_activation, client_public)
    assert not lk.verify(client_key, client_activation, server_public)
    assert not lk.verify(client_key, "not base64 !!", client_public)
    assert not lk.verify(client_key, "", client_public)

    # Server licences: IMSV- signed with the server key only.
    assert lk.server_license_valid(server_key, server_activation, keys)
    assert not lk.server_license_valid(client_key, client_activation, keys)
    assert not lk.server_license_valid(server_key, _sign(client_private, server_key), keys)
    # User licences: IMCL- or IMSV-, signed with either key.
    assert lk.user_license_valid(client_key, client_activation, keys)
    assert lk.user_license_valid(server_key, server_activation, keys)
    assert not lk.user_license_valid("IMXX-" + client_key[5:], _sign(client_private, "IMXX-" + client_key[5:]), keys)


def test_immich_published_keys_pass_with_staging_keys_only() -> None:
    client_key, client_activation = IMMICH_TEST_CLIENT_LICENSE
    server_key, server_activation = IMMICH_TEST_SERVER_LICENSE
    assert lk.user_license_valid(client_key, client_activation, lk.STAGING_KEYS)
    assert lk.user_license_valid(server_key, server_activation, lk.STAGING_KEYS)
    assert lk.server_license_valid(server_key, server_activation, lk.STAGING_KEYS)
    assert not lk.server_license_valid(server_key, "invalid" + server_activation, lk.STAGING_KEYS)
    # Immich's production keys refuse keys they did not sign.
    assert not lk.user_license_valid(client_key, client_activation, lk.PRODUCTION_KEYS)
    assert not lk.server_license_valid(server_key, server_activation, lk.PRODUCTION_KEYS)


def test_real_public_keys_refuse_a_forged_key() -> None:
    forger, _ = _key_pair()
    key = "IMSV-6ECZ-91TE-WZRM-Q7AQ-MBN4-UW48-2CPT-71X9"
    forged = _sign(forger, key)
    for keys in (lk.PRODUCTION_KEYS, lk.STAGING_KEYS):
        assert not lk.server_license_valid(key, forged, keys)
        assert not lk.user_license_valid(key, forged, keys)


def test_environment_chooses_the_keys() -> None:
    assert load_settings({}).license_keys == lk.PRODUCTION_KEYS
    assert load_settings({"IMMICH_ENV": "production"}).license_keys == lk.PRODUCTION_KEYS
    assert load_settings({"IMMICH_ENV": "testing"}).license_keys == lk.STAGING_KEYS
