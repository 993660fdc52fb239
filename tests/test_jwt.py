"""generate_jwt / decode_jwt: audiences, lifetimes, algorithms and secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from fastapi_userkit.jwt import JWT_ALGORITHM, VerifiedTokenCache, decode_jwt, generate_jwt, get_secret_value

SECRET = "jwt-test-secret-for-signing-0123456789abcdef"
AUDIENCE = "fastapi-users:auth"


def b64(data: dict[str, Any]) -> str:
    """Unpadded base64url JSON, as in a JWT segment."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_round_trip_keeps_the_claims_and_adds_exp() -> None:
    """Claims come back unchanged, with an exp about lifetime_seconds ahead; the input is not mutated."""
    data = {"sub": "42", "aud": AUDIENCE}

    token = generate_jwt(data, SECRET, 60)
    claims = decode_jwt(token, SECRET, [AUDIENCE])

    assert claims["sub"] == "42"
    assert 55 <= claims["exp"] - datetime.now(UTC).timestamp() <= 61
    assert data == {"sub": "42", "aud": AUDIENCE}
    assert jwt.get_unverified_header(token)["alg"] == JWT_ALGORITHM == "HS256"


@pytest.mark.parametrize("lifetime", [None, 0])
def test_no_lifetime_means_no_exp(lifetime: int | None) -> None:
    """lifetime_seconds None (or 0, FastAPI Users' behaviour for this helper) adds no exp claim."""
    claims = decode_jwt(generate_jwt({"aud": AUDIENCE}, SECRET, lifetime), SECRET, [AUDIENCE])

    assert "exp" not in claims


def test_secret_str_works_on_both_sides() -> None:
    """A pydantic SecretStr signs and verifies like its plain value."""
    secret = SecretStr(SECRET)

    token = generate_jwt({"aud": AUDIENCE}, secret, 60)

    assert decode_jwt(token, SECRET, [AUDIENCE])["aud"] == AUDIENCE
    assert decode_jwt(generate_jwt({"aud": AUDIENCE}, SECRET), secret, [AUDIENCE])["aud"] == AUDIENCE
    assert get_secret_value(secret) == get_secret_value(SECRET) == SECRET


def test_expired_token_is_refused() -> None:
    """A token past its exp raises ExpiredSignatureError."""
    token = generate_jwt({"aud": AUDIENCE}, SECRET, -1)

    with pytest.raises(jwt.ExpiredSignatureError):
        decode_jwt(token, SECRET, [AUDIENCE])


def test_wrong_or_missing_audience_is_refused() -> None:
    """A token for another purpose, or for none, is refused."""
    with pytest.raises(jwt.InvalidAudienceError):
        decode_jwt(generate_jwt({"aud": "fastapi-users:reset"}, SECRET), SECRET, [AUDIENCE])
    with pytest.raises(jwt.MissingRequiredClaimError):
        decode_jwt(generate_jwt({"sub": "42"}, SECRET), SECRET, [AUDIENCE])


def test_any_of_several_audiences_is_accepted() -> None:
    """decode_jwt accepts a token whose audience is any of those listed."""
    token = generate_jwt({"aud": "b"}, SECRET)

    assert decode_jwt(token, SECRET, ["a", "b"])["aud"] == "b"


def test_wrong_secret_is_refused() -> None:
    """A token signed with another key fails signature verification."""
    token = generate_jwt({"aud": AUDIENCE}, "another-secret-for-signing-0123456789abcdef")

    with pytest.raises(jwt.InvalidSignatureError):
        decode_jwt(token, SECRET, [AUDIENCE])


def test_other_algorithm_is_refused_unless_allowed() -> None:
    """An HS512 token is refused by the default HS256-only list and accepted when listed."""
    token = generate_jwt({"aud": AUDIENCE}, SECRET + SECRET, algorithm="HS512")

    with pytest.raises(jwt.InvalidAlgorithmError):
        decode_jwt(token, SECRET + SECRET, [AUDIENCE])
    assert decode_jwt(token, SECRET + SECRET, [AUDIENCE], algorithms=["HS512"])["aud"] == AUDIENCE


@pytest.mark.parametrize("token", ["", ".", "..", "a.b.c", "\ud800.e30.", "é.é.é", "\x00"])
def test_malformed_tokens_raise_pyjwt_errors(token: str) -> None:
    """Empty, truncated, non-ASCII or undecodable tokens raise a PyJWTError (a 401 upstream, never a 500)."""
    with pytest.raises(jwt.PyJWTError):
        decode_jwt(token, SECRET, [AUDIENCE])


@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"])
def test_alg_none_token_is_refused(signature: str) -> None:
    """An unsigned alg=none token (RFC 7519 section 6) is refused, signature or not."""
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': '42', 'aud': AUDIENCE})}.{signature}"

    with pytest.raises(jwt.PyJWTError):
        decode_jwt(token, SECRET, [AUDIENCE])


def test_asymmetric_keys_sign_with_the_private_and_verify_with_the_public_key() -> None:
    """ES256: the private key signs, the public key verifies, and the public key cannot sign."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    token = generate_jwt({"aud": AUDIENCE, "sub": "42"}, SecretStr(private_pem), 60, algorithm="ES256")

    assert decode_jwt(token, public_pem, [AUDIENCE], algorithms=["ES256"])["sub"] == "42"
    with pytest.raises(jwt.InvalidAlgorithmError):
        decode_jwt(token, public_pem, [AUDIENCE], algorithms=["HS256"])


@given(
    st.text(st.characters(codec=None, exclude_categories=()))
    | st.from_regex(r"[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}", fullmatch=True)
)
def test_decoding_any_text_raises_only_pyjwt_errors(token: str) -> None:
    """Whatever a client sends as a token, decoding fails with a PyJWTError, never another exception."""
    with pytest.raises(jwt.PyJWTError):
        decode_jwt(token, SECRET, [AUDIENCE])


@given(
    st.dictionaries(
        st.sampled_from(["aud", "exp", "nbf", "iat", "sub", "iss"]),
        st.from_type(type(None)) | st.integers() | st.text() | st.lists(st.integers(), max_size=2),
    )
)
def test_decoding_signed_tokens_with_odd_claims_raises_only_pyjwt_errors(claims: dict[str, Any]) -> None:
    """Validly signed tokens with claims of any type either decode or raise a PyJWTError."""
    # Signed by hand: jwt.encode itself refuses some odd claims, a forger would not.
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    try:
        decoded = decode_jwt(token, SECRET, [AUDIENCE])
    except jwt.PyJWTError:
        return
    assert decoded["aud"] in (AUDIENCE, [AUDIENCE])


def test_cache_gives_the_claims_again_without_a_second_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token sent again is answered from the cache, with a copy callers cannot alter."""
    cache = VerifiedTokenCache()
    token = generate_jwt({"sub": "42", "aud": AUDIENCE}, SECRET, 60)
    first = cache.decode(token, SECRET, [AUDIENCE], ["HS256"])
    first["sub"] = "tampered"
    calls: list[str] = []
    monkeypatch.setattr(jwt, "decode", lambda *_args, **_kwargs: calls.append("decode"))

    again = cache.decode(token, SECRET, [AUDIENCE], ["HS256"])

    assert again["sub"] == "42"
    assert calls == []


def test_cache_is_keyed_by_key_audience_and_algorithm() -> None:
    """The same string under another secret, audience or algorithm list is verified again, and refused."""
    cache = VerifiedTokenCache()
    token = generate_jwt({"sub": "42", "aud": AUDIENCE}, SECRET, 60)
    cache.decode(token, SECRET, [AUDIENCE], ["HS256"])

    with pytest.raises(jwt.InvalidSignatureError):
        cache.decode(token, "another secret of enough length 123456", [AUDIENCE], ["HS256"])
    with pytest.raises(jwt.InvalidAudienceError):
        cache.decode(token, SECRET, ["another:audience"], ["HS256"])
    with pytest.raises(jwt.InvalidAlgorithmError):
        cache.decode(token, SECRET, [AUDIENCE], ["HS512"])
    with pytest.raises(jwt.DecodeError):
        cache.decode(token[:-2] + "!!", SECRET, [AUDIENCE], ["HS256"])
    assert len(cache) == 1


def test_cached_token_is_refused_once_expired() -> None:
    """The expiry is compared on every use; once past, PyJWT sees the token again and refuses it."""
    cache = VerifiedTokenCache()
    token = generate_jwt({"aud": AUDIENCE}, SECRET, 1)
    claims = cache.decode(token, SECRET, [AUDIENCE], ["HS256"])
    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.05)

    with pytest.raises(jwt.ExpiredSignatureError):
        cache.decode(token, SECRET, [AUDIENCE], ["HS256"])
    assert len(cache) == 0


def test_cache_keeps_at_most_its_bound() -> None:
    """The oldest entry goes first; a token that went is simply verified again."""
    cache = VerifiedTokenCache(max_entries=3)
    tokens = [generate_jwt({"sub": str(index), "aud": AUDIENCE}, SECRET, 60) for index in range(5)]
    for token in tokens:
        cache.decode(token, SECRET, [AUDIENCE], ["HS256"])

    assert len(cache) == 3
    assert cache.decode(tokens[0], SECRET, [AUDIENCE], ["HS256"])["sub"] == "0"
    assert len(cache) == 3


def test_unhashable_key_bypasses_the_cache() -> None:
    """A key object that cannot be hashed still verifies, without an entry."""

    class UnhashableKey(bytes):
        __hash__ = None  # type: ignore[assignment]

    cache = VerifiedTokenCache()
    key = UnhashableKey(SECRET.encode())
    token = generate_jwt({"sub": "1", "aud": AUDIENCE}, SECRET, 60)

    assert cache.decode(token, key, [AUDIENCE], ["HS256"])["sub"] == "1"
    assert len(cache) == 0


def test_an_injected_time_decides_exp_nbf_and_iat() -> None:
    """With ``now``, the time claims are checked against it: valid then, expired or immature otherwise."""
    real = time.time()
    token = jwt.encode({"aud": AUDIENCE, "iat": real + 3600, "nbf": real + 3600, "exp": real + 3660}, SECRET)

    with pytest.raises(jwt.ImmatureSignatureError):
        decode_jwt(token, SECRET, [AUDIENCE])  # PyJWT's own check, against the real time
    assert decode_jwt(token, SECRET, [AUDIENCE], now=real + 3630)["aud"] == AUDIENCE
    with pytest.raises(jwt.ExpiredSignatureError):
        decode_jwt(token, SECRET, [AUDIENCE], now=real + 3660)
    with pytest.raises(jwt.ImmatureSignatureError):
        decode_jwt(token, SECRET, [AUDIENCE], now=real + 3599)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["soon", True, None])
def test_an_injected_time_refuses_time_claims_that_are_not_numbers(claim: str, value: Any) -> None:
    """A time claim that is not a number is a decode error, as PyJWT makes it."""
    token = jwt.encode({"aud": AUDIENCE, claim: value}, SECRET)

    with pytest.raises(jwt.DecodeError):
        decode_jwt(token, SECRET, [AUDIENCE], now=time.time())


def test_the_cache_compares_expiry_with_the_injected_time() -> None:
    """A cached token is expired for a later injected time, and verified again (and refused) then."""
    cache = VerifiedTokenCache()
    real = time.time()
    token = jwt.encode({"aud": AUDIENCE, "iat": real, "exp": real + 60}, SECRET)

    assert cache.decode(token, SECRET, [AUDIENCE], [JWT_ALGORITHM], now=real + 30)["aud"] == AUDIENCE
    assert cache.decode(token, SECRET, [AUDIENCE], [JWT_ALGORITHM], now=real + 59)["aud"] == AUDIENCE
    with pytest.raises(jwt.ExpiredSignatureError):
        cache.decode(token, SECRET, [AUDIENCE], [JWT_ALGORITHM], now=real + 61)
