"""The path-template parser and matcher, pinned by tables (after grpc-gateway's pattern_test.go)."""

from __future__ import annotations

import pytest

from gateway.pattern import TemplateError, parse_template, split_path


@pytest.mark.parametrize(
    ("template", "openapi_path", "fields", "verb"),
    [
        ("/", "/", (), ""),
        ("/v1/trips", "/v1/trips", (), ""),
        ("/v1/trips/{trip_id}", "/v1/trips/{trip_id}", ("trip_id",), ""),
        ("/v1/trips/{trip_id}/seat-map:watch", "/v1/trips/{trip_id}/seat-map:watch", ("trip_id",), "watch"),
        (
            "/v1/bookings/{booking_id}:confirm",
            "/v1/bookings/{booking_id}:confirm",
            ("booking_id",),
            "confirm",
        ),
        ("/v1/{name=shelves/*/books/*}", "/v1/{name}", ("name",), ""),
        ("/v1/{name=shelves/**}:undelete", "/v1/{name}:undelete", ("name",), "undelete"),
        ("/v1/{trip.id}/seats/*", "/v1/{trip.id}/seats/*", ("trip.id",), ""),
        ("/v1/**/tail", "/v1/**/tail", (), ""),
        ("/v1/{a}/{b=x/*}", "/v1/{a}/{b}", ("a", "b"), ""),
    ],
)
def test_parses_templates(template: str, openapi_path: str, fields: tuple[str, ...], verb: str) -> None:
    parsed = parse_template(template)
    assert parsed.openapi_path() == openapi_path
    assert parsed.field_paths == fields
    assert parsed.verb == verb


@pytest.mark.parametrize(
    "template",
    [
        "v1/trips",
        "/v1/{trip_id",
        "/v1/{trip id}",
        "/v1/{a={b}}",
        "/v1/**/x/**",
        "/v1/{a}/{a}",
        "/v1/trips:",
        "/v1/tr:ips/x",
        "/v1//x",
        "/v1/{1abc}",
        "/v1/{a=}",
    ],
)
def test_refuses_templates_outside_the_grammar(template: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(template)


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/v1/trips", "/v1/trips", {}),
        ("/v1/trips", "/v1/trips/", None),
        ("/v1/trips", "/v1/Trips", None),
        ("/v1/trips/{trip_id}", "/v1/trips/t-1", {"trip_id": "t-1"}),
        ("/v1/trips/{trip_id}", "/v1/trips/a%20b", {"trip_id": "a b"}),
        ("/v1/trips/{trip_id}", "/v1/trips/a%2Fb", {"trip_id": "a/b"}),
        ("/v1/trips/{trip_id}", "/v1/trips/a/b", None),
        ("/v1/trips/{trip_id}", "/v1/trips/t-1:watch", None),
        ("/v1/trips/{trip_id}", "/v1/trips/a%3Ab", {"trip_id": "a:b"}),
        ("/v1/trips/{trip_id}", "/v1/trips/", {"trip_id": ""}),
        ("/v1/bookings/{booking_id}:confirm", "/v1/bookings/b-1:confirm", {"booking_id": "b-1"}),
        ("/v1/bookings/{booking_id}:confirm", "/v1/bookings/b-1:cancel", None),
        ("/v1/bookings/{booking_id}:confirm", "/v1/bookings/b-1", None),
        ("/v1/bookings/{booking_id}:confirm", "/v1/bookings/b:1:confirm", {"booking_id": "b:1"}),
        ("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books/b1", {"name": "shelves/s1/books/b1"}),
        ("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/books", None),
        ("/v1/{name=shelves/*/books/*}", "/v1/shelves/s1/maps/b1", None),
        ("/v1/{name=**}", "/v1/a/b/c", {"name": "a/b/c"}),
        ("/v1/{name=**}", "/v1", {"name": ""}),
        ("/v1/{name=**}", "/v1/a%2Fb/c%20d", {"name": "a%2Fb/c d"}),
        ("/v1/{name=shelves/**}/tail:x", "/v1/shelves/a/b/tail:x", {"name": "shelves/a/b"}),
        ("/v1/{name=shelves/**}/tail:x", "/v1/shelves/tail:x", {"name": "shelves"}),
        ("/v1/{name=shelves/**}/tail:x", "/v1/tail:x", None),
        ("/v1/{trip.id}/seats/*", "/v1/t1/seats/12A", {"trip.id": "t1"}),
        ("/", "/", {}),
        ("/", "/v1", None),
    ],
)
def test_matches_paths(template: str, path: str, expected: dict[str, str] | None) -> None:
    split = split_path(path)
    assert split is not None
    assert parse_template(template).match(*split) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/trips", (["v1", "trips"], "")),
        ("/v1/trips/t:watch", (["v1", "trips", "t"], "watch")),
        ("/v1/a:b:c", (["v1", "a:b"], "c")),
        ("/", ([], "")),
        ("/v1/:verb", None),
        ("v1/trips", None),
    ],
)
def test_splits_paths_like_the_mux(path: str, expected: tuple[list[str], str] | None) -> None:
    assert split_path(path) == expected
