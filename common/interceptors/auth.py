"""Authenticates every call and enforces the roles its contract declares (deny by default).

Who is calling, in this order:
1. a bearer token in the `authorization` metadata (`Bearer <jwt>`): its verified claims;
   a token that is present but invalid refuses the call, whatever else the call carries;
2. else a verified mTLS client certificate whose common name is a service identity:
   that service, with ROLE_SERVICE;
3. else nobody (anonymous).

Then the method's policy (`common.policy.policy_for`): no policy -> PERMISSION_DENIED; anonymous
where the policy does not allow it -> UNAUTHENTICATED; a principal with none of the declared roles
-> PERMISSION_DENIED (unless anonymous callers are allowed anyway). The principal is set in
`principal_var` for everything below. Health and reflection are open.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

import grpc
import structlog
from grpc_interceptor import AsyncServerInterceptor

from common.errors import PermissionDenied, Unauthenticated
from common.interceptors.handler import call_handler
from common.interceptors.policy import OPEN_SERVICES
from common.jwt_auth import INVALID_TOKEN, JwtVerifier
from common.policy import MethodPolicy, Role, policy_for
from common.request_context import ANONYMOUS, Principal, principal_var
from common.tls import peer_common_name

_BEARER = "bearer "


class AuthInterceptor(AsyncServerInterceptor):
    """Sets the caller's principal and refuses calls its roles do not allow."""

    def __init__(self, verifier: JwtVerifier | None, service_identities: Set[str]) -> None:
        self._verifier = verifier
        self._service_identities = frozenset(service_identities)

    async def intercept(
        self, method: Any, request: Any, context: grpc.aio.ServicerContext, method_name: str
    ) -> Any:
        if method_name.startswith(OPEN_SERVICES):
            return await call_handler(method, request, context)
        policy = policy_for(method_name)
        if policy is None:
            raise PermissionDenied(f"{method_name} declares no policy")
        principal = await self.authenticate(context)
        authorize(principal, policy, method_name)
        principal_var.set(principal)
        structlog.contextvars.bind_contextvars(subject=principal.subject or "anonymous")
        return await call_handler(method, request, context)

    async def authenticate(self, context: grpc.aio.ServicerContext) -> Principal:
        """The caller: from its bearer token, else its service certificate, else anonymous."""
        token = bearer_token(context)
        if token is not None:
            if self._verifier is None:
                raise Unauthenticated(
                    "bearer tokens are not accepted here", reason="TOKEN_INVALID", metadata=INVALID_TOKEN
                )
            return await self._verifier.verify(token)
        name = peer_common_name(context)
        if name is not None and name in self._service_identities:
            return Principal(subject=f"service:{name}", roles=frozenset({Role.ROLE_SERVICE}))
        return ANONYMOUS


def authorize(principal: Principal, policy: MethodPolicy, method_name: str) -> None:
    """Raises unless the policy lets this principal call the method."""
    if policy.allow_anonymous:
        return
    if principal.is_anonymous:
        raise Unauthenticated(f"{method_name} needs credentials", reason="CREDENTIALS_MISSING")
    if not principal.roles & set(policy.roles):
        raise PermissionDenied(
            f"{method_name} is not allowed for the caller's roles", reason="ROLE_NOT_ALLOWED"
        )


def bearer_token(context: grpc.aio.ServicerContext) -> str | None:
    """The token of the `authorization: Bearer <token>` metadata; None without the header.

    A header that is present but not a single bearer token is refused.
    """
    values = [str(item.value) for item in context.invocation_metadata() or () if item.key == "authorization"]
    if not values:
        return None
    if (
        len(values) > 1
        or not values[0][: len(_BEARER)].lower() == _BEARER
        or not values[0][len(_BEARER) :].strip()
    ):
        raise Unauthenticated(
            "the authorization metadata must be one 'Bearer <token>'",
            reason="TOKEN_INVALID",
            metadata=INVALID_TOKEN,
        )
    return values[0][len(_BEARER) :].strip()
