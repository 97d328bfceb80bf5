"""The gateway's settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from common.metrics import MetricsSettings
from common.security_settings import TlsSettings
from common.settings import Env, ServerSettings, SettingsError

# The backend of each contract domain (the second component of the proto package, `farebox.seat.v1`):
# its variable and its internal port on this host (mTLS: the gateway's certificate is verified there, so
# its X-Forwarded-For is believed), under the name its dev certificate is issued for.
BACKEND_VARIABLES: Mapping[str, tuple[str, str]] = {
    "seat": ("SEAT_TARGET", "localhost:50151"),
    "payment": ("PAYMENT_TARGET", "localhost:50152"),
    "booking": ("BOOKING_TARGET", "localhost:50153"),
}


@dataclass(frozen=True)
class GatewaySettings:
    """Where the gateway listens, which backends it calls and how, and what it lets through."""

    server: ServerSettings
    tls: TlsSettings
    metrics: MetricsSettings
    backends: Mapping[str, str]
    cors_origins: tuple[str, ...]
    max_body_bytes: int
    default_timeout: timedelta
    descriptor_set: Path | None

    @classmethod
    def from_env(cls, env: Env | None = None) -> GatewaySettings:
        """Reads GATEWAY_* server settings, FAREBOX_TLS_* (or FAREBOX_INSECURE_DEV), the backend
        targets, CORS origins and limits."""
        env = env or Env()
        default_timeout = env.duration("GATEWAY_DEFAULT_TIMEOUT", timedelta(seconds=5))
        if default_timeout <= timedelta(0):
            raise SettingsError("GATEWAY_DEFAULT_TIMEOUT must be positive")
        descriptor_set = env.optional_text("GATEWAY_DESCRIPTOR_SET")
        return cls(
            server=ServerSettings.from_env(env, "GATEWAY", default_port=8080),
            tls=TlsSettings.from_env(env),
            metrics=MetricsSettings.from_env(env, "GATEWAY"),
            backends={
                domain: env.text(variable, default)
                for domain, (variable, default) in BACKEND_VARIABLES.items()
            },
            cors_origins=parse_origins(env.optional_text("GATEWAY_CORS_ORIGINS") or ""),
            max_body_bytes=env.integer("GATEWAY_MAX_BODY_BYTES", 1024 * 1024, minimum=1),
            default_timeout=default_timeout,
            descriptor_set=None if descriptor_set is None else Path(descriptor_set),
        )


def parse_origins(value: str) -> tuple[str, ...]:
    """Comma-separated `scheme://host[:port]` origins; a wildcard is refused."""
    origins = []
    for item in value.split(","):
        origin = item.strip().rstrip("/")
        if not origin:
            continue
        if "*" in origin:
            raise SettingsError("GATEWAY_CORS_ORIGINS must list origins, never a wildcard")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise SettingsError(f"GATEWAY_CORS_ORIGINS: {item.strip()!r} is not an origin like https://host")
        origins.append(origin)
    return tuple(origins)
