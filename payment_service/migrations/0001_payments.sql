-- The payment ledger: one row per payment with its running amounts, and an append-only event table.
-- Constraints make impossible states unrepresentable: negative amounts, refunded > captured,
-- captured > authorized, and amounts that contradict the status.
CREATE TABLE payments (
    payment_id text PRIMARY KEY,
    caller_scope text NOT NULL,
    authorization_request_id text NOT NULL,
    booking_reference text NOT NULL CHECK (booking_reference <> ''),
    status text NOT NULL CHECK (
        status IN ('AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED', 'PARTIALLY_REFUNDED', 'REFUNDED')
    ),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    requested_minor bigint NOT NULL CHECK (requested_minor > 0),
    authorized_minor bigint NOT NULL CHECK (authorized_minor >= 0),
    captured_minor bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
    refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    decline_reason text CHECK (decline_reason IN ('INSUFFICIENT_FUNDS', 'SUSPECTED_FRAUD', 'INVALID_TOKEN')),
    provider text NOT NULL,
    provider_reference text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The caller's authorization key finds the payment again (GetPayment, retries after a crash).
    UNIQUE (caller_scope, authorization_request_id),
    CONSTRAINT payments_captured_within_authorized CHECK (captured_minor <= authorized_minor),
    CONSTRAINT payments_refunded_within_captured CHECK (refunded_minor <= captured_minor),
    CONSTRAINT payments_authorized_is_requested CHECK (
        authorized_minor = CASE WHEN status = 'DECLINED' THEN 0 ELSE requested_minor END
    ),
    CONSTRAINT payments_declined_has_reason CHECK ((status = 'DECLINED') = (decline_reason IS NOT NULL)),
    CONSTRAINT payments_amounts_match_status CHECK (
        CASE status
            WHEN 'AUTHORIZED' THEN captured_minor = 0 AND refunded_minor = 0
            WHEN 'DECLINED' THEN captured_minor = 0 AND refunded_minor = 0
            WHEN 'VOIDED' THEN captured_minor = 0 AND refunded_minor = 0
            WHEN 'CAPTURED' THEN captured_minor > 0 AND refunded_minor = 0
            WHEN 'PARTIALLY_REFUNDED' THEN refunded_minor > 0 AND refunded_minor < captured_minor
            WHEN 'REFUNDED' THEN captured_minor > 0 AND refunded_minor = captured_minor
        END
    )
);

CREATE INDEX payments_booking_reference ON payments (booking_reference);

-- One row per state change, never updated or deleted. request_id is the caller's key for the
-- change, so a change repeated after a crash is recognised instead of applied twice.
CREATE TABLE payment_events (
    event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id text NOT NULL REFERENCES payments (payment_id) ON DELETE RESTRICT,
    type text NOT NULL CHECK (type IN ('AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED', 'REFUNDED')),
    amount_minor bigint NOT NULL,
    provider_reference text NOT NULL,
    request_id text NOT NULL,
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (payment_id, type, request_id),
    CONSTRAINT payment_events_amount_matches_type CHECK (
        CASE WHEN type IN ('DECLINED', 'VOIDED') THEN amount_minor = 0 ELSE amount_minor > 0 END
    )
);

CREATE FUNCTION payment_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'payment_events is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER payment_events_append_only
    BEFORE UPDATE OR DELETE ON payment_events
    FOR EACH ROW EXECUTE FUNCTION payment_events_refuse_change();

CREATE TRIGGER payment_events_no_truncate
    BEFORE TRUNCATE ON payment_events
    FOR EACH STATEMENT EXECUTE FUNCTION payment_events_refuse_change();
