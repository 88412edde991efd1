-- Dimona daily registrations (block 90480 of the batch channel): one day of
-- presence (start date and hour, optional end) of a worker on an existing
-- Dimona period of the employer. Ids come from their own counter, in their
-- own range (DailyRegistrationId::FIRST_SEQUENCE), with the period ids'
-- check digits.
CREATE TABLE dimona_daily_registrations (
    registration_id BIGINT PRIMARY KEY NOT NULL,
    period_id       BIGINT NOT NULL,
    employer_id     BIGINT NOT NULL,
    ssin            TEXT NOT NULL,
    start_date      TEXT NOT NULL,
    start_hour      TEXT NOT NULL,
    end_date        TEXT,
    end_hour        TEXT,
    -- `active` or `cancelled`.
    status          TEXT NOT NULL,
    declaration_id  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX dimona_daily_registrations_by_period ON dimona_daily_registrations (period_id, start_date);

INSERT INTO counters (name, value) VALUES ('daily_registration', 0);

-- A processed daily registration's declaration: the registration it
-- created or changed, and what changed (JSON: attestationStatus, before,
-- after), for the NOTIFICATION's DailyRegistrationDclImpactReport.
ALTER TABLE dimona_declarations ADD COLUMN registration_id BIGINT;
ALTER TABLE dimona_declarations ADD COLUMN registration_impact TEXT;
