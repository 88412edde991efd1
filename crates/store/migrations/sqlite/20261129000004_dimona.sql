-- Dimona: declarations as received (the durable queue) and the periods
-- they create (the personnel file).
CREATE TABLE dimona_declarations (
    id           TEXT PRIMARY KEY NOT NULL,
    employer_id  BIGINT NOT NULL,
    declarant    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    ssin         TEXT,
    body         TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    lease_until  BIGINT,
    processed_at BIGINT,
    result       TEXT,
    period_id    BIGINT,
    anomalies    TEXT,
    worker       TEXT
);
CREATE INDEX dimona_declarations_pending ON dimona_declarations (processed_at, received_at);

CREATE TABLE dimona_periods (
    period_id       BIGINT PRIMARY KEY NOT NULL,
    employer_id     BIGINT NOT NULL,
    ssin            TEXT NOT NULL,
    worker_type     TEXT NOT NULL,
    joint_committee TEXT NOT NULL,
    start_date      TEXT NOT NULL,
    end_date        TEXT,
    start_hour      TEXT,
    end_hour        TEXT,
    planned_hours   BIGINT,
    status          TEXT NOT NULL,
    declaration_id  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX dimona_periods_by_employer ON dimona_periods (employer_id, ssin, start_date);
CREATE INDEX dimona_periods_by_person ON dimona_periods (ssin, start_date);

INSERT INTO counters (name, value) VALUES ('dimona_period', 0);
