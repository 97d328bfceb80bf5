"""A server interceptor that wraps each method's handler once and reuses the wrapper on every call.

grpc.aio asks every interceptor for a handler on every call; building wrappers each time costs more
than the work they wrap. A `MethodWrapper` builds its wrapper on a method's first call and hands the
same one back while the server keeps handing it the same handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]

FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


class MethodWrapper(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps each method's handler once (`wrap`), then serves the wrapper from a cache."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        return self.wrapped(await continuation(handler_call_details), handler_call_details.method)

    def wrapped(self, handler: grpc.RpcMethodHandler | None, method: str) -> grpc.RpcMethodHandler | None:
        """`handler`'s wrapper for `method`, built on first use and while the handler stays the same."""
        if handler is None:
            return None
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = self._wrapped[method] = (handler, self.wrap(handler, method))
        return cached[1]

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """The handler to serve `method` with instead of `handler`."""
        raise NotImplementedError


def behavior_of(handler: grpc.RpcMethodHandler) -> Callable[..., Any]:
    """The handler's implementation, whatever its kind."""
    return handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream  # type: ignore[no-any-return]


async def responses_of(
    behavior: Callable[..., Any], request: Any, context: grpc.aio.ServicerContext
) -> AsyncIterator[Any]:
    """A response-streaming behavior's responses, whether it yields them or writes them through
    `context.write()` (then there are none to pass on)."""
    responses = behavior(request, context)
    if hasattr(responses, "__aiter__"):
        async for response in responses:
            yield response
    else:
        await responses


def rewrap(handler: grpc.RpcMethodHandler, behavior: Callable[..., Any]) -> grpc.RpcMethodHandler:
    """A handler of the same kind and (de)serializers as `handler` that runs `behavior`."""
    factory = FACTORIES[(handler.request_streaming, handler.response_streaming)]
    return factory(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
