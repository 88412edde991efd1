-- The employer's mailbox: every processed declaration is a notice, numbered
-- in processing order (a counter updated in the processing transaction, so
-- a reader following the numbers never skips one).
ALTER TABLE dimona_declarations ADD COLUMN notice_seq BIGINT;
CREATE INDEX dimona_notices ON dimona_declarations (employer_id, notice_seq);
INSERT INTO counters (name, value) VALUES ('dimona_notice', 0);
