"""Counts each call against its caller's bucket for the method's rate-limit class.

Runs after `AuthInterceptor`. The caller is the principal's subject; an anonymous caller is its
IP address: the peer's, or, when the peer is a trusted proxy (the translator, by its verified
client certificate), the last address that proxy appended to `x-forwarded-for`. Services
(ROLE_SERVICE) and internal methods are not limited. Refusals are counted per method in
`farebox_rate_limit_rejections_total`.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

import grpc
from grpc_interceptor import AsyncServerInterceptor

from common.domain_metrics import domain_metrics
from common.errors import ResourceExhausted
from common.interceptors.handler import call_handler
from common.interceptors.policy import OPEN_SERVICES
from common.policy import Role, policy_for
from common.rate_limit import RateLimiter
from common.request_context import Principal, principal_var
from common.tls import peer_common_name, peer_ip


class RateLimitInterceptor(AsyncServerInterceptor):
    """Refuses calls over their caller's rate limit with RESOURCE_EXHAUSTED and a retry delay."""

    def __init__(self, limiter: RateLimiter, trusted_proxies: Set[str] = frozenset()) -> None:
        self._limiter = limiter
        self._trusted_proxies = frozenset(trusted_proxies)

    async def intercept(
        self, method: Any, request: Any, context: grpc.aio.ServicerContext, method_name: str
    ) -> Any:
        policy = None if method_name.startswith(OPEN_SERVICES) else policy_for(method_name)
        principal = principal_var.get()
        if policy is not None and Role.ROLE_SERVICE not in principal.roles:
            try:
                await self._limiter.check(self.caller(principal, context), policy)
            except ResourceExhausted:
                domain_metrics().rate_limit_rejections.labels(method=method_name).inc()
                raise
        return await call_handler(method, request, context)

    def caller(self, principal: Principal, context: grpc.aio.ServicerContext) -> str:
        """The identity a bucket is kept for: `sub:<subject>` or `ip:<address>`."""
        if not principal.is_anonymous:
            return f"sub:{principal.subject}"
        proxy = peer_common_name(context)
        if proxy is not None and proxy in self._trusted_proxies:
            forwarded = _metadata(context, "x-forwarded-for")
            if forwarded:
                return f"ip:{forwarded.split(',')[-1].strip()}"
        return f"ip:{peer_ip(context)}"


def _metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    values = [str(item.value) for item in context.invocation_metadata() or () if item.key == key]
    return ",".join(values) if values else None
