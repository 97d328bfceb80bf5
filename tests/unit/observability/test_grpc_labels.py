"""The grpc_type and method labels are spelled as py-grpc-prometheus spells them."""

from __future__ import annotations

import pytest

from common.interceptors.metrics import grpc_type, split_method


@pytest.mark.parametrize(
    ("request_streaming", "response_streaming", "expected"),
    [
        (False, False, "UNARY"),
        (False, True, "SERVER_STREAMING"),
        (True, False, "CLIENT_STREAMING"),
        (True, True, "BIDI_STREAMING"),
    ],
)
def test_grpc_type(request_streaming: bool, response_streaming: bool, expected: str) -> None:
    assert grpc_type(request_streaming, response_streaming) == expected


def test_split_method() -> None:
    assert split_method("/farebox.seat.v1.SeatInventoryService/HoldSeats") == (
        "farebox.seat.v1.SeatInventoryService",
        "HoldSeats",
    )
