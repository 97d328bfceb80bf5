"""Typed settings read once from the environment, failing fast with the variable's name.

Each service builds its own frozen settings dataclass from an `Env` at start-up; nothing reads
`os.environ` at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


class SettingsError(ValueError):
    """A setting is missing or malformed."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class Env:
    """Reads typed values from a mapping of environment variables."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def _raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def text(self, name: str, default: str | None = None) -> str:
        """A string; a missing one without a default is an error."""
        value = self._raw(name)
        if value is None:
            if default is None:
                raise SettingsError(f"{name} is required but not set")
            return default
        return value

    def optional_text(self, name: str) -> str | None:
        """A string, or None when unset."""
        return self._raw(name)

    def integer(self, name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        """An integer within optional bounds."""
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise SettingsError(f"{name} must be at most {maximum}, got {number}")
        return number

    def number(self, name: str, default: float, minimum: float = 0.0, maximum: float | None = None) -> float:
        """A float within bounds."""
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {number}")
        return number

    def flag(self, name: str, default: bool) -> bool:
        """A boolean written as 1/0, true/false, yes/no or on/off."""
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise SettingsError(f"{name} must be true or false, got {value!r}")

    def duration(self, name: str, default: timedelta) -> timedelta:
        """A duration written with a unit: 250ms, 30s, 10m or 1h."""
        value = self._raw(name)
        if value is None:
            return default
        for unit in sorted(_UNITS, key=len, reverse=True):
            if value.endswith(unit):
                try:
                    amount = float(value[: -len(unit)])
                except ValueError:
                    break
                if amount < 0:
                    break
                return timedelta(seconds=amount * _UNITS[unit])
        raise SettingsError(f"{name} must be a duration such as 250ms, 30s, 10m or 1h, got {value!r}")


@dataclass(frozen=True)
class ServerSettings:
    """How a gRPC server listens, shuts down and scales over processes."""

    host: str
    port: int
    workers: int
    shutdown_grace: timedelta
    metrics_port: int
    health_port: int
    log_level: str

    @classmethod
    def from_env(cls, env: Env, prefix: str, default_port: int) -> ServerSettings:
        """Reads `<PREFIX>_HOST`, `_PORT`, `_WORKERS`, `_SHUTDOWN_GRACE`, `_METRICS_PORT`, `_HEALTH_PORT`
        (a plaintext health-only port for probes; 0 for none) and `LOG_LEVEL`."""
        return cls(
            host=env.text(f"{prefix}_HOST", "127.0.0.1"),
            port=env.integer(f"{prefix}_PORT", default_port, minimum=0, maximum=65535),
            workers=env.integer(f"{prefix}_WORKERS", 1, minimum=1, maximum=64),
            shutdown_grace=env.duration(f"{prefix}_SHUTDOWN_GRACE", timedelta(seconds=10)),
            metrics_port=env.integer(f"{prefix}_METRICS_PORT", 0, minimum=0, maximum=65535),
            health_port=env.integer(f"{prefix}_HEALTH_PORT", 0, minimum=0, maximum=65535),
            log_level=env.text("LOG_LEVEL", "info").lower(),
        )
