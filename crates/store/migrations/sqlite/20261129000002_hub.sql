-- The hub: verifiable audit log, mutation notifications with a durable
-- webhook outbox, external service providers.

-- One row per audited event (message forwarded or refused, state change).
-- hash = SHA-256 over (prev hash, seq, every field): each entry commits to
-- its predecessor, so altering, removing or reordering rows is detectable.
CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY NOT NULL,
    ticket        TEXT NOT NULL UNIQUE,
    at            BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    service       TEXT,
    purpose       TEXT,
    ssin          TEXT,
    outcome       TEXT NOT NULL,
    detail        TEXT,
    answer_digest BLOB,
    hash          BLOB NOT NULL
);
CREATE INDEX audit_log_by_person ON audit_log (ssin, seq);

-- The chain head; its row lock serialises appends across server processes.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY NOT NULL,
    seq  BIGINT NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, X'0000000000000000000000000000000000000000000000000000000000000000');

-- Periodic signed statements "the chain up to seq has this hash".
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY NOT NULL,
    hash      BLOB NOT NULL,
    at        BIGINT NOT NULL,
    kid       TEXT NOT NULL,
    signature BLOB NOT NULL
);

-- The hub's Ed25519 keys for checkpoints and webhook signatures.
CREATE TABLE hub_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    private_key BLOB NOT NULL,
    public_key  BLOB NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Monotonic counters updated under the row lock of the writing transaction,
-- so values become visible in commit order (a feed cursor never skips).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('notifications', 0);
-- Last notification cursor published to NATS JetStream (with --nats).
INSERT INTO counters (name, value) VALUES ('nats_published', 0);

CREATE TABLE notifications (
    cursor      BIGINT PRIMARY KEY NOT NULL,
    institution TEXT NOT NULL,
    kind        TEXT NOT NULL,
    ssin        TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX notifications_feed ON notifications (institution, cursor);

-- The webhook outbox: one row per notification for an institution with a
-- webhook; at-least-once delivery with backoff.
CREATE TABLE webhook_deliveries (
    cursor          BIGINT PRIMARY KEY NOT NULL,
    institution     TEXT NOT NULL,
    url             TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (delivered_at, next_attempt_at);

-- External providers: an institution serving a service at an endpoint.
CREATE TABLE service_providers (
    service     TEXT PRIMARY KEY NOT NULL,
    institution TEXT NOT NULL REFERENCES institutions(code),
    endpoint    TEXT NOT NULL,
    registered_at BIGINT NOT NULL
);
