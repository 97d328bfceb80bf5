"""The processes the local stack runs, in start order, and the ports each one listens on."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service locally: its module, settings prefix, ports and whom it calls."""

    name: str
    module: str
    env_prefix: str
    port: int
    migrations: str | None
    internal_port: int = 0
    health_port: int = 0
    metrics_port: int = 0
    # Setting -> (service, "public" or "internal"): the address the service calls that one on.
    targets: dict[str, tuple[str, str]] = field(default_factory=dict)

    def address(self, which: str) -> str:
        """`localhost:<port>` of the public or internal port (localhost: the name its certificate has)."""
        return f"localhost:{self.port if which == 'public' else self.internal_port}"


SERVICES = (
    ServiceSpec("seat", "seat_service", "SEAT", 50051, "seat_service", internal_port=50151,
                health_port=50061, metrics_port=9101),
    ServiceSpec("payment", "payment_service", "PAYMENT", 50052, "payment_service", internal_port=50152,
                health_port=50062, metrics_port=9102),
    ServiceSpec("booking", "booking_service", "BOOKING", 50053, "booking_service", internal_port=50153,
                health_port=50063, metrics_port=9103,
                targets={"SEAT_TARGET": ("seat", "internal"), "PAYMENT_TARGET": ("payment", "internal")}),
)  # fmt: skip

GATEWAY = ServiceSpec(
    "gateway", "gateway", "GATEWAY", 8080, None, metrics_port=9104,
    targets={"SEAT_TARGET": ("seat", "internal"), "BOOKING_TARGET": ("booking", "internal")},
)  # fmt: skip


def spec_named(name: str) -> ServiceSpec:
    """The gRPC service spec called `name`."""
    return next(spec for spec in SERVICES if spec.name == name)
