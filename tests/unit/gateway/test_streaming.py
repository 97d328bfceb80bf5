"""Stream framing: NDJSON lines by default, SSE events when asked."""

from __future__ import annotations

import pytest

from gateway.streaming import frame, wants_event_stream


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", False),
        ("application/json", False),
        ("*/*", False),
        ("text/event-stream", True),
        ("application/json, text/event-stream;q=0.9", True),
        ("TEXT/EVENT-STREAM", True),
    ],
)
def test_sse_only_when_accepted(accept: str, expected: bool) -> None:
    assert wants_event_stream(accept) is expected


@pytest.mark.parametrize(
    ("value", "sse", "event", "expected"),
    [
        ({"result": {"a": 1}}, False, "", b'{"result":{"a":1}}\n'),
        ({"error": {"code": 14}}, False, "error", b'{"error":{"code":14}}\n'),
        ({"result": {"a": 1}}, True, "", b'data: {"result":{"a":1}}\n\n'),
        ({"error": {"code": 14}}, True, "error", b'event: error\ndata: {"error":{"code":14}}\n\n'),
    ],
)
def test_frames(value: dict[str, object], sse: bool, event: str, expected: bytes) -> None:
    assert frame(value, sse=sse, event=event) == expected
