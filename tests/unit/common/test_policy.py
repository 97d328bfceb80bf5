"""Method policy is read from the contract's method option."""

from farebox.seat.v1 import seat_inventory_service_pb2  # noqa: F401 - registers the descriptors

from common.policy import Idempotency, RateLimitClass, Role, policy_for


def test_policy_is_read_from_the_descriptor() -> None:
    policy = policy_for("/farebox.seat.v1.SeatInventoryService/HoldSeats")
    assert policy is not None
    assert set(policy.roles) == {Role.ROLE_SERVICE, Role.ROLE_ADMIN}
    assert policy.idempotency == Idempotency.IDEMPOTENCY_KEYED_BY_HANDLER
    assert policy.rate_limit_class == RateLimitClass.RATE_LIMIT_CLASS_INTERNAL


def test_reads_allow_anonymous_callers() -> None:
    policy = policy_for("/farebox.seat.v1.SeatInventoryService/GetSeatMap")
    assert policy is not None and policy.allow_anonymous
    assert policy.idempotency == Idempotency.IDEMPOTENCY_NO_SIDE_EFFECTS


def test_unknown_methods_have_no_policy() -> None:
    assert policy_for("/farebox.seat.v1.SeatInventoryService/DropTables") is None
    assert policy_for("/grpc.health.v1.Health/Check") is None
