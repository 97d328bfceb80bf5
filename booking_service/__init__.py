"""Booking: reservations, the confirm saga, cancellations, expiry, signed tickets and booking events."""
