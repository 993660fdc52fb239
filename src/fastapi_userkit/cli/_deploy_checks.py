"""The audits of ``userkit check --deploy``: each inspects the configured objects and yields findings.

Codes are stable (scripts and CI may match on them); a new audit takes a new number:

========  =======  ================================================================================
code      level    finding
========  =======  ================================================================================
UK-E001   error    a secret (JWT, reset, verification, refresh, CSRF) shorter than 32 bytes
UK-E002   error    a secret that is a well-known placeholder ("SECRET", "changeme", "...change-me...")
UK-E003   error    the user manager has no reset-password or verification secret
UK-E004   error    a cookie transport with ``cookie_secure=False``
UK-E005   error    CORS allows every origin together with credentials
UK-E006   error    password hashing below OWASP's minimum (Argon2id m=19 MiB, t=2, p=1; bcrypt cost 10)
UK-E007   error    SQLite in memory with several workers (each worker has its own, empty, database)
UK-W001   warning  the reset-password or verification secret is the JWT secret
UK-W002   warning  a proxy header is in use but ``trusted_proxy_count`` is 0
UK-W003   warning  rate limiting is off
UK-W004   warning  rate-limit counters live in process memory while several workers run
UK-W005   warning  a JWT backend has neither a revoked-token table nor refresh sessions
UK-W006   warning  refresh sessions on, but access JWTs live longer than an hour (or forever)
UK-W007   warning  a SQLite database file shared by several workers
UK-I001   note     ``trusted_proxy_count`` is 0: right unless a reverse proxy is in front
UK-I002   note     a backend's strategy needs a request to be built, so it was not inspected
UK-I003   note     the config names no ``fastapi_users`` (or no ``app``): those audits were skipped
========  =======  ================================================================================

``create_all`` at start-up is not audited: it happens inside the application's lifespan code,
which cannot be observed without running it against the production database.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.engine import URL
from starlette.middleware.cors import CORSMiddleware

from fastapi_userkit.authentication.strategy.jwt import JWTStrategy
from fastapi_userkit.authentication.transport.cookie import CookieTransport
from fastapi_userkit.jwt import SecretType, get_secret_value
from fastapi_userkit.security.ratelimit import SQLRateLimitBackend
from fastapi_userkit.security.settings import SecuritySettings

__all__ = ["AUDITS", "BuiltBackend", "DeployContext", "Finding", "Level"]

Level = Literal["error", "warning", "note"]

# RFC 7518 section 3.2: an HS256 key is at least as long as the hash output (32 bytes).
_MIN_SECRET_BYTES = 32
# OWASP Password Storage Cheat Sheet: Argon2id with m=19 MiB, t=2, p=1 at least; bcrypt cost 10.
_ARGON2_MINIMUM = {"m": 19 * 1024, "t": 2, "p": 1}
_BCRYPT_MIN_COST = 10
_ACCESS_LIFETIME_WITH_REFRESH = 3600
_PLACEHOLDERS = frozenset({"secret", "changeme", "password", "mysecret", "supersecret", "secretkey", "yoursecretkey"})
_PLACEHOLDER_PARTS = ("changeme", "changethis", "replaceme", "notsecret", "insecure")


@dataclass(frozen=True, order=True)
class Finding:
    """One line of the audit."""

    code: str
    level: Level
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.level}: {self.message}"


@dataclass(frozen=True)
class BuiltBackend:
    """A backend of the app and, when its factory needs no request, the strategy it builds."""

    backend: Any
    strategy: Any | None


@dataclass(frozen=True)
class DeployContext:
    """What the audits read: the configured objects, the database URL and the deployment's workers."""

    database_url: URL
    workers: int
    user_manager: Any
    hash_sample: Callable[[], Awaitable[str]]
    """Hashes a throwaway password with the manager's helper (the PHC string shows its parameters)."""
    security: SecuritySettings | None = None
    backends: Sequence[BuiltBackend] = ()
    app: Any | None = None
    environ: Mapping[str, str] = field(default_factory=dict)


def _is_placeholder(secret: str) -> bool:
    squashed = re.sub(r"[^a-z0-9]", "", secret.lower())
    return squashed in _PLACEHOLDERS or any(part in squashed for part in _PLACEHOLDER_PARTS)


def _manager_secret(manager: Any, attribute: str) -> SecretType | None:
    try:
        secret: SecretType = getattr(manager, attribute)
    except AttributeError:  # FastAPI Users' style class attribute, forgotten by the application
        return None
    return secret


def _jwt_strategies(context: DeployContext) -> Iterator[tuple[str, JWTStrategy[Any, Any]]]:
    for built in context.backends:
        if isinstance(built.strategy, JWTStrategy) and built.strategy.algorithm.upper().startswith("HS"):
            yield built.backend.name, built.strategy


def _check_secret(where: str, secret: SecretType) -> Iterator[Finding]:
    text = get_secret_value(secret)
    size = len(text.encode())
    if _is_placeholder(text):
        yield Finding(
            "UK-E002", "error", f"{where} is a well-known placeholder: generate one (secrets.token_urlsafe(32))"
        )
    elif size < _MIN_SECRET_BYTES:
        yield Finding("UK-E001", "error", f"{where} is {size} bytes: use at least {_MIN_SECRET_BYTES} (RFC 7518 3.2)")


def audit_secrets(context: DeployContext) -> Iterator[Finding]:
    """UK-E001, UK-E002, UK-E003, UK-W001."""
    jwt_secrets = {get_secret_value(strategy.secret) for _, strategy in _jwt_strategies(context)}
    manager = type(context.user_manager).__name__
    for attribute in ("reset_password_token_secret", "verification_token_secret"):
        secret = _manager_secret(context.user_manager, attribute)
        if secret is None:
            yield Finding("UK-E003", "error", f"{manager}.{attribute} is not set: its tokens cannot be made")
            continue
        yield from _check_secret(f"{manager}.{attribute}", secret)
        if get_secret_value(secret) in jwt_secrets:
            # One key, one purpose (NIST SP 800-57 part 1, 5.2); the audiences alone keep them apart.
            yield Finding(
                "UK-W001", "warning", f"{manager}.{attribute} is the JWT secret: give each purpose its own key"
            )
    for name, strategy in _jwt_strategies(context):
        yield from _check_secret(f"the JWT secret of backend {name!r}", strategy.secret)
    for built in context.backends:
        if built.backend.refresh is not None:
            yield from _check_secret(
                f"the refresh secret of backend {built.backend.name!r}", built.backend.refresh.secret
            )
    if context.security is not None and context.security.csrf is not None and context.security.csrf.token_secret:
        yield from _check_secret("CSRFSettings.token_secret", context.security.csrf.token_secret)


def audit_transports(context: DeployContext) -> Iterator[Finding]:
    """UK-E004, UK-W005, UK-W006, UK-I002."""
    for built in context.backends:
        name = built.backend.name
        if isinstance(built.backend.transport, CookieTransport) and not built.backend.transport.cookie_secure:
            yield Finding(
                "UK-E004", "error", f"backend {name!r}: cookie_secure=False sends the session cookie over HTTP"
            )
        strategy = built.strategy
        if strategy is None:
            yield Finding("UK-I002", "note", f"backend {name!r}: its strategy factory needs a request; not inspected")
        elif isinstance(strategy, JWTStrategy):
            if strategy.revoked_tokens is None and built.backend.refresh is None:
                yield Finding(
                    "UK-W005",
                    "warning",
                    f"backend {name!r}: JWTs without revoked_tokens or refresh sessions stay valid after logout",
                )
            lifetime = strategy.lifetime_seconds
            if built.backend.refresh is not None and (lifetime is None or lifetime > _ACCESS_LIFETIME_WITH_REFRESH):
                shown = "never expire" if lifetime is None else f"live {lifetime} s"
                yield Finding(
                    "UK-W006", "warning", f"backend {name!r}: refresh is on but access JWTs {shown}; keep them short"
                )


def _proxy_header_seen(context: DeployContext) -> bool:
    # uvicorn's --proxy-headers middleware, or its FORWARDED_ALLOW_IPS setting, says a proxy is in front.
    middleware = context.app.user_middleware if context.app is not None else []
    return "FORWARDED_ALLOW_IPS" in context.environ or any(
        isinstance(entry.cls, type) and entry.cls.__name__ == "ProxyHeadersMiddleware" for entry in middleware
    )


def audit_proxy_and_rate_limits(context: DeployContext) -> Iterator[Finding]:
    """UK-W002, UK-I001, UK-W003, UK-W004."""
    security = context.security
    if security is None:
        return
    if security.trusted_proxy_count == 0:
        if _proxy_header_seen(context):
            yield Finding(
                "UK-W002",
                "warning",
                "a proxy forwards client addresses but trusted_proxy_count is 0: every client shares the proxy's "
                "address in rate limits",
            )
        else:
            yield Finding(
                "UK-I001", "note", "trusted_proxy_count is 0: set it to the number of reverse proxies in front, if any"
            )
    if security.rate_limit is None:
        yield Finding("UK-W003", "warning", "rate limiting is off (SecuritySettings(rate_limit=None))")
        return
    backend = security.rate_limit.backend
    if isinstance(backend, SQLRateLimitBackend) and context.workers > 1:
        url = backend.engine.url if backend.engine is not None else context.database_url
        if _in_memory(url):
            yield Finding(
                "UK-W004",
                "warning",
                f"rate-limit counters are in an in-memory SQLite database: each of the {context.workers} workers "
                "counts alone",
            )


def audit_cors(context: DeployContext) -> Iterator[Finding]:
    """UK-E005."""
    for entry in context.app.user_middleware if context.app is not None else []:
        if not (isinstance(entry.cls, type) and issubclass(entry.cls, CORSMiddleware)):
            continue
        options = entry.kwargs
        any_origin = "*" in options.get("allow_origins", ()) or options.get("allow_origin_regex") in {".*", ".+"}
        if any_origin and options.get("allow_credentials", False):
            # Starlette then echoes each request's Origin back, so any site may read cookie-authenticated answers.
            yield Finding("UK-E005", "error", "CORSMiddleware allows every origin with credentials: list the origins")


def _in_memory(url: URL) -> bool:
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and (
        database in {"", ":memory:"} or "mode=memory" in database or url.query.get("mode") == "memory"
    )


def audit_database(context: DeployContext) -> Iterator[Finding]:
    """UK-E007, UK-W007."""
    url = context.database_url
    if url.get_backend_name() != "sqlite" or context.workers <= 1:
        return
    if _in_memory(url):
        yield Finding("UK-E007", "error", f"SQLite in memory with {context.workers} workers: each has its own database")
    else:
        yield Finding(
            "UK-W007",
            "warning",
            f"SQLite with {context.workers} workers: writes queue on one file lock; use PostgreSQL or MariaDB",
        )


_PHC_PARAMETERS = re.compile(r"^\$argon2(?:id|i|d)\$v=\d+\$(?P<params>[^$]+)\$")
_BCRYPT = re.compile(r"^\$2[abxy]\$(?P<cost>\d{2})\$")


async def audit_hashing(context: DeployContext) -> list[Finding]:
    """UK-E006: the parameters read from a fresh hash's PHC string, whatever the helper."""
    sample = await context.hash_sample()
    weak: list[str] = []
    if argon2 := _PHC_PARAMETERS.match(sample):
        params = dict(item.split("=", 1) for item in argon2["params"].split(","))
        weak = [f"{key}={params[key]} < {value}" for key, value in _ARGON2_MINIMUM.items() if int(params[key]) < value]
    elif (bcrypt := _BCRYPT.match(sample)) and int(bcrypt["cost"]) < _BCRYPT_MIN_COST:
        weak = [f"bcrypt cost {int(bcrypt['cost'])} < {_BCRYPT_MIN_COST}"]
    if weak:
        return [Finding("UK-E006", "error", f"password hashing below OWASP's minimum: {', '.join(weak)}")]
    return []


AUDITS: tuple[Callable[[DeployContext], Iterator[Finding]], ...] = (
    audit_secrets,
    audit_transports,
    audit_proxy_and_rate_limits,
    audit_cors,
    audit_database,
)
"""The synchronous audits, in the order they print (hashing, which runs a hash, is awaited apart)."""
