"""Maps domain errors to gRPC status in one place; unexpected errors become INTERNAL without details."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import structlog
from grpc_interceptor import AsyncServerInterceptor

from common.errors import FareboxError

log = structlog.get_logger()


class ErrorMappingInterceptor(AsyncServerInterceptor):
    """Turns a raised FareboxError into its status with rich details, for unary and streaming calls."""

    async def intercept(
        self, method: Any, request: Any, context: grpc.aio.ServicerContext, method_name: str
    ) -> Any:
        try:
            response = method(request, context)
            if hasattr(response, "__aiter__"):
                return self._stream(response, context)
            return await response
        except Exception as error:  # noqa: BLE001 - every escape is mapped to a status
            await abort(context, error)

    async def _stream(
        self, responses: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        try:
            async for response in responses:
                yield response
        except Exception as error:  # noqa: BLE001 - every escape is mapped to a status
            await abort(context, error)


async def abort(context: grpc.aio.ServicerContext, error: Exception) -> None:
    """Ends the call with the status for `error`; re-raises grpc's own aborts and cancellations."""
    if isinstance(error, grpc.aio.AbortError | asyncio.CancelledError):
        raise error
    if isinstance(error, FareboxError):
        status = error.to_status()
        log.debug("rpc_error", code=status.code.name, reason=error.reason, message=error.message)
        await context.abort(status.code, status.details, status.trailing_metadata)
    if isinstance(error, NotImplementedError):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
    log.exception("rpc_internal_error")
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
