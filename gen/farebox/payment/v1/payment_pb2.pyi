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

class PaymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATUS_UNSPECIFIED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_AUTHORIZED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_DECLINED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_CAPTURED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_VOIDED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_PARTIALLY_REFUNDED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_REFUNDED: _ClassVar[PaymentStatus]

class DeclineReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECLINE_REASON_UNSPECIFIED: _ClassVar[DeclineReason]
    DECLINE_REASON_INSUFFICIENT_FUNDS: _ClassVar[DeclineReason]
    DECLINE_REASON_SUSPECTED_FRAUD: _ClassVar[DeclineReason]
    DECLINE_REASON_INVALID_TOKEN: _ClassVar[DeclineReason]

class PaymentEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_EVENT_TYPE_UNSPECIFIED: _ClassVar[PaymentEventType]
    PAYMENT_EVENT_TYPE_AUTHORIZED: _ClassVar[PaymentEventType]
    PAYMENT_EVENT_TYPE_DECLINED: _ClassVar[PaymentEventType]
    PAYMENT_EVENT_TYPE_CAPTURED: _ClassVar[PaymentEventType]
    PAYMENT_EVENT_TYPE_VOIDED: _ClassVar[PaymentEventType]
    PAYMENT_EVENT_TYPE_REFUNDED: _ClassVar[PaymentEventType]
PAYMENT_STATUS_UNSPECIFIED: PaymentStatus
PAYMENT_STATUS_AUTHORIZED: PaymentStatus
PAYMENT_STATUS_DECLINED: PaymentStatus
PAYMENT_STATUS_CAPTURED: PaymentStatus
PAYMENT_STATUS_VOIDED: PaymentStatus
PAYMENT_STATUS_PARTIALLY_REFUNDED: PaymentStatus
PAYMENT_STATUS_REFUNDED: PaymentStatus
DECLINE_REASON_UNSPECIFIED: DeclineReason
DECLINE_REASON_INSUFFICIENT_FUNDS: DeclineReason
DECLINE_REASON_SUSPECTED_FRAUD: DeclineReason
DECLINE_REASON_INVALID_TOKEN: DeclineReason
PAYMENT_EVENT_TYPE_UNSPECIFIED: PaymentEventType
PAYMENT_EVENT_TYPE_AUTHORIZED: PaymentEventType
PAYMENT_EVENT_TYPE_DECLINED: PaymentEventType
PAYMENT_EVENT_TYPE_CAPTURED: PaymentEventType
PAYMENT_EVENT_TYPE_VOIDED: PaymentEventType
PAYMENT_EVENT_TYPE_REFUNDED: PaymentEventType

class PaymentEvent(_message.Message):
    __slots__ = ("type", "amount", "create_time", "provider_reference")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    type: PaymentEventType
    amount: _money_pb2.Money
    create_time: _timestamp_pb2.Timestamp
    provider_reference: str
    def __init__(self, type: _Optional[_Union[PaymentEventType, str]] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provider_reference: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("payment_id", "booking_reference", "status", "authorized_amount", "captured_amount", "refunded_amount", "decline_reason", "events", "create_time", "update_time")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DECLINE_REASON_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    booking_reference: str
    status: PaymentStatus
    authorized_amount: _money_pb2.Money
    captured_amount: _money_pb2.Money
    refunded_amount: _money_pb2.Money
    decline_reason: DeclineReason
    events: _containers.RepeatedCompositeFieldContainer[PaymentEvent]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, payment_id: _Optional[str] = ..., booking_reference: _Optional[str] = ..., status: _Optional[_Union[PaymentStatus, str]] = ..., authorized_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., captured_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., refunded_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., decline_reason: _Optional[_Union[DeclineReason, str]] = ..., events: _Optional[_Iterable[_Union[PaymentEvent, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
