"""JWTStrategy: signing algorithms, construction checks, and what ``read_token`` refuses."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from pydantic import SecretStr

from fastapi_userkit import BaseUserManager
from fastapi_userkit.authentication import JWTStrategy
from fastapi_userkit.authentication.strategy.jwt import JWTStrategyDestroyNotSupportedError
from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.jwt import decode_jwt, generate_jwt
from tests.app_factory import SECRET
from tests.authentication.conftest import add_user
from tests.conftest import SessionMaker
from tests.models import User

Manager = BaseUserManager[User, uuid.UUID]
AUDIENCE = ["fastapi-users:auth"]


def _pem_pair(private_key: PrivateKeyTypes) -> tuple[str, str]:
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


@functools.cache
def key_pair(algorithm: str, number: int = 0) -> tuple[str, str]:
    """The ``number``-th PEM private/public key pair for ``algorithm`` (generated once per run)."""
    if algorithm == "RS256":
        return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _pem_pair(ec.generate_private_key(ec.SECP256R1()))


async def test_hs256_round_trip(sqlite_db: SessionMaker, user_manager: Manager) -> None:
    """A token written for a user reads back as that user, with sub, aud, exp, iat, jti and fgp claims."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)

    token = await strategy.write_token(user)
    read = await strategy.read_token(token, user_manager)

    assert read is not None
    assert read.id == user.id
    claims = decode_jwt(token, SECRET, AUDIENCE)
    assert claims["sub"] == str(user.id)
    assert claims["aud"] == AUDIENCE
    assert {"exp", "iat", "jti", "fgp"} <= set(claims)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_asymmetric_algorithms(sqlite_db: SessionMaker, user_manager: Manager, algorithm: str) -> None:
    """RS256 and ES256 sign with the private key and verify with public_key; another key pair is refused."""
    user = await add_user(sqlite_db)
    private_pem, public_pem = key_pair(algorithm)
    strategy = JWTStrategy[User, uuid.UUID](private_pem, 3600, algorithm=algorithm, public_key=public_pem)
    other_private = key_pair(algorithm, 1)[0]
    impostor = JWTStrategy[User, uuid.UUID](other_private, 3600, algorithm=algorithm, public_key=public_pem)

    token = await strategy.write_token(user)
    forged = await impostor.write_token(user)

    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert (strategy.encode_key, strategy.decode_key) == (private_pem, public_pem)
    read = await strategy.read_token(token, user_manager)
    assert read is not None
    assert read.id == user.id
    assert await strategy.read_token(forged, user_manager) is None


async def test_hmac_token_with_public_key_is_refused(sqlite_db: SessionMaker, user_manager: Manager) -> None:
    """An HS256 token keyed with the RS256 public key is refused (algorithm confusion, ASVS 9.1.2)."""
    user = await add_user(sqlite_db)
    private_pem, public_pem = key_pair("RS256")
    strategy = JWTStrategy[User, uuid.UUID](private_pem, 3600, algorithm="RS256", public_key=public_pem)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"sub": str(user.id), "aud": AUDIENCE}).encode())
    signature = hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()

    token = f"{header}.{payload}.{_b64(signature)}"

    assert await strategy.read_token(token, user_manager) is None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_secret_str(sqlite_db: SessionMaker, user_manager: Manager) -> None:
    """A pydantic SecretStr works as the secret."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SecretStr(SECRET), 3600)

    read = await strategy.read_token(await strategy.write_token(user), user_manager)

    assert read is not None
    assert strategy.decode_key == strategy.encode_key


async def test_no_lifetime_means_no_exp(sqlite_db: SessionMaker) -> None:
    """lifetime_seconds=None issues a token without ``exp``."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, None)

    claims = decode_jwt(await strategy.write_token(user), SECRET, AUDIENCE)

    assert "exp" not in claims


@pytest.mark.parametrize("lifetime", [0, -1])
def test_non_positive_lifetime_is_refused(lifetime: int) -> None:
    """lifetime_seconds 0 (FastAPI Users' silent "never expires") and negatives fail at construction."""
    with pytest.raises(ConfigurationError, match="lifetime_seconds"):
        JWTStrategy[User, uuid.UUID](SECRET, lifetime)


@pytest.mark.parametrize("secret", ["", SecretStr("")])
def test_empty_secret_is_refused(secret: str | SecretStr) -> None:
    """An empty secret fails at construction."""
    with pytest.raises(ConfigurationError, match="secret"):
        JWTStrategy[User, uuid.UUID](secret, 3600)


async def test_custom_audience(sqlite_db: SessionMaker, user_manager: Manager) -> None:
    """token_audience is written and required: a default-audience token is refused."""
    user = await add_user(sqlite_db)
    custom = JWTStrategy[User, uuid.UUID](SECRET, 3600, token_audience=["my-app"])
    default = JWTStrategy[User, uuid.UUID](SECRET, 3600)

    assert await custom.read_token(await custom.write_token(user), user_manager) is not None
    assert await custom.read_token(await default.write_token(user), user_manager) is None


async def test_none_token(user_manager: Manager) -> None:
    """No token reads as no user."""
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)

    assert await strategy.read_token(None, user_manager) is None


async def test_token_without_sub(user_manager: Manager) -> None:
    """A valid signature without ``sub`` reads as no user."""
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)

    assert await strategy.read_token(generate_jwt({"aud": AUDIENCE}, SECRET, 60), user_manager) is None


async def test_token_with_unparsable_sub(user_manager: Manager) -> None:
    """A ``sub`` that is not a UUID reads as no user."""
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)

    assert await strategy.read_token(generate_jwt({"sub": "42", "aud": AUDIENCE}, SECRET, 60), user_manager) is None


async def test_token_of_unknown_user(user_manager: Manager) -> None:
    """A token naming no existing user reads as no user."""
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    token = generate_jwt({"sub": str(uuid.uuid4()), "aud": AUDIENCE}, SECRET, 60)

    assert await strategy.read_token(token, user_manager) is None


async def test_tampered_fingerprint(sqlite_db: SessionMaker, user_manager: Manager) -> None:
    """A token whose ``fgp`` was altered (and re-signed) reads as no user."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    claims = decode_jwt(await strategy.write_token(user), SECRET, AUDIENCE)
    claims["fgp"] = "A" * len(claims["fgp"])

    assert await strategy.read_token(jwt.encode(claims, SECRET, algorithm="HS256"), user_manager) is None


async def test_fingerprint_follows_password(sqlite_db: SessionMaker, user_manager: Manager) -> None:
    """Changing the stored password hash ends tokens issued before the change."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    token = await strategy.write_token(user)

    stored = await user_manager.get(user.id)
    await user_manager.user_db.update(stored, {"hashed_password": "$argon2id$changed"})

    assert await strategy.read_token(token, user_manager) is None


async def test_legacy_token_without_fingerprint(sqlite_db: SessionMaker, user_manager: Manager) -> None:
    """A token in FastAPI Users' shape (sub, aud, exp; no ``fgp``) is still accepted."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    legacy = generate_jwt({"sub": str(user.id), "aud": AUDIENCE}, SECRET, 3600)

    read = await strategy.read_token(legacy, user_manager)

    assert read is not None
    assert read.id == user.id


async def test_expired_token(sqlite_db: SessionMaker, user_manager: Manager) -> None:
    """An expired token reads as no user."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)

    expired = generate_jwt({"sub": str(user.id), "aud": AUDIENCE}, SECRET, -1)

    assert await strategy.read_token(expired, user_manager) is None


async def test_destroy_without_revocation_table(sqlite_db: SessionMaker) -> None:
    """Without a revoked-token table a JWT cannot be destroyed: the compat exception says so."""
    user = await add_user(sqlite_db)
    strategy = JWTStrategy[User, uuid.UUID](SECRET, 3600)
    token = await strategy.write_token(user)

    with pytest.raises(JWTStrategyDestroyNotSupportedError, match="can't be invalidated"):
        await strategy.destroy_token(token, user)
