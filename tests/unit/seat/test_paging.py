"""ListTrips page tokens are opaque, round-trip their sort key, and are refused when forged or reused."""

import base64
from datetime import UTC, datetime

import pytest

from common.errors import InvalidArgument
from seat_service.paging import PageKey, TripFilter, decode_page_token, encode_page_token, validate_listing

KEY = PageKey(datetime(2026, 12, 1, 8, 30, 0, 250, tzinfo=UTC), "trip-7")


def test_a_token_carries_the_last_sort_key() -> None:
    filters = TripFilter(origin="AMS")
    assert decode_page_token(encode_page_token(KEY, filters), filters) == KEY
    assert decode_page_token("", filters) is None


@pytest.mark.parametrize(
    "token",
    ["not base64!", base64.urlsafe_b64encode(b"[1, 2]").decode(),
     base64.urlsafe_b64encode(b'{"d": "x"}').decode(), "e30"],
)  # fmt: skip
def test_a_forged_token_is_invalid_argument_on_page_token(token: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        decode_page_token(token, TripFilter())
    assert error.value.field_violations[0][0] == "page_token"


def test_a_token_is_only_good_for_the_filters_that_made_it() -> None:
    token = encode_page_token(KEY, TripFilter(origin="AMS"))
    with pytest.raises(InvalidArgument) as error:
        decode_page_token(token, TripFilter(origin="UTR"))
    assert error.value.field_violations[0][0] == "page_token"


def test_page_size_defaults_to_20_and_is_bounded() -> None:
    assert validate_listing(TripFilter(), 0) == 20
    assert validate_listing(TripFilter(), 100) == 100
    for size in (-1, 101):
        with pytest.raises(InvalidArgument) as error:
            validate_listing(TripFilter(), size)
        assert error.value.field_violations[0][0] == "page_size"


def test_an_empty_departure_window_is_refused() -> None:
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(InvalidArgument) as error:
        validate_listing(TripFilter(departure_after=moment, departure_before=moment), 10)
    assert error.value.field_violations[0][0] == "departure_before"
