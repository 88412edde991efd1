-- The portal: server-side sessions and citizens' correction requests.
-- (Version 000010 and up: 000006-000009 are reserved for main's batch work.)

-- One row per signed-in browser. Only the SHA-256 of the cookie value is
-- stored, so a copy of the table does not let anyone sign in.
CREATE TABLE portal_sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL,
    principal  TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
CREATE INDEX portal_sessions_by_user ON portal_sessions (user_id);

-- A person asks the authentic source that validates some data of theirs
-- to correct it; the institution answers by moving the status on.
CREATE TABLE correction_requests (
    id          TEXT PRIMARY KEY NOT NULL,
    ssin        TEXT NOT NULL,
    topic       TEXT NOT NULL,
    institution TEXT NOT NULL,
    message     TEXT NOT NULL,
    status      TEXT NOT NULL,
    answer      TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX correction_requests_by_person ON correction_requests (ssin, created_at);
CREATE INDEX correction_requests_by_institution ON correction_requests (institution, created_at);
