-- Failed processing attempts of a declaration: after a few, it is
-- finished as refused (KP000-001) instead of blocking its file's
-- NOTIFICATION and being retried forever.
ALTER TABLE dimona_declarations ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
