"""A stand-in for authentication in booking tests: the caller is named by `x-test-subject` metadata."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_interceptor import AsyncServerInterceptor

from common.interceptors.handler import call_handler
from common.policy import Role
from common.request_context import Principal, principal_var

SUBJECT_KEY = "x-test-subject"


class SubjectFromMetadata(AsyncServerInterceptor):  # type: ignore[misc]
    """Sets a traveller principal from the call's `x-test-subject` metadata; none means anonymous."""

    async def intercept(
        self, method: Any, request: Any, context: grpc.aio.ServicerContext, method_name: str
    ) -> Any:
        metadata = context.invocation_metadata() or ()
        subject = next((str(item.value) for item in metadata if item.key == SUBJECT_KEY), "")
        if subject:
            principal_var.set(Principal(subject=subject, roles=frozenset({Role.ROLE_TRAVELLER})))
        return await call_handler(method, request, context)


def as_traveller(subject: str) -> tuple[tuple[str, str], ...]:
    """Call metadata naming the traveller."""
    return ((SUBJECT_KEY, subject),)
