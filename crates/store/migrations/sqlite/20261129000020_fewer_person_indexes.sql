-- Each index keyed by SSIN takes a random page per row written: under a
-- stream of Dimona INs those pages, written to the WAL at every commit and
-- copied back by every checkpoint, made the write volume grow with the file
-- (measured: 0.5 -> 1 MB per pass of 32 INs over 300,000 declarations).
--
-- The audit log is read by person for two kinds only (the access log's
-- messages, a citizen's own reads): partial indexes leave the other entries
-- (a Dimona pass writes one per declaration) out.
DROP INDEX audit_log_by_person;
CREATE INDEX audit_log_messages_by_person ON audit_log (ssin, seq) WHERE kind = 'message';
CREATE INDEX audit_log_self_access_by_person ON audit_log (ssin, seq) WHERE kind = 'self-access';
-- A person's periods are found by (ssin, end_date) (a pass's live periods,
-- the employment source, sorted after): (ssin, start_date) served nothing
-- the other cannot.
DROP INDEX dimona_periods_by_person;
