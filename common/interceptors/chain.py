"""The standard server interceptor chain, outermost first."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from common.interceptors.context import RequestContextInterceptor
from common.interceptors.errors import ErrorMappingInterceptor
from common.interceptors.policy import PolicyInterceptor


def standard_interceptors(*inner: grpc.aio.ServerInterceptor) -> Sequence[grpc.aio.ServerInterceptor]:
    """Context and deadline, then error mapping, then the policy check, then the service's own."""
    return [RequestContextInterceptor(), ErrorMappingInterceptor(), PolicyInterceptor(), *inner]
