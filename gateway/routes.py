"""HTTP routes built at start-up from the `google.api.http` options of every Farebox service.

Each HttpRule (and each of its additional_bindings) becomes one Route; nothing is written per RPC.
`RouteTable.match` dispatches like grpc-gateway's runtime/mux.go `ServeHTTP`: the first route of
the request's method whose pattern matches wins; a path that another method's pattern matches is
405 with an Allow header; anything else is 404.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType

import grpc
from google.api import annotations_pb2, http_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from gateway.errors import GatewayError
from gateway.pattern import PathTemplate, TemplateError, parse_template, split_path


class RouteError(ValueError):
    """An HttpRule cannot be served: a bad template, body or field path."""


@dataclass(frozen=True)
class Route:
    """One HTTP method and path template bound to one RPC."""

    http_method: str
    template: PathTemplate
    rpc: MethodDescriptor
    body: str
    response_body: str

    @property
    def service(self) -> str:
        """The full name of the RPC's service."""
        return str(self.rpc.containing_service.full_name)

    @property
    def grpc_path(self) -> str:
        """The RPC's gRPC path, `/package.Service/Method`."""
        return f"/{self.service}/{self.rpc.name}"

    @property
    def request_class(self) -> type[Message]:
        """The generated class of the RPC's request."""
        request_class: type[Message] = message_factory.GetMessageClass(self.rpc.input_type)
        return request_class

    @property
    def response_class(self) -> type[Message]:
        """The generated class of the RPC's response."""
        response_class: type[Message] = message_factory.GetMessageClass(self.rpc.output_type)
        return response_class

    @property
    def server_streaming(self) -> bool:
        """Whether the RPC streams its responses."""
        return bool(self.rpc.server_streaming)


@dataclass(frozen=True)
class RouteMatch:
    """The route a request resolved to and the path values it captured."""

    route: Route
    path_params: dict[str, str]


class RouteTable:
    """Every route, tried most specific first within each HTTP method."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = sorted(
            routes,
            key=lambda r: (
                -r.template.literal_count,
                r.template.has_deep_wildcard,
                -len(r.template.segments),
            ),
        )
        seen: set[tuple[str, str]] = set()
        for route in self.routes:
            key = (route.http_method, route.template.openapi_path())
            if key in seen:
                raise RouteError(f"two rules bind {route.http_method} {route.template.template}")
            seen.add(key)

    @property
    def services(self) -> list[str]:
        """The full names of the services the routes reach, sorted."""
        return sorted({route.service for route in self.routes})

    def allowed_methods(self, raw_path: str) -> list[str]:
        """The HTTP methods some route serves on this path, sorted."""
        split = split_path(raw_path)
        if split is None:
            return []
        return sorted(
            {route.http_method for route in self.routes if route.template.match(*split) is not None}
        )

    def match(self, http_method: str, raw_path: str) -> RouteMatch:
        """The route for a request; raises GatewayError 404, or 405 with the allowed methods."""
        split = split_path(raw_path)
        if split is None:
            raise _not_found(raw_path)
        components, verb = split
        for route in self.routes:
            if route.http_method != http_method:
                continue
            params = route.template.match(components, verb)
            if params is not None:
                return RouteMatch(route=route, path_params=params)
        allowed = self.allowed_methods(raw_path)
        if allowed:
            raise GatewayError(
                405,
                grpc.StatusCode.UNIMPLEMENTED,
                f"method {http_method} is not allowed on {raw_path}",
                reason="METHOD_NOT_ALLOWED",
                headers={"Allow": ", ".join(allowed)},
            )
        raise _not_found(raw_path)


def _not_found(raw_path: str) -> GatewayError:
    return GatewayError(404, grpc.StatusCode.NOT_FOUND, f"no route for {raw_path}", reason="ROUTE_NOT_FOUND")


def import_services(package: ModuleType) -> list[ServiceDescriptor]:
    """Imports every generated `*_pb2` module under `package` and returns the services they define."""
    services: list[ServiceDescriptor] = []
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(info.name)
            services.extend(module.DESCRIPTOR.services_by_name.values())
    return sorted(services, key=lambda service: str(service.full_name))


def build_routes(services: Iterable[ServiceDescriptor]) -> RouteTable:
    """The route table of every annotated RPC of `services`, validated against the messages."""
    routes: list[Route] = []
    for service in services:
        for rpc in service.methods:
            options = rpc.GetOptions()
            if not options.HasExtension(annotations_pb2.http):
                continue
            rule = options.Extensions[annotations_pb2.http]
            routes.extend(routes_of_rule(rpc, rule, top_level=True))
    return RouteTable(routes)


def routes_of_rule(rpc: MethodDescriptor, rule: http_pb2.HttpRule, *, top_level: bool = True) -> list[Route]:
    """The routes of one HttpRule and its additional bindings, checked against the RPC's messages."""
    if rpc.client_streaming:
        raise RouteError(f"{rpc.full_name}: client-streaming RPCs cannot be served over HTTP/JSON")
    if not top_level and rule.additional_bindings:
        raise RouteError(f"{rpc.full_name}: additional_bindings cannot nest")
    kind = rule.WhichOneof("pattern")
    if kind is None:
        raise RouteError(f"{rpc.full_name}: the http rule has no method and path")
    if kind == "custom":
        http_method, template_text = rule.custom.kind.upper(), rule.custom.path
    else:
        http_method, template_text = kind.upper(), getattr(rule, kind)
    try:
        template = parse_template(template_text)
    except TemplateError as error:
        raise RouteError(f"{rpc.full_name}: {error}") from None
    request: Descriptor = rpc.input_type
    for field_path in template.field_paths:
        leaf = resolve_field_path(request, field_path.split("."))
        if leaf is None or leaf.is_repeated or leaf.type == FieldDescriptor.TYPE_MESSAGE:
            raise RouteError(f"{rpc.full_name}: path variable {field_path!r} is not a singular scalar field")
    if rule.body not in ("", "*") and rule.body not in request.fields_by_name:
        raise RouteError(f"{rpc.full_name}: body {rule.body!r} is not a field of {request.full_name}")
    if rule.response_body and rule.response_body not in rpc.output_type.fields_by_name:
        raise RouteError(f"{rpc.full_name}: response_body {rule.response_body!r} is not a response field")
    route = Route(
        http_method=http_method,
        template=template,
        rpc=rpc,
        body=rule.body,
        response_body=rule.response_body,
    )
    extra = [
        route
        for binding in rule.additional_bindings
        for route in routes_of_rule(rpc, binding, top_level=False)
    ]
    return [route, *extra]


def resolve_field_path(message: Descriptor, path: Sequence[str]) -> FieldDescriptor | None:
    """The field a dotted path of proto or JSON names reaches through singular messages, or None."""
    descriptor = message
    field: FieldDescriptor | None = None
    for index, name in enumerate(path):
        field = find_field(descriptor, name)
        if field is None:
            return None
        if index < len(path) - 1:
            if field.type != FieldDescriptor.TYPE_MESSAGE or field.is_repeated:
                return None
            descriptor = field.message_type
    return field


def find_field(message: Descriptor, name: str) -> FieldDescriptor | None:
    """The field of `message` with this proto name or JSON name, or None."""
    field = message.fields_by_name.get(name)
    if field is not None:
        return field
    return next((f for f in message.fields if f.json_name == name), None)
