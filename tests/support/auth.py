"""A stand-in for authentication in tests of services built in-process over plaintext channels.

The caller's roles are named by `x-test-roles` metadata (comma-separated Role names, such as
`ROLE_OPERATOR`), its subject by `x-test-subject` and its tenant by `x-test-tenant`. A call without
`x-test-roles` is another service with admin rights (ROLE_SERVICE and ROLE_ADMIN), so tests that
do not care about callers keep working. Anonymous callers are asked for with `x-test-roles: ""`.
Roles are still enforced: the contract's policy is checked as the real `AuthInterceptor` does.
"""

from __future__ import annotations

from typing import Any

import grpc
from grpc_interceptor import AsyncServerInterceptor

from common.interceptors.auth import authorize
from common.interceptors.handler import call_handler
from common.interceptors.policy import OPEN_SERVICES
from common.policy import Role, policy_for
from common.request_context import ANONYMOUS, Principal, principal_var

ROLES_KEY = "x-test-roles"
SUBJECT_KEY = "x-test-subject"
TENANT_KEY = "x-test-tenant"
DEFAULT_SUBJECT = "service:test"
DEFAULT_ROLES = frozenset({Role.ROLE_SERVICE, Role.ROLE_ADMIN})


class PrincipalFromMetadata(AsyncServerInterceptor):  # type: ignore[misc]
    """Sets the principal the call's `x-test-*` metadata describe, then enforces the method's roles."""

    async def intercept(
        self, method: Any, request: Any, context: grpc.aio.ServicerContext, method_name: str
    ) -> Any:
        if method_name.startswith(OPEN_SERVICES):
            return await call_handler(method, request, context)
        principal = principal_from(context.invocation_metadata() or ())
        policy = policy_for(method_name)
        if policy is not None:
            authorize(principal, policy, method_name)
        principal_var.set(principal)
        return await call_handler(method, request, context)


def principal_from(metadata: Any) -> Principal:
    """The principal named by `x-test-*` metadata; ROLE_SERVICE + ROLE_ADMIN without `x-test-roles`."""
    values = {str(item.key): str(item.value) for item in metadata}
    if ROLES_KEY not in values:
        return Principal(subject=values.get(SUBJECT_KEY, DEFAULT_SUBJECT), roles=DEFAULT_ROLES)
    roles = frozenset(Role.Value(name.strip()) for name in values[ROLES_KEY].split(",") if name.strip())
    if not roles:
        return ANONYMOUS
    return Principal(
        subject=values.get(SUBJECT_KEY, "test-user"), roles=roles, tenant=values.get(TENANT_KEY, "")
    )


def as_caller(*roles: int, subject: str = "test-user", tenant: str = "") -> tuple[tuple[str, str], ...]:
    """Call metadata naming a caller with these roles (none: anonymous)."""
    metadata = [(ROLES_KEY, ",".join(Role.Name(role) for role in roles)), (SUBJECT_KEY, subject)]
    if tenant:
        metadata.append((TENANT_KEY, tenant))
    return tuple(metadata)


def stand_in_auth() -> list[grpc.aio.ServerInterceptor]:
    """The stand-in as a service's `auth_interceptors`."""
    return [PrincipalFromMetadata()]
