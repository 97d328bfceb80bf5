-- Bookings, their durable sagas, their tickets and the outbox of booking events.

CREATE TABLE bookings (
    booking_id text PRIMARY KEY,
    owner_id text NOT NULL,
    request_id text NOT NULL,
    trip_id text NOT NULL,
    seat_numbers text[] NOT NULL CHECK (cardinality(seat_numbers) > 0),
    from_stop text NOT NULL,
    to_stop text NOT NULL,
    passengers jsonb NOT NULL,
    total_amount_minor bigint NOT NULL CHECK (total_amount_minor >= 0),
    currency_code text NOT NULL,
    status text NOT NULL CHECK (
        status IN ('PENDING', 'CONFIRMING', 'CONFIRMED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED')
    ),
    hold_id text NOT NULL,
    hold_expire_time timestamptz NOT NULL,
    failure_reason text NOT NULL DEFAULT '',
    cancel_reason text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL DEFAULT clock_timestamp(),
    update_time timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (owner_id, request_id)
);

CREATE INDEX bookings_owner_newest ON bookings (owner_id, create_time DESC, booking_id DESC);
CREATE INDEX bookings_holding ON bookings (hold_expire_time)
    WHERE status IN ('PENDING', 'PAYMENT_FAILED');

-- One row per confirm or cancel saga: the next step is written before it is taken.
CREATE TABLE booking_sagas (
    saga_id text PRIMARY KEY,
    booking_id text NOT NULL REFERENCES bookings (booking_id),
    attempt integer NOT NULL CHECK (attempt > 0),
    kind text NOT NULL CHECK (kind IN ('CONFIRM', 'CANCEL')),
    step text NOT NULL CHECK (
        step IN ('AUTHORIZE', 'COMMIT_HOLD', 'CAPTURE', 'RESOLVE', 'RETURN_PAYMENT', 'RELEASE_SEATS', 'DONE')
    ),
    request_id text NOT NULL,
    payment_request_id text NOT NULL DEFAULT '',
    payment_token text,
    payment_id text NOT NULL DEFAULT '',
    release_seats boolean NOT NULL DEFAULT false,
    target_status text,
    outcome text NOT NULL DEFAULT '',
    failure_reason text NOT NULL DEFAULT '',
    failures integer NOT NULL DEFAULT 0,
    lease_owner text NOT NULL DEFAULT '',
    lease_until timestamptz NOT NULL,
    create_time timestamptz NOT NULL DEFAULT clock_timestamp(),
    update_time timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (booking_id, attempt),
    CHECK (step <> 'DONE' OR payment_token IS NULL)
);

CREATE UNIQUE INDEX booking_sagas_payment_key ON booking_sagas (payment_request_id)
    WHERE payment_request_id <> '';
CREATE INDEX booking_sagas_open ON booking_sagas (lease_until) WHERE step <> 'DONE';
CREATE INDEX booking_sagas_request ON booking_sagas (booking_id, request_id);

CREATE TABLE booking_tickets (
    ticket_id text PRIMARY KEY,
    booking_id text NOT NULL REFERENCES bookings (booking_id),
    seat_number text NOT NULL,
    passenger_name text NOT NULL,
    code text NOT NULL,
    issue_time timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (booking_id, seat_number)
);

-- Events are written in the transaction of the change; a relay publishes them in seq order.
CREATE TABLE booking_outbox (
    seq bigserial PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    booking_id text NOT NULL,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    create_time timestamptz NOT NULL DEFAULT clock_timestamp(),
    publish_time timestamptz
);

CREATE INDEX booking_outbox_unpublished ON booking_outbox (seq) WHERE publish_time IS NULL;
