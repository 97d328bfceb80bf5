"""ghz call data: the per-call template variables, and the requests and metadata rendered with them.

As in ghz, data is one JSON object (sent on every call) or an array of objects (sent round robin by
request number); data and metadata are rendered as templates with one set of call variables per
call, then parsed (protobuf JSON for the request). Data and metadata without template actions are
built once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format

from benchmarks import calltemplate
from benchmarks.descriptors import ResolvedMethod

Metadata = tuple[tuple[str, str], ...]


def rfc3339(wall_ns: int, *, nanos: bool) -> str:
    """Go's time.RFC3339 (or RFC3339Nano, trailing zeros trimmed) in UTC."""
    seconds, remainder = divmod(wall_ns, 1_000_000_000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos and remainder:
        text += "." + f"{remainder:09d}".rstrip("0")
    return text + "Z"


class CallDataError(ValueError):
    """Call data that does not render or does not fit the request message."""


class CallFactory:
    """Serialized requests and metadata for each call of one method."""

    def __init__(
        self,
        method: ResolvedMethod,
        data: Any,
        metadata: Mapping[str, str] | None,
        environment: Mapping[str, str],
    ) -> None:
        self._method = method
        self._functions: Mapping[str, Callable[..., Any]] = calltemplate.functions(environment)
        elements = data if isinstance(data, list) else [data if data is not None else {}]
        try:
            self._data = [calltemplate.parse(json.dumps(element)) for element in elements]
            self._metadata = calltemplate.parse(json.dumps(dict(metadata or {})))
        except calltemplate.TemplateError as error:
            raise CallDataError(str(error)) from error
        self._constant_requests = {
            index: self._encode(template.source)
            for index, template in enumerate(self._data)
            if template.is_constant
        }
        self._constant_metadata = (
            self._decode_metadata(self._metadata.source) if self._metadata.is_constant else None
        )

    def call_data(self, worker_id: str, request_number: int) -> dict[str, Any]:
        """ghz's template variables for one call."""
        info = self._method.info
        now_ns = time.time_ns()
        return {
            "WorkerID": worker_id,
            "RequestNumber": request_number,
            "FullyQualifiedName": info.fully_qualified_name,
            "MethodName": info.method_name,
            "ServiceName": info.service_name,
            "InputName": info.input_name,
            "OutputName": info.output_name,
            "IsClientStreaming": info.client_streaming,
            "IsServerStreaming": info.server_streaming,
            "Timestamp": rfc3339(now_ns, nanos=False),
            "TimestampUnix": now_ns // 1_000_000_000,
            "TimestampUnixMilli": now_ns // 1_000_000,
            "TimestampUnixNano": now_ns,
            "UUID": str(uuid.uuid4()),
        }

    def prepare(self, worker_id: str, request_number: int) -> tuple[bytes, Metadata]:
        """The serialized request and the metadata of call `request_number`."""
        index = request_number % len(self._data)
        request = self._constant_requests.get(index)
        metadata = self._constant_metadata
        if request is not None and metadata is not None:
            return request, metadata
        variables = self.call_data(worker_id, request_number)
        try:
            if request is None:
                request = self._encode(self._data[index].render(variables, self._functions))
            if metadata is None:
                metadata = self._decode_metadata(self._metadata.render(variables, self._functions))
        except calltemplate.TemplateError as error:
            raise CallDataError(str(error)) from error
        return request, metadata

    def _encode(self, text: str) -> bytes:
        message = self._method.request_class()
        try:
            json_format.Parse(text, message)
        except json_format.ParseError as error:
            raise CallDataError(f"data does not fit {self._method.info.input_name}: {error}") from error
        serialized: bytes = message.SerializeToString()
        return serialized

    @staticmethod
    def _decode_metadata(text: str) -> Metadata:
        try:
            pairs = json.loads(text)
        except json.JSONDecodeError as error:
            raise CallDataError(f"metadata is not a JSON object after rendering: {error}") from error
        return tuple((str(key).lower(), str(value)) for key, value in pairs.items())
