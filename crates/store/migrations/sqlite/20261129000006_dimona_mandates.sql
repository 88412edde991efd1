-- Mandates: a provider (social secretariat, accountant), registered in the
-- employer directory under its own ONSS number, declares on behalf of an
-- employer that gave it a mandate. A revoked mandate stays, marked revoked,
-- so that who could declare for whom, when, remains answerable.
CREATE TABLE dimona_mandates (
    employer_id BIGINT NOT NULL,
    provider_id BIGINT NOT NULL,
    granted_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    PRIMARY KEY (employer_id, provider_id)
);
CREATE INDEX dimona_mandates_by_provider ON dimona_mandates (provider_id);
