"""OpenAPI 3.1 from the same routes and descriptors the gateway serves, comments as descriptions.

Shaped like grpc-gateway's protoc-gen-openapiv2 output: one operation per route (operationId
`Service_Method`, `_<n>` for additional bindings), path variables as path parameters, the fields
neither bound by the path nor taken by the body as query parameters named by their JSON paths, the
body as requestBody, the response (or its response_body field) as the 200 schema, and
google.rpc.Status as the default response. Request schemas describe what the translator accepts
and response schemas exactly what it writes (see `gateway.openapi_schemas`). A method whose
`farebox.common.v1.policy` does not allow anonymous callers requires a bearer token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from common.policy import policy_for
from gateway.openapi_schemas import STATUS_SCHEMA, Schema, SchemaRegistry, is_single_value, ref
from gateway.routes import Route, RouteTable, find_field, resolve_field_path
from gateway.streaming import NDJSON_CONTENT_TYPE, SSE_CONTENT_TYPE

REQUEST_ID_HEADER_SPEC: Schema = {
    "description": "The request's id: the caller's X-Request-Id, or one generated for it.",
    "schema": {"type": "string"},
}


def build_openapi(routes: RouteTable, comments: Mapping[str, str], *, title: str, version: str) -> Schema:
    """The OpenAPI 3.1 document of every route."""
    schemas = SchemaRegistry(comments)
    operations = _OperationBuilder(schemas)
    paths: dict[str, dict[str, Any]] = {}
    bindings: dict[str, int] = {}
    for route in sorted(routes.routes, key=lambda r: (r.template.openapi_path(), r.http_method)):
        index = bindings.get(route.rpc.full_name, 0)
        bindings[route.rpc.full_name] = index + 1
        path_item = paths.setdefault(route.template.openapi_path(), {})
        path_item[route.http_method.lower()] = operations.operation(route, index)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "HTTP/JSON over the Farebox gRPC services. Errors are google.rpc.Status objects; "
                "Grpc-Timeout sets a deadline, Idempotency-Key fills an empty request_id, and "
                "Grpc-Metadata-* headers pass through as gRPC metadata."
            ),
        },
        "tags": [{"name": _short(service), **schemas.described(service)} for service in routes.services],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


class _OperationBuilder:
    """Describes each route's operation, collecting the component schemas it refers to in `schemas`."""

    def __init__(self, schemas: SchemaRegistry) -> None:
        self.schemas = schemas

    def operation(self, route: Route, binding: int) -> Schema:
        """The operation object of a route; `binding` counts the RPC's earlier routes."""
        rpc = route.rpc
        request: Descriptor = rpc.input_type
        operation: Schema = {
            "operationId": f"{rpc.containing_service.name}_{rpc.name}" + (f"_{binding}" if binding else ""),
            "summary": rpc.name,
            "tags": [_short(route.service)],
            **self.schemas.described(rpc.full_name),
        }
        parameters = [self._path_parameter(request, path) for path in route.template.field_paths]
        if route.body != "*":
            bound = {_proto_path(request, path) for path in route.template.field_paths}
            bound |= {(route.body,)} if route.body else set()
            parameters += self._query_parameters(request, "", (), bound, {request.full_name})
        if parameters:
            operation["parameters"] = parameters
        if route.body:
            operation["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": self._body_schema(route)}},
            }
        operation["responses"] = {
            "200": self._success(route),
            "default": {
                "description": "An error: the google.rpc.Status of the call.",
                "headers": {"X-Request-Id": REQUEST_ID_HEADER_SPEC},
                "content": {"application/json": {"schema": ref(STATUS_SCHEMA)}},
            },
        }
        policy = policy_for(route.grpc_path)
        if policy is not None and not policy.allow_anonymous:
            operation["security"] = [{"bearer": []}]
        return operation

    def _success(self, route: Route) -> Schema:
        output: Descriptor = route.rpc.output_type
        if route.response_body:
            schema = self.schemas.field(output.fields_by_name[route.response_body], output=True)
        else:
            schema = self.schemas.message(output, output=True)
        if not route.server_streaming:
            return {
                "description": "The response.",
                "headers": {"X-Request-Id": REQUEST_ID_HEADER_SPEC},
                "content": {"application/json": {"schema": schema}},
            }
        item = {
            "type": "object",
            "description": "One message of the stream, or the error that ended it.",
            "properties": {"result": schema, "error": ref(STATUS_SCHEMA)},
        }
        return {
            "description": (
                "A stream of responses: newline-delimited JSON objects, or Server-Sent Events when "
                "the request accepts text/event-stream."
            ),
            "headers": {"X-Request-Id": REQUEST_ID_HEADER_SPEC},
            "content": {
                NDJSON_CONTENT_TYPE: {"schema": item},
                SSE_CONTENT_TYPE: {"schema": {"type": "string"}},
            },
        }

    def _body_schema(self, route: Route) -> Schema:
        request: Descriptor = route.rpc.input_type
        if route.body != "*":
            return self.schemas.field(request.fields_by_name[route.body], output=False)
        top_level = [path for path in route.template.field_paths if "." not in path]
        bound = frozenset(_proto_path(request, path)[0] for path in top_level)
        if not bound:
            return self.schemas.message(request, output=False)
        return self.schemas.object(request, output=False, leave_out=bound)

    def _path_parameter(self, request: Descriptor, path: str) -> Schema:
        field = resolve_field_path(request, path.split("."))
        assert field is not None  # checked when the routes were built
        return {
            "name": path,
            "in": "path",
            "required": True,
            "schema": self.schemas.single(field, output=False),
            **self.schemas.described(field.full_name),
        }

    def _query_parameters(
        self,
        message: Descriptor,
        prefix: str,
        proto_prefix: tuple[str, ...],
        bound: set[tuple[str, ...]],
        seen: set[str],
    ) -> list[Schema]:
        """Query parameters for the fields of `message` not under a bound path, by JSON path."""
        parameters: list[Schema] = []
        for field in message.fields:
            proto_path = (*proto_prefix, field.name)
            if any(proto_path[: len(path)] == path for path in bound):
                continue
            name = prefix + field.json_name
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if field.message_type.GetOptions().map_entry or field.is_repeated:
                    continue
                if not is_single_value(field.message_type):
                    if field.message_type.full_name not in seen:
                        nested = {*seen, field.message_type.full_name}
                        parameters += self._query_parameters(
                            field.message_type, f"{name}.", proto_path, bound, nested
                        )
                    continue
            item = self.schemas.single(field, output=False)
            parameter: Schema = {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "array", "items": item} if field.is_repeated else item,
                **self.schemas.described(field.full_name),
            }
            if field.is_repeated:
                parameter.update(style="form", explode=True)
            parameters.append(parameter)
        return parameters


def _proto_path(message: Descriptor, path: str) -> tuple[str, ...]:
    names: list[str] = []
    descriptor: Descriptor | None = message
    for part in path.split("."):
        field = None if descriptor is None else find_field(descriptor, part)
        names.append(part if field is None else field.name)
        descriptor = None if field is None else field.message_type
    return tuple(names)


def _short(service: str) -> str:
    return service.rsplit(".", 1)[-1]
