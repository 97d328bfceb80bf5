-- Trips, holds and sales of the seat inventory. PostgreSQL is the final arbiter of every sale:
-- seat_sales has one row per sold (trip, seat, segment) under its primary key.

CREATE TABLE trips (
    trip_id text PRIMARY KEY,
    operator_id text NOT NULL,
    route_name text NOT NULL,
    departure_time timestamptz NOT NULL,
    stop_codes text[] NOT NULL,
    stops jsonb NOT NULL,
    seats jsonb NOT NULL,
    fares jsonb NOT NULL,
    currency_code text NOT NULL,
    request_hash text NOT NULL,
    -- The generation of the trip's Redis index; a rebuild changes it under a row lock.
    index_epoch text,
    create_time timestamptz NOT NULL
);

CREATE INDEX trips_by_departure ON trips (departure_time, trip_id);

CREATE TABLE seat_holds (
    hold_id text PRIMARY KEY,
    trip_id text NOT NULL REFERENCES trips (trip_id),
    holder_id text NOT NULL,
    request_id text NOT NULL,
    seat_numbers text[] NOT NULL,
    from_index smallint NOT NULL,
    to_index smallint NOT NULL,
    state text NOT NULL,
    expire_time timestamptz NOT NULL,
    total_minor bigint NOT NULL,
    currency_code text NOT NULL,
    booking_id text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    CONSTRAINT seat_holds_state CHECK (state IN ('ACTIVE', 'COMMITTED', 'RELEASED', 'EXPIRED')),
    CONSTRAINT seat_holds_span CHECK (0 <= from_index AND from_index < to_index),
    CONSTRAINT seat_holds_seats CHECK (cardinality(seat_numbers) > 0)
);

CREATE INDEX seat_holds_active_by_expiry ON seat_holds (expire_time) WHERE state = 'ACTIVE';
CREATE INDEX seat_holds_active_by_trip ON seat_holds (trip_id) WHERE state = 'ACTIVE';

CREATE TABLE seat_sales (
    trip_id text NOT NULL REFERENCES trips (trip_id),
    seat_number text NOT NULL,
    segment smallint NOT NULL,
    hold_id text NOT NULL REFERENCES seat_holds (hold_id),
    booking_id text NOT NULL,
    sold_at timestamptz NOT NULL,
    CONSTRAINT seat_sales_one_sale_per_seat_segment PRIMARY KEY (trip_id, seat_number, segment)
);

CREATE INDEX seat_sales_by_booking ON seat_sales (booking_id);
CREATE INDEX seat_sales_by_hold ON seat_sales (hold_id);

-- Sales of cancelled bookings, moved here when their seats go back to stock.
CREATE TABLE seat_returns (
    trip_id text NOT NULL,
    seat_number text NOT NULL,
    segment smallint NOT NULL,
    hold_id text NOT NULL REFERENCES seat_holds (hold_id),
    booking_id text NOT NULL,
    sold_at timestamptz NOT NULL,
    returned_at timestamptz NOT NULL
);

CREATE INDEX seat_returns_by_booking ON seat_returns (booking_id);
