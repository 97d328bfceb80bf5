"""Every RPC of every service in the generated descriptors declares a complete policy."""

from __future__ import annotations

import importlib
import pkgutil

import farebox
from google.protobuf.descriptor import MethodDescriptor

from common.policy import Idempotency, RateLimitClass, Role, policy_for


def all_methods() -> list[MethodDescriptor]:
    """Every method of every service in every generated `*_service_pb2` module."""
    methods = []
    for module in pkgutil.walk_packages(farebox.__path__, "farebox."):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(module.name).DESCRIPTOR
            for service in descriptor.services_by_name.values():
                methods.extend(service.methods)
    return methods


def full_name(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def test_the_walk_sees_every_service() -> None:
    services = {method.containing_service.full_name for method in all_methods()}
    assert {
        "farebox.seat.v1.SeatInventoryService",
        "farebox.booking.v1.BookingService",
        "farebox.payment.v1.PaymentService",
    } <= services


def test_every_rpc_has_a_complete_policy() -> None:
    problems = []
    for method in all_methods():
        name = full_name(method)
        policy = policy_for(name)
        if policy is None:
            problems.append(f"{name}: no policy, or idempotency / rate-limit class unspecified")
            continue
        if not policy.roles or Role.ROLE_UNSPECIFIED in policy.roles:
            problems.append(f"{name}: roles must be listed, none of them ROLE_UNSPECIFIED")
        if policy.idempotency in (Idempotency.IDEMPOTENCY_KEYED, Idempotency.IDEMPOTENCY_KEYED_BY_HANDLER):
            if policy.allow_anonymous:
                problems.append(f"{name}: a state-changing method must not allow anonymous callers")
            if "request_id" not in method.input_type.fields_by_name:
                problems.append(f"{name}: a keyed method's request needs a request_id")
        internal = policy.rate_limit_class == RateLimitClass.RATE_LIMIT_CLASS_INTERNAL
        if internal and (policy.allow_anonymous or Role.ROLE_TRAVELLER in policy.roles):
            problems.append(
                f"{name}: an internal (unlimited) method must not be open to travellers or anonymous"
            )
    assert problems == []


def test_an_incomplete_policy_is_no_policy() -> None:
    assert policy_for("/farebox.seat.v1.SeatInventoryService/NoSuchMethod") is None
