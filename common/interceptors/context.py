"""Binds the RPC name, the correlation id and the deadline to the call's context."""

from __future__ import annotations

import time
import uuid
from typing import Any

import grpc
import structlog
from grpc_interceptor import AsyncServerInterceptor

from common.interceptors.handler import call_handler
from common.request_context import deadline_var


class RequestContextInterceptor(AsyncServerInterceptor):
    """Sets the deadline and binds `rpc` and `correlation_id` to every log line of the call."""

    async def intercept(
        self, method: Any, request: Any, context: grpc.aio.ServicerContext, method_name: str
    ) -> Any:
        remaining = context.time_remaining()
        deadline_var.set(None if remaining is None else time.monotonic() + remaining)
        correlation_id = _metadata_value(context, "x-request-id") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(rpc=method_name, correlation_id=correlation_id)
        return await call_handler(method, request, context)


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return str(item.value)
    return None
