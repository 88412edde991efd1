-- The audit log's index by person, written behind the log in bulk.
--
-- An index on audit_log keyed by SSIN took a random page per message at
-- every group commit: written to the WAL, copied back by every checkpoint,
-- and on a grown log the largest part of what a message cost (measured,
-- docs/benchmarks.md session 10: 6,500 -> 9,100 msg/s without it). The
-- hub's indexer (Store::index_audit_by_person) now adds a run of entries at
-- a time, sorted by person, so one page takes all of a run's entries about
-- the people on it. audit_index_progress says up to which seq it has
-- indexed; readers take the entries above it from the log itself (a range
-- of seq, bounded by the indexer's lag), so nothing is ever missing.
CREATE TABLE audit_by_person (
    ssin TEXT NOT NULL,
    seq  BIGINT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (ssin, seq)
);

CREATE TABLE audit_index_progress (
    id         BIGINT PRIMARY KEY NOT NULL,
    indexed_to BIGINT NOT NULL
);

INSERT INTO audit_by_person (ssin, seq, kind)
    SELECT ssin, seq, kind FROM audit_log
    WHERE ssin IS NOT NULL AND kind IN ('message', 'self-access');
INSERT INTO audit_index_progress (id, indexed_to)
    SELECT 1, COALESCE(MAX(seq), 0) FROM audit_log;

DROP INDEX audit_log_messages_by_person;
DROP INDEX audit_log_self_access_by_person;
