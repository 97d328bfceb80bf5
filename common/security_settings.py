"""Transport security, token verification and rate-limit settings, read once from the environment.

- FAREBOX_TLS_CA, FAREBOX_TLS_CERT, FAREBOX_TLS_KEY: PEM files, reloaded when they change; or
  FAREBOX_INSECURE_DEV=true for plaintext (local development only; the service logs a warning).
- FAREBOX_SERVICE_IDENTITIES (booking,seat,payment): client-certificate common names that are
  ROLE_SERVICE. FAREBOX_TRUSTED_PROXIES (gateway): names whose `x-forwarded-for` is believed.
- FAREBOX_JWT_ISSUER, FAREBOX_JWT_AUDIENCE: required with a key source, which is at most one of
  FAREBOX_JWKS_FILE, FAREBOX_JWKS_URL (https) or FAREBOX_JWT_PUBLIC_KEY (a PEM file or the PEM).
  FAREBOX_JWT_LEEWAY (30s), FAREBOX_JWKS_CACHE_TTL (10m), FAREBOX_JWKS_MIN_REFRESH (30s).
- FAREBOX_RATE_LIMIT_{BROWSE,BOOKING,ADMIN}_PER_MINUTE (60, 30, 30; 0 = unlimited),
  FAREBOX_RATE_LIMIT_REDIS_TIMEOUT (250ms), FAREBOX_RATE_LIMIT_REDIS_COOLDOWN (1s: Redis is left
  alone that long after a failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from common.settings import Env, SettingsError


@dataclass(frozen=True)
class TlsSettings:
    """Where the CA, certificate and key are, or an explicit choice of plaintext."""

    ca: Path | None
    cert: Path | None
    key: Path | None
    insecure_dev: bool
    service_identities: frozenset[str]
    trusted_proxies: frozenset[str]

    @classmethod
    def from_env(cls, env: Env) -> TlsSettings:
        """Reads FAREBOX_TLS_*, FAREBOX_INSECURE_DEV, FAREBOX_SERVICE_IDENTITIES, FAREBOX_TRUSTED_PROXIES."""
        paths = {name: env.optional_text(f"FAREBOX_TLS_{name}") for name in ("CA", "CERT", "KEY")}
        insecure = env.flag("FAREBOX_INSECURE_DEV", False)
        given = [name for name, value in paths.items() if value]
        if insecure and given:
            raise SettingsError("FAREBOX_INSECURE_DEV=true contradicts FAREBOX_TLS_*: choose one")
        if not insecure and len(given) != len(paths):
            missing = ", ".join(f"FAREBOX_TLS_{name}" for name in paths if name not in given)
            raise SettingsError(f"{missing} required (or FAREBOX_INSECURE_DEV=true for plaintext)")
        return cls(
            ca=_path(paths["CA"]),
            cert=_path(paths["CERT"]),
            key=_path(paths["KEY"]),
            insecure_dev=insecure,
            service_identities=_names(env, "FAREBOX_SERVICE_IDENTITIES", "booking,seat,payment"),
            trusted_proxies=_names(env, "FAREBOX_TRUSTED_PROXIES", "gateway"),
        )


@dataclass(frozen=True)
class JwtSettings:
    """Which issuer and audience a bearer token must name, and where its signing keys come from."""

    issuer: str
    audience: str
    jwks_file: Path | None
    jwks_url: str | None
    public_key: str | None
    leeway: timedelta
    jwks_cache_ttl: timedelta
    jwks_min_refresh: timedelta

    @property
    def enabled(self) -> bool:
        """Whether bearer tokens can be verified at all (a key source is configured)."""
        return bool(self.jwks_file or self.jwks_url or self.public_key)

    @classmethod
    def from_env(cls, env: Env) -> JwtSettings:
        """Reads FAREBOX_JWT_*, FAREBOX_JWKS_*; issuer and audience are required with a key source."""
        sources = {
            name: env.optional_text(name)
            for name in ("FAREBOX_JWKS_FILE", "FAREBOX_JWKS_URL", "FAREBOX_JWT_PUBLIC_KEY")
        }
        given = [name for name, value in sources.items() if value]
        if len(given) > 1:
            raise SettingsError(f"set at most one of {', '.join(sources)}; got {', '.join(given)}")
        url = sources["FAREBOX_JWKS_URL"]
        if url is not None and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise SettingsError(f"FAREBOX_JWKS_URL must be https (or local http), got {url!r}")
        issuer = env.text("FAREBOX_JWT_ISSUER") if given else env.text("FAREBOX_JWT_ISSUER", "")
        audience = env.text("FAREBOX_JWT_AUDIENCE") if given else env.text("FAREBOX_JWT_AUDIENCE", "")
        return cls(
            issuer=issuer,
            audience=audience,
            jwks_file=_path(sources["FAREBOX_JWKS_FILE"]),
            jwks_url=url,
            public_key=sources["FAREBOX_JWT_PUBLIC_KEY"],
            leeway=env.duration("FAREBOX_JWT_LEEWAY", timedelta(seconds=30)),
            jwks_cache_ttl=env.duration("FAREBOX_JWKS_CACHE_TTL", timedelta(minutes=10)),
            jwks_min_refresh=env.duration("FAREBOX_JWKS_MIN_REFRESH", timedelta(seconds=30)),
        )


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `capacity` calls, refilled evenly over `period`."""

    capacity: int
    period: timedelta


@dataclass(frozen=True)
class RateLimitSettings:
    """Per-principal limits of each rate-limit class; None means unlimited."""

    browse: RateLimit | None
    booking: RateLimit | None
    admin: RateLimit | None
    redis_timeout: timedelta
    redis_cooldown: timedelta

    @classmethod
    def from_env(cls, env: Env) -> RateLimitSettings:
        """Reads FAREBOX_RATE_LIMIT_*_PER_MINUTE (0 = unlimited) and _REDIS_TIMEOUT / _REDIS_COOLDOWN."""

        def per_minute(name: str, default: int) -> RateLimit | None:
            capacity = env.integer(f"FAREBOX_RATE_LIMIT_{name}_PER_MINUTE", default, minimum=0)
            return RateLimit(capacity, timedelta(minutes=1)) if capacity else None

        return cls(
            browse=per_minute("BROWSE", 60),
            booking=per_minute("BOOKING", 30),
            admin=per_minute("ADMIN", 30),
            redis_timeout=env.duration("FAREBOX_RATE_LIMIT_REDIS_TIMEOUT", timedelta(milliseconds=250)),
            redis_cooldown=env.duration("FAREBOX_RATE_LIMIT_REDIS_COOLDOWN", timedelta(seconds=1)),
        )


@dataclass(frozen=True)
class SecuritySettings:
    """Everything the security building blocks of a service need."""

    tls: TlsSettings
    jwt: JwtSettings
    rate_limits: RateLimitSettings

    @classmethod
    def from_env(cls, env: Env | None = None) -> SecuritySettings:
        """Reads every security setting, failing fast on a missing or contradictory one."""
        env = env or Env()
        return cls(
            tls=TlsSettings.from_env(env),
            jwt=JwtSettings.from_env(env),
            rate_limits=RateLimitSettings.from_env(env),
        )


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def _names(env: Env, name: str, default: str) -> frozenset[str]:
    return frozenset(part.strip() for part in env.text(name, default).split(",") if part.strip())
