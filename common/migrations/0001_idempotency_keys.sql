-- Idempotency records of every keyed RPC of every service (common.idempotency).
-- A key is (caller scope, full method, request_id). IN_PROGRESS records carry an owner and a lease,
-- so a crashed owner's key can be taken over; COMPLETED records carry the stored answer: either a
-- serialized response or a serialized google.rpc.Status of a non-retryable error, never both.
CREATE TABLE idempotency_keys (
    scope text NOT NULL,
    method text NOT NULL,
    request_id text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 256),
    status text NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETED')),
    payload_hash bytea NOT NULL CHECK (octet_length(payload_hash) = 32),
    owner uuid,
    lease_expires_at timestamptz,
    response bytea,
    error_status bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (scope, method, request_id),
    CONSTRAINT idempotency_keys_in_progress_has_lease CHECK (
        status <> 'IN_PROGRESS'
        OR (owner IS NOT NULL AND lease_expires_at IS NOT NULL AND response IS NULL AND error_status IS NULL)
    ),
    CONSTRAINT idempotency_keys_completed_has_one_answer CHECK (
        status <> 'COMPLETED'
        OR (completed_at IS NOT NULL AND (response IS NULL) <> (error_status IS NULL))
    )
);

-- The purge deletes by age.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
