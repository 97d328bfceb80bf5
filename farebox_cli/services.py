"""The services the local stack runs, in start order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service locally."""

    name: str
    module: str
    env_prefix: str
    port: int
    migrations: str | None


SERVICES = (
    ServiceSpec("seat", "seat_service", "SEAT", 50051, "seat_service"),
    ServiceSpec("payment", "payment_service", "PAYMENT", 50052, "payment_service"),
    ServiceSpec("booking", "booking_service", "BOOKING", 50053, "booking_service"),
)
