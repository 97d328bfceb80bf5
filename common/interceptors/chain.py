"""The standard server interceptor chain, outermost first, run as one interceptor.

Each step is a grpc_interceptor `AsyncServerInterceptor` whose `intercept(method, request, context,
method_name)` calls the next step (or the handler) through `method`. `InterceptorChain` composes the
steps once per method, so a call pays for the steps' own work only, not for a handler lookup and a
new handler per step.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
from grpc_interceptor import AsyncServerInterceptor

from common.interceptors.context import RequestContextInterceptor
from common.interceptors.errors import ErrorMappingInterceptor
from common.interceptors.policy import PolicyInterceptor
from common.interceptors.wrapping import MethodWrapper, behavior_of, rewrap


def standard_interceptors(*inner: AsyncServerInterceptor) -> Sequence[grpc.aio.ServerInterceptor]:
    """Context and deadline, then error mapping, then the policy check, then the service's own."""
    return [
        InterceptorChain(
            [RequestContextInterceptor(), ErrorMappingInterceptor(), PolicyInterceptor(), *inner]
        )
    ]


class InterceptorChain(MethodWrapper):
    """Runs `steps` in order around every method, composed once per method."""

    def __init__(self, steps: Sequence[AsyncServerInterceptor]) -> None:
        super().__init__()
        self.steps = tuple(steps)

    def wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        through = _through_streaming if handler.response_streaming else _through
        call: Callable[..., Any] = behavior_of(handler)
        for step in reversed(self.steps):
            call = through(step, call, method)
        if handler.response_streaming:
            return rewrap(handler, call)
        first = call

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await first(request, context)

        return rewrap(handler, unary)


def _through(step: AsyncServerInterceptor, then: Callable[..., Any], method: str) -> Callable[..., Any]:
    """A unary-response step: calling it starts the step's coroutine."""

    def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return step.intercept(then, request, context, method)

    return call


def _through_streaming(
    step: AsyncServerInterceptor, then: Callable[..., Any], method: str
) -> Callable[..., AsyncIterator[Any]]:
    """A streaming-response step: an async generator, so the step before it sees a stream to wrap."""

    async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        responses: Any = step.intercept(then, request, context, method)
        if inspect.iscoroutine(responses):
            responses = await responses
        if responses is not None:  # None: the handler wrote through context.write()
            async for response in responses:
                yield response

    return call
