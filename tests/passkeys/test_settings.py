"""PasskeySettings: sound defaults, and every misconfiguration refused at construction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fastapi_userkit.exceptions import ConfigurationError
from fastapi_userkit.passkeys import PasskeyService, PasskeySettings
from tests.conftest import SessionMaker
from tests.passkeys.conftest import challenge_store, credential_store


def _settings(**overrides: Any) -> PasskeySettings:
    values: dict[str, Any] = {"rp_id": "example.com", "rp_name": "Example", "origins": ["https://example.com"]}
    values.update(overrides)
    return PasskeySettings(**values)


def test_defaults_require_user_verification_and_no_attestation() -> None:
    """Defaults: UV required, attestation none, resident key preferred, 5-minute challenges; sequences become tuples."""
    settings = _settings(origins=["https://example.com", "https://app.example.com"], algorithms=[-7])

    assert settings.require_user_verification
    assert (settings.attestation, settings.resident_key) == ("none", "preferred")
    assert settings.challenge_lifetime == timedelta(minutes=5)
    assert settings.timeout_ms == 300_000
    assert settings.origins == ("https://example.com", "https://app.example.com")
    assert settings.algorithms == (-7,)
    assert not _settings(user_verification="preferred").require_user_verification


def test_localhost_may_use_http() -> None:
    """http:// is accepted for localhost and its subdomains, a secure context for browsers."""
    settings = _settings(rp_id="localhost", origins=("http://localhost:8000", "http://app.localhost:8000"))

    assert settings.origins == ("http://localhost:8000", "http://app.localhost:8000")


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"rp_id": ""}, "rp_id"),
        ({"rp_id": "https://example.com"}, "rp_id"),
        ({"rp_id": "Example.com"}, "rp_id"),
        ({"rp_id": "example.com:443"}, "rp_id"),
        ({"rp_id": "127.0.0.1", "origins": ["http://127.0.0.1:8000"]}, "IP address"),
        ({"rp_name": "  "}, "rp_name"),
        ({"origins": []}, "at least one"),
        ({"origins": "https://example.com"}, "not one string"),
        ({"origins": ["https://example.com/"]}, "plain lowercase"),
        ({"origins": ["https://example.com/login"]}, "plain lowercase"),
        ({"origins": ["https://Example.com"]}, "plain lowercase"),
        ({"origins": ["https://user@example.com"]}, "plain lowercase"),
        ({"origins": ["https://example.com?x=1"]}, "plain lowercase"),
        ({"origins": ["https://example.com#x"]}, "plain lowercase"),
        ({"origins": ["ftp://example.com"]}, "plain lowercase"),
        ({"origins": ["https://"]}, "plain lowercase"),
        ({"origins": ["http://example.com"]}, "https"),
        ({"origins": ["https://example.org"]}, "outside rp_id"),
        ({"origins": ["https://notexample.com"]}, "outside rp_id"),
        ({"challenge_lifetime": timedelta(0)}, "challenge_lifetime"),
        ({"challenge_lifetime": timedelta(minutes=6)}, "challenge_lifetime"),
        ({"challenge_lifetime": timedelta(minutes=1)}, "timeout"),
        ({"timeout": timedelta(0)}, "timeout"),
        ({"algorithms": []}, "algorithms"),
        ({"user_verification": "always"}, "user_verification"),
        ({"resident_key": "always"}, "resident_key"),
        ({"attestation": "enterprise"}, "attestation"),
    ],
)
def test_misconfiguration_fails_at_construction(overrides: dict[str, Any], fragment: str) -> None:
    """Each bad value is refused with a message naming what is wrong."""
    with pytest.raises(ConfigurationError, match=fragment):
        _settings(**overrides)


def test_an_unknown_algorithm_fails_when_the_service_is_built(db: SessionMaker) -> None:
    """A COSE algorithm id py_webauthn does not know is refused when the service is wired."""
    settings = _settings(algorithms=(-7, 12345))

    with pytest.raises(ConfigurationError, match="COSE"):
        PasskeyService(settings, credential_store(db), challenge_store(db))
