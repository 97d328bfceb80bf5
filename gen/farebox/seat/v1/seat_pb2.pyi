import datetime

from farebox.common.v1 import money_pb2 as _money_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SeatClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEAT_CLASS_UNSPECIFIED: _ClassVar[SeatClass]
    SEAT_CLASS_STANDARD: _ClassVar[SeatClass]
    SEAT_CLASS_PREMIUM: _ClassVar[SeatClass]
    SEAT_CLASS_SLEEPER: _ClassVar[SeatClass]

class SeatState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEAT_STATE_UNSPECIFIED: _ClassVar[SeatState]
    SEAT_STATE_AVAILABLE: _ClassVar[SeatState]
    SEAT_STATE_HELD: _ClassVar[SeatState]
    SEAT_STATE_SOLD: _ClassVar[SeatState]

class HoldState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATE_UNSPECIFIED: _ClassVar[HoldState]
    HOLD_STATE_ACTIVE: _ClassVar[HoldState]
    HOLD_STATE_COMMITTED: _ClassVar[HoldState]
    HOLD_STATE_RELEASED: _ClassVar[HoldState]
    HOLD_STATE_EXPIRED: _ClassVar[HoldState]

class SeatChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEAT_CHANGE_KIND_UNSPECIFIED: _ClassVar[SeatChangeKind]
    SEAT_CHANGE_KIND_HELD: _ClassVar[SeatChangeKind]
    SEAT_CHANGE_KIND_RELEASED: _ClassVar[SeatChangeKind]
    SEAT_CHANGE_KIND_EXPIRED: _ClassVar[SeatChangeKind]
    SEAT_CHANGE_KIND_SOLD: _ClassVar[SeatChangeKind]
    SEAT_CHANGE_KIND_RETURNED: _ClassVar[SeatChangeKind]
SEAT_CLASS_UNSPECIFIED: SeatClass
SEAT_CLASS_STANDARD: SeatClass
SEAT_CLASS_PREMIUM: SeatClass
SEAT_CLASS_SLEEPER: SeatClass
SEAT_STATE_UNSPECIFIED: SeatState
SEAT_STATE_AVAILABLE: SeatState
SEAT_STATE_HELD: SeatState
SEAT_STATE_SOLD: SeatState
HOLD_STATE_UNSPECIFIED: HoldState
HOLD_STATE_ACTIVE: HoldState
HOLD_STATE_COMMITTED: HoldState
HOLD_STATE_RELEASED: HoldState
HOLD_STATE_EXPIRED: HoldState
SEAT_CHANGE_KIND_UNSPECIFIED: SeatChangeKind
SEAT_CHANGE_KIND_HELD: SeatChangeKind
SEAT_CHANGE_KIND_RELEASED: SeatChangeKind
SEAT_CHANGE_KIND_EXPIRED: SeatChangeKind
SEAT_CHANGE_KIND_SOLD: SeatChangeKind
SEAT_CHANGE_KIND_RETURNED: SeatChangeKind

class Stop(_message.Message):
    __slots__ = ("code", "name", "minutes_after_departure")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MINUTES_AFTER_DEPARTURE_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    minutes_after_departure: int
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., minutes_after_departure: _Optional[int] = ...) -> None: ...

class Seat(_message.Message):
    __slots__ = ("seat_number", "row", "column", "seat_class")
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    SEAT_CLASS_FIELD_NUMBER: _ClassVar[int]
    seat_number: str
    row: int
    column: int
    seat_class: SeatClass
    def __init__(self, seat_number: _Optional[str] = ..., row: _Optional[int] = ..., column: _Optional[int] = ..., seat_class: _Optional[_Union[SeatClass, str]] = ...) -> None: ...

class Fare(_message.Message):
    __slots__ = ("seat_class", "from_stop", "to_stop", "price")
    SEAT_CLASS_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    seat_class: SeatClass
    from_stop: str
    to_stop: str
    price: _money_pb2.Money
    def __init__(self, seat_class: _Optional[_Union[SeatClass, str]] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class Trip(_message.Message):
    __slots__ = ("trip_id", "operator_id", "route_name", "stops", "departure_time", "seats", "fares", "create_time")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_NAME_FIELD_NUMBER: _ClassVar[int]
    STOPS_FIELD_NUMBER: _ClassVar[int]
    DEPARTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    FARES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    operator_id: str
    route_name: str
    stops: _containers.RepeatedCompositeFieldContainer[Stop]
    departure_time: _timestamp_pb2.Timestamp
    seats: _containers.RepeatedCompositeFieldContainer[Seat]
    fares: _containers.RepeatedCompositeFieldContainer[Fare]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, trip_id: _Optional[str] = ..., operator_id: _Optional[str] = ..., route_name: _Optional[str] = ..., stops: _Optional[_Iterable[_Union[Stop, _Mapping]]] = ..., departure_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seats: _Optional[_Iterable[_Union[Seat, _Mapping]]] = ..., fares: _Optional[_Iterable[_Union[Fare, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SeatAvailability(_message.Message):
    __slots__ = ("seat", "state", "price")
    SEAT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    seat: Seat
    state: SeatState
    price: _money_pb2.Money
    def __init__(self, seat: _Optional[_Union[Seat, _Mapping]] = ..., state: _Optional[_Union[SeatState, str]] = ..., price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class SeatMap(_message.Message):
    __slots__ = ("trip_id", "from_stop", "to_stop", "seats", "read_time", "degraded")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    READ_TIME_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    from_stop: str
    to_stop: str
    seats: _containers.RepeatedCompositeFieldContainer[SeatAvailability]
    read_time: _timestamp_pb2.Timestamp
    degraded: bool
    def __init__(self, trip_id: _Optional[str] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ..., seats: _Optional[_Iterable[_Union[SeatAvailability, _Mapping]]] = ..., read_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., degraded: _Optional[bool] = ...) -> None: ...

class SeatChange(_message.Message):
    __slots__ = ("kind", "seats", "from_stop", "to_stop", "change_time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    kind: SeatChangeKind
    seats: _containers.RepeatedCompositeFieldContainer[SeatAvailability]
    from_stop: str
    to_stop: str
    change_time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[SeatChangeKind, str]] = ..., seats: _Optional[_Iterable[_Union[SeatAvailability, _Mapping]]] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("hold_id", "trip_id", "seat_numbers", "from_stop", "to_stop", "holder_id", "state", "expire_time", "total_price", "booking_id")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    HOLDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    trip_id: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    from_stop: str
    to_stop: str
    holder_id: str
    state: HoldState
    expire_time: _timestamp_pb2.Timestamp
    total_price: _money_pb2.Money
    booking_id: str
    def __init__(self, hold_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ..., holder_id: _Optional[str] = ..., state: _Optional[_Union[HoldState, str]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., total_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., booking_id: _Optional[str] = ...) -> None: ...
