"""Whose trips a caller creates and sees: an operator sees and changes only the trips of its tenant.

Travellers, services, admins and anonymous callers see every trip. A caller with ROLE_OPERATOR (and
not ROLE_ADMIN) sees only the trips of its tenant, the `tenant` claim of its token; another
operator's trip is NOT_FOUND to it, exactly like a trip that does not exist.
"""

from __future__ import annotations

from common.policy import Role
from common.request_context import Principal

ALL_OPERATORS = ""


def trip_owner(principal: Principal) -> str:
    """The operator a trip created by this caller belongs to: its tenant, else its subject."""
    return principal.tenant or principal.subject


def visible_operator(principal: Principal) -> str:
    """The operator whose trips alone the caller may see, or ALL_OPERATORS."""
    if Role.ROLE_OPERATOR in principal.roles and Role.ROLE_ADMIN not in principal.roles:
        return trip_owner(principal)
    return ALL_OPERATORS
