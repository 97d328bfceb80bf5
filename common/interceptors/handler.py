"""Calls the next handler of an interceptor chain, unary or server-streaming alike."""

from __future__ import annotations

from typing import Any

import grpc


async def call_handler(method: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
    """Awaits a unary handler, or hands back a streaming handler's async generator untouched."""
    response = method(request, context)
    if hasattr(response, "__aiter__"):
        return response
    return await response
