-- Foundation: authentic-source registers, institutions, sectors, OAuth2
-- clients, signing keys, portal users. Timestamps are epoch milliseconds
-- (BIGINT), dates are 'YYYY-MM-DD' text, identifiers are text or BIGINT.

-- Flags are BIGINT 0/1 and every integer is BIGINT: sqlx Any decodes
-- these identically on both backends (it has no SQLite BOOLEAN mapping).
CREATE TABLE persons (
    ssin          TEXT PRIMARY KEY NOT NULL,
    last_name     TEXT NOT NULL,
    first_name    TEXT NOT NULL,
    birth_date    TEXT,
    sex           TEXT,
    nationality   TEXT,
    street        TEXT,
    house_number  TEXT,
    postal_code   TEXT,
    municipality  TEXT,
    country       TEXT,
    death_date    TEXT,
    is_bis        BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
) WITHOUT ROWID;

CREATE TABLE employers (
    employer_id       BIGINT PRIMARY KEY NOT NULL,
    enterprise_number TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    joint_committee   TEXT,
    street            TEXT,
    house_number      TEXT,
    postal_code       TEXT,
    municipality      TEXT,
    country           TEXT,
    active            BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE sectors (
    sector BIGINT PRIMARY KEY NOT NULL,
    name   TEXT NOT NULL
);

CREATE TABLE capacities (
    sector   BIGINT NOT NULL,
    capacity BIGINT NOT NULL,
    label    TEXT NOT NULL,
    PRIMARY KEY (sector, capacity)
);

CREATE TABLE institutions (
    code        TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    sector      BIGINT,
    webhook_url TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE authorizations (
    id                TEXT PRIMARY KEY NOT NULL,
    institution       TEXT NOT NULL REFERENCES institutions(code),
    service           TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    integration_check BIGINT NOT NULL,
    deliberation      TEXT,
    valid_from        TEXT NOT NULL,
    valid_to          TEXT,
    granted_at        BIGINT NOT NULL,
    revoked_at        BIGINT
);
CREATE INDEX authorizations_lookup ON authorizations (institution, service, purpose);

-- The persons part of the reference directory: which institution holds a
-- file on which person, in which capacity, for which period.
CREATE TABLE person_references (
    id              TEXT PRIMARY KEY NOT NULL,
    institution     TEXT NOT NULL REFERENCES institutions(code),
    ssin            TEXT NOT NULL,
    capacity        BIGINT NOT NULL,
    start_date      TEXT NOT NULL,
    end_date        TEXT,
    registered_at   BIGINT NOT NULL,
    unregistered_at BIGINT
);
CREATE INDEX person_references_by_person ON person_references (ssin, institution);
CREATE INDEX person_references_by_institution ON person_references (institution, ssin);

CREATE TABLE oauth_clients (
    client_id      TEXT PRIMARY KEY NOT NULL,
    principal      TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    algorithm      TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    disabled_at    BIGINT
);

-- Seen client-assertion ids, kept until the assertion expires: a replayed
-- assertion fails the primary key.
CREATE TABLE assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jtis_expiry ON assertion_jtis (expires_at);

CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY NOT NULL,
    algorithm     TEXT NOT NULL,
    private_key   BLOB NOT NULL,
    public_der    BLOB NOT NULL,
    created_at    BIGINT NOT NULL,
    retired_at    BIGINT
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    principal     TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT
);
