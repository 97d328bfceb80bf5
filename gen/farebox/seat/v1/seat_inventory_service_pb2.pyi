import datetime

from farebox.common.v1 import method_policy_pb2 as _method_policy_pb2
from farebox.seat.v1 import seat_pb2 as _seat_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateTripRequest(_message.Message):
    __slots__ = ("trip", "request_id")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    trip: _seat_pb2.Trip
    request_id: str
    def __init__(self, trip: _Optional[_Union[_seat_pb2.Trip, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _seat_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_seat_pb2.Trip, _Mapping]] = ...) -> None: ...

class GetTripRequest(_message.Message):
    __slots__ = ("trip_id",)
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    def __init__(self, trip_id: _Optional[str] = ...) -> None: ...

class GetTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _seat_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_seat_pb2.Trip, _Mapping]] = ...) -> None: ...

class ListTripsRequest(_message.Message):
    __slots__ = ("origin", "destination", "departure_after", "departure_before", "page_size", "page_token")
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    DEPARTURE_AFTER_FIELD_NUMBER: _ClassVar[int]
    DEPARTURE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    origin: str
    destination: str
    departure_after: _timestamp_pb2.Timestamp
    departure_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, origin: _Optional[str] = ..., destination: _Optional[str] = ..., departure_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., departure_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTripsResponse(_message.Message):
    __slots__ = ("trips", "next_page_token")
    TRIPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trips: _containers.RepeatedCompositeFieldContainer[_seat_pb2.Trip]
    next_page_token: str
    def __init__(self, trips: _Optional[_Iterable[_Union[_seat_pb2.Trip, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetSeatMapRequest(_message.Message):
    __slots__ = ("trip_id", "from_stop", "to_stop")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    from_stop: str
    to_stop: str
    def __init__(self, trip_id: _Optional[str] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ...) -> None: ...

class GetSeatMapResponse(_message.Message):
    __slots__ = ("seat_map",)
    SEAT_MAP_FIELD_NUMBER: _ClassVar[int]
    seat_map: _seat_pb2.SeatMap
    def __init__(self, seat_map: _Optional[_Union[_seat_pb2.SeatMap, _Mapping]] = ...) -> None: ...

class WatchSeatMapRequest(_message.Message):
    __slots__ = ("trip_id", "from_stop", "to_stop")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    from_stop: str
    to_stop: str
    def __init__(self, trip_id: _Optional[str] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ...) -> None: ...

class WatchSeatMapResponse(_message.Message):
    __slots__ = ("snapshot", "change")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    snapshot: _seat_pb2.SeatMap
    change: _seat_pb2.SeatChange
    def __init__(self, snapshot: _Optional[_Union[_seat_pb2.SeatMap, _Mapping]] = ..., change: _Optional[_Union[_seat_pb2.SeatChange, _Mapping]] = ...) -> None: ...

class HoldSeatsRequest(_message.Message):
    __slots__ = ("trip_id", "seat_numbers", "from_stop", "to_stop", "holder_id", "ttl", "request_id")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    HOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    from_stop: str
    to_stop: str
    holder_id: str
    ttl: _duration_pb2.Duration
    request_id: str
    def __init__(self, trip_id: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ..., holder_id: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class HoldSeatsResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: _seat_pb2.Hold
    def __init__(self, hold: _Optional[_Union[_seat_pb2.Hold, _Mapping]] = ...) -> None: ...

class ReleaseHoldRequest(_message.Message):
    __slots__ = ("hold_id", "request_id")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    request_id: str
    def __init__(self, hold_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReleaseHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: _seat_pb2.Hold
    def __init__(self, hold: _Optional[_Union[_seat_pb2.Hold, _Mapping]] = ...) -> None: ...

class CommitHoldRequest(_message.Message):
    __slots__ = ("hold_id", "booking_id", "request_id")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    booking_id: str
    request_id: str
    def __init__(self, hold_id: _Optional[str] = ..., booking_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CommitHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: _seat_pb2.Hold
    def __init__(self, hold: _Optional[_Union[_seat_pb2.Hold, _Mapping]] = ...) -> None: ...

class ReleaseSeatsRequest(_message.Message):
    __slots__ = ("booking_id", "request_id")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    request_id: str
    def __init__(self, booking_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReleaseSeatsResponse(_message.Message):
    __slots__ = ("trip_id", "seat_numbers")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, trip_id: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ...) -> None: ...
