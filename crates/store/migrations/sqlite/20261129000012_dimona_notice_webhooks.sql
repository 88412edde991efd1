-- Employers' notice webhooks: where an employer's Dimona notices are POSTed,
-- one URL per employer, set by the employer or by a provider it mandates
-- (`registered_by`, an ONSS number). Changes are audited.
CREATE TABLE employer_webhooks (
    employer_id   BIGINT PRIMARY KEY NOT NULL,
    url           TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    registered_by BIGINT NOT NULL
);

-- The notice webhook outbox: one row per notice of an employer with a
-- webhook, written in the transaction that processes the declaration;
-- delivered at least once, signed, with backoff (like webhook_deliveries).
CREATE TABLE dimona_notice_deliveries (
    notice_seq      BIGINT PRIMARY KEY NOT NULL,
    employer_id     BIGINT NOT NULL,
    url             TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX dimona_notice_deliveries_due ON dimona_notice_deliveries (delivered_at, next_attempt_at);
CREATE INDEX dimona_notice_deliveries_by_employer ON dimona_notice_deliveries (employer_id, delivered_at);
