"""Path, query and body -> request message, pinned by tables (after grpc-gateway's query_test.go)."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import ServiceDescriptor

from common.errors import FareboxError, InvalidArgument
from gateway.errors import GatewayError
from gateway.request_mapping import build_request, is_json_content_type
from gateway.routes import Route, build_routes


def route_of(library: ServiceDescriptor, rpc: str, template: str = "") -> Route:
    return next(
        r
        for r in build_routes([library]).routes
        if r.rpc.name == rpc and (not template or r.template.template == template)
    )


def as_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@pytest.mark.parametrize(
    ("query", "expected_filter"),
    [
        ([], {}),
        ([("filter.title", "Dune")], {"title": "Dune"}),
        ([("filter.onLoan", "true")], {"on_loan": True}),
        ([("filter.on_loan", "0")], {}),
        ([("filter.pages", "-12")], {"pages": -12}),
        ([("filter.printed", "9007199254740993")], {"printed": "9007199254740993"}),
        ([("filter.readers", "18446744073709551615")], {"readers": "18446744073709551615"}),
        ([("filter.smallCount", "4294967295")], {"small_count": 4294967295}),
        ([("filter.price", "2.5")], {"price": 2.5}),
        ([("filter.discount", "1e3")], {"discount": 1000.0}),
        ([("filter.cover", "aGk=")], {"cover": "aGk="}),
        ([("filter.cover", "aGk")], {"cover": "aGk="}),
        ([("filter.cover", "-_8")], {"cover": "+/8="}),
        ([("filter.genre", "GENRE_HISTORY")], {"genre": "GENRE_HISTORY"}),
        ([("filter.genre", "1")], {"genre": "GENRE_FICTION"}),
        (
            [("filter.genres", "GENRE_FICTION"), ("filter.genres", "2")],
            {"genres": ["GENRE_FICTION", "GENRE_HISTORY"]},
        ),
        ([("filter.authors", "a"), ("filter.authors", "b")], {"authors": ["a", "b"]}),
        ([("filter.editions", "1"), ("filter.editions", "2")], {"editions": [1, 2]}),
        ([("filter.publishTime", "2026-01-02T03:04:05Z")], {"publish_time": "2026-01-02T03:04:05Z"}),
        (
            [("filter.publish_time", "2026-01-02T04:04:05.5+01:00")],
            {"publish_time": "2026-01-02T03:04:05.500Z"},
        ),
        ([("filter.readTime", "1.5s")], {"read_time": "1.500s"}),
        ([("filter.rating", "4.5")], {"rating": 4.5}),
        (
            [("filter.labels[lang]", "en"), ("filter.labels[size]", "xl")],
            {"labels": {"lang": "en", "size": "xl"}},
        ),
        ([("filter.shelf.floor", "3")], {"shelf": {"floor": 3}}),
        ([("filter.reader", "ann")], {"reader": "ann"}),
        ([("filter.unknown", "x"), ("nope.deeper", "y"), ("filter.shelf.nope", "z")], {}),
        ([("filter.shelf.name", "ignored: bound by the path")], {"shelf": {"name": "s1"}}),
    ],
)
def test_fills_fields_from_the_query(
    library: ServiceDescriptor, query: list[tuple[str, str]], expected_filter: dict[str, Any]
) -> None:
    route = route_of(library, "ListBooks")
    message = build_request(route, {"filter.shelf.name": "s1"}, query, b"", None)
    expected = {"shelf": {"name": "s1"}} | expected_filter
    if "shelf" in expected_filter:
        expected["shelf"] = {"name": "s1"} | expected_filter["shelf"]
    assert as_dict(message)["filter"] == expected


def test_fills_top_level_fields_by_proto_or_json_name(library: ServiceDescriptor) -> None:
    route = route_of(library, "ListBooks")
    by_json = build_request(route, {"filter.shelf.name": "s1"}, [("pageSize", "5")], b"", None)
    by_proto = build_request(route, {"filter.shelf.name": "s1"}, [("page_size", "5")], b"", None)
    assert by_json.page_size == by_proto.page_size == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ([("filter.pages", "abc")], "filter.pages"),
        ([("filter.pages", "2147483648")], "filter.pages"),
        ([("filter.pages", "1.0")], "filter.pages"),
        ([("filter.pages", " 1")], "filter.pages"),
        ([("filter.smallCount", "-1")], "filter.smallCount"),
        ([("filter.readers", "18446744073709551616")], "filter.readers"),
        ([("filter.onLoan", "yes")], "filter.onLoan"),
        ([("filter.price", "1_0")], "filter.price"),
        ([("filter.discount", "1e39")], "filter.discount"),
        ([("filter.cover", "!!")], "filter.cover"),
        ([("filter.genre", "GENRE_POETRY")], "filter.genre"),
        ([("filter.genre", "7")], "filter.genre"),
        ([("filter.genre", "4294967297")], "filter.genre"),
        ([("filter.pages", "+7")], "filter.pages"),
        ([("filter.pages", "007")], "filter.pages"),
        ([("filter.publishTime", "yesterday")], "filter.publishTime"),
        ([("filter.readTime", "5 minutes")], "filter.readTime"),
        ([("filter.title", "a"), ("filter.title", "b")], "filter.title"),
        ([("filter.history", "x")], "filter.history"),
        ([("filter.title.x", "a")], "filter.title.x"),
        ([("filter.labels", "x")], "filter.labels"),
        ([("filter.shelf", "x")], "filter.shelf"),
        ([("filter.reader", "ann"), ("filter.branch", "north")], "filter.branch"),
    ],
)
def test_refuses_unparsable_query_values_naming_the_field(
    library: ServiceDescriptor, query: list[tuple[str, str]], field: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        build_request(route_of(library, "ListBooks"), {"filter.shelf.name": "s1"}, query, b"", None)
    assert raised.value.field_violations[0][0] == field


def test_body_star_fills_the_request_then_the_path_overrides_and_the_query_is_ignored(
    library: ServiceDescriptor,
) -> None:
    route = route_of(library, "MoveBook")
    body = b'{"name": "from-body", "shelf": "s2", "requestId": "r1", "unknown": 1}'
    message = build_request(
        route, {"name": "shelves/s1/books/b1"}, [("shelf", "s3")], body, "application/json"
    )
    assert as_dict(message) == {"name": "shelves/s1/books/b1", "shelf": "s2", "request_id": "r1"}


def test_body_field_fills_that_field_and_the_query_the_rest(library: ServiceDescriptor) -> None:
    route = route_of(library, "UpdateBook")
    body = b'{"title": "Dune", "page_count": 1, "printed": "12", "genre": "GENRE_FICTION"}'
    query = [("updateMask", "title,genre"), ("book.title", "ignored"), ("requestId", "r1")]
    message = build_request(
        route, {"book.name": "shelves/s1/books/b1"}, query, body, "application/json; charset=utf-8"
    )
    assert as_dict(message) == {
        "book": {"name": "shelves/s1/books/b1", "title": "Dune", "printed": "12", "genre": "GENRE_FICTION"},
        "update_mask": "title,genre",
        "request_id": "r1",
    }


def test_an_empty_body_is_an_empty_message(library: ServiceDescriptor) -> None:
    route = route_of(library, "MoveBook")
    message = build_request(route, {"name": "n"}, [], b"  ", "text/plain")
    assert as_dict(message) == {"name": "n"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"{", "application/json", 400, "MALFORMED_JSON"),
        (b"[1]", "application/json", 400, "MALFORMED_JSON"),
        (b"null", "application/json", 400, "MALFORMED_JSON"),
        (b'{"shelf": NaN}', "application/json", 400, "MALFORMED_JSON"),
        (b'{"shelf": 5}', "application/json", 400, "INVALID_ARGUMENT"),
        (b'{"name": "x"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"name": "x"}', "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_refuses_bodies_that_are_not_json_objects(
    library: ServiceDescriptor, body: bytes, content_type: str, status: int, reason: str
) -> None:
    with pytest.raises(FareboxError) as raised:
        build_request(route_of(library, "MoveBook"), {"name": "n"}, [], body, content_type)
    assert raised.value.reason == reason
    assert (raised.value.http_status if isinstance(raised.value, GatewayError) else 400) == status


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"pages": "many"}', "book.pages"),
        (b'{"shelf": {"floor": "x"}}', "book.shelf.floor"),
        (b'{"history": [{"floor": 1}, {"floor": []}]}', "book.history.floor"),
        (b'{"publishTime": "today"}', "book.publishTime"),
        (b'{"genre": "GENRE_POETRY"}', "book.genre"),
        (b'{"genres": ["GENRE_FICTION", "NOPE"]}', "book.genres[1]"),
        (b'{"editions": [null]}', "book.editions[0]"),
        (b'{"genre": 1.5}', "book.genre"),
        (b'{"genre": true}', "book.genre"),
        (b'{"genre": 4294967296}', "book.genre"),
        (b'{"genres": [1, 2.5]}', "book.genres[1]"),
        (b'{"history": [{}, {"shelfName": 1, "floor": "x"}]}', "book.history[1].floor"),
        (b'{"genre": 7}', "book.genre"),
        (b'{"pages": "+7"}', "book.pages"),
        (b'{"pages": "007"}', "book.pages"),
        (b'{"printed": "1_000"}', "book.printed"),
        (b'{"price": "1.5"}', "book.price"),
    ],
)
def test_names_the_body_field_that_does_not_fit(library: ServiceDescriptor, body: bytes, field: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        build_request(route_of(library, "UpdateBook"), {}, [], body, "application/json")
    assert raised.value.field_violations[0][0] == field


def test_enum_values_by_name_or_integer(library: ServiceDescriptor) -> None:
    body = b'{"genre": 2.0, "genres": ["GENRE_FICTION", 2]}'
    message = build_request(route_of(library, "UpdateBook"), {}, [], body, "application/json")
    assert (message.book.genre, list(message.book.genres)) == (2, [1, 2])


def test_unknown_members_are_ignored_at_every_depth(library: ServiceDescriptor) -> None:
    body = (
        b'{"x": 1, "shelf": {"name": "s", "x": {}}, "history": [{"floor": 2, "x": 1}], "labels": {"a": "b"}}'
    )
    message = build_request(route_of(library, "UpdateBook"), {}, [], body, "application/json")
    assert as_dict(message) == {
        "book": {"shelf": {"name": "s"}, "history": [{"floor": 2}], "labels": {"a": "b"}}
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/shelves/s1/books/b1", "shelves/s1/books/b1"),
        ("/v1/books/a/b%20c", "a/b c"),
    ],
)
def test_multi_segment_path_values_fill_the_field(
    library: ServiceDescriptor, path: str, expected: str
) -> None:
    match = build_routes([library]).match("GET", path)
    assert build_request(match.route, match.path_params, [], b"", None).name == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("text/json", False),
        ("application/x-www-form-urlencoded", False),
        ("", False),
    ],
)
def test_recognises_json_content_types(content_type: str, expected: bool) -> None:
    assert is_json_content_type(content_type) is expected
