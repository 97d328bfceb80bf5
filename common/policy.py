"""Per-method policy read from the contract's `farebox.common.v1.policy` method option."""

from __future__ import annotations

from functools import cache

from farebox.common.v1 import method_policy_pb2
from google.protobuf import descriptor_pool

Role = method_policy_pb2.Role
Idempotency = method_policy_pb2.Idempotency
RateLimitClass = method_policy_pb2.RateLimitClass
MethodPolicy = method_policy_pb2.MethodPolicy


@cache
def policy_for(full_method: str) -> MethodPolicy | None:
    """The policy of `/package.Service/Method`, or None for a method without a declared policy."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    try:
        descriptor = descriptor_pool.Default().FindMethodByName(f"{service}.{method}")
    except KeyError:
        return None
    options = descriptor.GetOptions()
    if not options.HasExtension(method_policy_pb2.policy):
        return None
    policy: MethodPolicy = options.Extensions[method_policy_pb2.policy]
    if policy.idempotency == Idempotency.IDEMPOTENCY_UNSPECIFIED:
        return None
    if policy.rate_limit_class == RateLimitClass.RATE_LIMIT_CLASS_UNSPECIFIED:
        return None
    return policy
