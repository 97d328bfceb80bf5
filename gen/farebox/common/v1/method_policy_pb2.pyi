from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_TRAVELLER: _ClassVar[Role]
    ROLE_OPERATOR: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
    ROLE_SERVICE: _ClassVar[Role]

class Idempotency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDEMPOTENCY_UNSPECIFIED: _ClassVar[Idempotency]
    IDEMPOTENCY_NO_SIDE_EFFECTS: _ClassVar[Idempotency]
    IDEMPOTENCY_KEYED: _ClassVar[Idempotency]
    IDEMPOTENCY_KEYED_BY_HANDLER: _ClassVar[Idempotency]

class RateLimitClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RATE_LIMIT_CLASS_UNSPECIFIED: _ClassVar[RateLimitClass]
    RATE_LIMIT_CLASS_BROWSE: _ClassVar[RateLimitClass]
    RATE_LIMIT_CLASS_BOOKING: _ClassVar[RateLimitClass]
    RATE_LIMIT_CLASS_ADMIN: _ClassVar[RateLimitClass]
    RATE_LIMIT_CLASS_INTERNAL: _ClassVar[RateLimitClass]
ROLE_UNSPECIFIED: Role
ROLE_TRAVELLER: Role
ROLE_OPERATOR: Role
ROLE_ADMIN: Role
ROLE_SERVICE: Role
IDEMPOTENCY_UNSPECIFIED: Idempotency
IDEMPOTENCY_NO_SIDE_EFFECTS: Idempotency
IDEMPOTENCY_KEYED: Idempotency
IDEMPOTENCY_KEYED_BY_HANDLER: Idempotency
RATE_LIMIT_CLASS_UNSPECIFIED: RateLimitClass
RATE_LIMIT_CLASS_BROWSE: RateLimitClass
RATE_LIMIT_CLASS_BOOKING: RateLimitClass
RATE_LIMIT_CLASS_ADMIN: RateLimitClass
RATE_LIMIT_CLASS_INTERNAL: RateLimitClass
POLICY_FIELD_NUMBER: _ClassVar[int]
policy: _descriptor.FieldDescriptor

class MethodPolicy(_message.Message):
    __slots__ = ("roles", "allow_anonymous", "idempotency", "rate_limit_class")
    ROLES_FIELD_NUMBER: _ClassVar[int]
    ALLOW_ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_CLASS_FIELD_NUMBER: _ClassVar[int]
    roles: _containers.RepeatedScalarFieldContainer[Role]
    allow_anonymous: bool
    idempotency: Idempotency
    rate_limit_class: RateLimitClass
    def __init__(self, roles: _Optional[_Iterable[_Union[Role, str]]] = ..., allow_anonymous: _Optional[bool] = ..., idempotency: _Optional[_Union[Idempotency, str]] = ..., rate_limit_class: _Optional[_Union[RateLimitClass, str]] = ...) -> None: ...
