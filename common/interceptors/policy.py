"""Refuses every method whose contract declares no policy (deny by default)."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_interceptor import AsyncServerInterceptor

from common.interceptors.handler import call_handler
from common.policy import policy_for

# Infrastructure services that carry no farebox policy: health checks and reflection.
OPEN_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


class PolicyInterceptor(AsyncServerInterceptor):
    """Lets through only methods with a declared policy, plus health and reflection."""

    async def intercept(
        self, method: Any, request: Any, context: grpc.aio.ServicerContext, method_name: str
    ) -> Any:
        if not method_name.startswith(OPEN_SERVICES) and policy_for(method_name) is None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{method_name} declares no policy")
        return await call_handler(method, request, context)
