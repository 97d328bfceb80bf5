"""Server streaming over HTTP: NDJSON or SSE, a late error as the last item, disconnect cancels."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from farebox.seat.v1 import seat_inventory_service_pb2, seat_pb2

from common.errors import Unavailable
from tests.integration.gateway.fakes import TRIP_ID, FakeBackends

WATCH = f"/v1/trips/{TRIP_ID}/seat-map:watch?fromStop=AMS&toStop=BER"
CHANGE = seat_inventory_service_pb2.WatchSeatMapResponse(
    change=seat_pb2.SeatChange(kind=seat_pb2.SEAT_CHANGE_KIND_HELD, from_stop="AMS", to_stop="BER")
)


async def push(backends: FakeBackends, *items: Any) -> None:
    await asyncio.wait_for(backends.inventory.watch_started.wait(), 10)
    for item in items:
        backends.inventory.watch_queues[0].put_nowait(item)


async def read_ndjson(response: aiohttp.ClientResponse) -> list[dict[str, Any]]:
    return [json.loads(line) async for line in response.content if line.strip()]


async def read_sse(response: aiohttp.ClientResponse) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    for block in (await response.text()).split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


async def test_streams_newline_delimited_json(
    gateway: str, backends: FakeBackends, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{gateway}{WATCH}") as response:
        assert response.status == 200
        assert response.content_type == "application/x-ndjson"
        assert response.headers["X-Request-Id"]
        await push(backends, CHANGE, None)
        lines = await read_ndjson(response)
    assert [set(line) for line in lines] == [{"result"}, {"result"}]
    assert lines[0]["result"]["snapshot"]["tripId"] == TRIP_ID
    assert lines[1]["result"]["change"]["kind"] == "SEAT_CHANGE_KIND_HELD"


async def test_streams_server_sent_events_when_asked(
    gateway: str, backends: FakeBackends, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{gateway}{WATCH}", headers={"Accept": "text/event-stream"}) as response:
        assert response.content_type == "text/event-stream"
        await push(backends, CHANGE, None)
        events = await read_sse(response)
    assert [(event, set(data)) for event, data in events] == [
        ("message", {"result"}),
        ("message", {"result"}),
    ]


@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
async def test_an_error_after_data_ends_the_stream_with_an_error_item(
    gateway: str, backends: FakeBackends, http: aiohttp.ClientSession, accept: str
) -> None:
    async with http.get(f"{gateway}{WATCH}", headers={"Accept": accept}) as response:
        assert response.status == 200
        await push(backends, CHANGE, Unavailable("the feed is gone", reason="FEED_UNAVAILABLE"))
        if accept == "text/event-stream":
            events = await read_sse(response)
            items = [data for _, data in events]
            assert [event for event, _ in events] == ["message", "message", "error"]
        else:
            items = await read_ndjson(response)
    error = items[-1]["error"]
    assert [set(item) for item in items[:-1]] == [{"result"}, {"result"}]
    assert (error["code"], error["message"]) == (14, "the feed is gone")
    assert error["details"][0]["reason"] == "FEED_UNAVAILABLE"


async def test_an_error_before_data_is_an_ordinary_error_response(
    gateway: str, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{gateway}/v1/trips/nope/seat-map:watch") as response:
        assert (response.status, response.content_type) == (404, "application/json")
        assert (await response.json())["code"] == 5


async def test_a_client_that_disconnects_cancels_the_call(
    gateway: str, backends: FakeBackends, http: aiohttp.ClientSession
) -> None:
    response = await http.get(f"{gateway}{WATCH}")
    first = json.loads(await response.content.readline())
    assert "snapshot" in first["result"]
    response.close()
    await asyncio.wait_for(backends.inventory.watch_cancelled.wait(), 10)
    assert backends.inventory.watch_queues == []
