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

class BookingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOKING_STATUS_UNSPECIFIED: _ClassVar[BookingStatus]
    BOOKING_STATUS_PENDING: _ClassVar[BookingStatus]
    BOOKING_STATUS_CONFIRMING: _ClassVar[BookingStatus]
    BOOKING_STATUS_CONFIRMED: _ClassVar[BookingStatus]
    BOOKING_STATUS_PAYMENT_FAILED: _ClassVar[BookingStatus]
    BOOKING_STATUS_CANCELLED: _ClassVar[BookingStatus]
    BOOKING_STATUS_EXPIRED: _ClassVar[BookingStatus]
BOOKING_STATUS_UNSPECIFIED: BookingStatus
BOOKING_STATUS_PENDING: BookingStatus
BOOKING_STATUS_CONFIRMING: BookingStatus
BOOKING_STATUS_CONFIRMED: BookingStatus
BOOKING_STATUS_PAYMENT_FAILED: BookingStatus
BOOKING_STATUS_CANCELLED: BookingStatus
BOOKING_STATUS_EXPIRED: BookingStatus

class Passenger(_message.Message):
    __slots__ = ("full_name", "seat_number")
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    full_name: str
    seat_number: str
    def __init__(self, full_name: _Optional[str] = ..., seat_number: _Optional[str] = ...) -> None: ...

class Ticket(_message.Message):
    __slots__ = ("ticket_id", "seat_number", "passenger_name", "code")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    seat_number: str
    passenger_name: str
    code: str
    def __init__(self, ticket_id: _Optional[str] = ..., seat_number: _Optional[str] = ..., passenger_name: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class Booking(_message.Message):
    __slots__ = ("booking_id", "owner_id", "trip_id", "seat_numbers", "from_stop", "to_stop", "passengers", "total_price", "status", "hold_expire_time", "tickets", "failure_reason", "create_time", "update_time")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HOLD_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    owner_id: str
    trip_id: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    from_stop: str
    to_stop: str
    passengers: _containers.RepeatedCompositeFieldContainer[Passenger]
    total_price: _money_pb2.Money
    status: BookingStatus
    hold_expire_time: _timestamp_pb2.Timestamp
    tickets: _containers.RepeatedCompositeFieldContainer[Ticket]
    failure_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, booking_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ..., passengers: _Optional[_Iterable[_Union[Passenger, _Mapping]]] = ..., total_price: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[BookingStatus, str]] = ..., hold_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tickets: _Optional[_Iterable[_Union[Ticket, _Mapping]]] = ..., failure_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
