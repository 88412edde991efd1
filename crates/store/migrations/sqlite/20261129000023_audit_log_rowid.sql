-- audit_log's seq becomes the table's rowid (INTEGER PRIMARY KEY).
--
-- Declared BIGINT PRIMARY KEY, seq was an ordinary column with a unique
-- index of its own beside the table's hidden rowid: every append wrote two
-- b-trees ordered the same way, and every group commit wrote both trees'
-- last pages to the WAL (and the checkpointer copied them back). Now the
-- table is ordered by seq itself. Same columns, same order, same rows.
CREATE TABLE audit_log_by_seq (
    seq           INTEGER PRIMARY KEY NOT NULL,
    ticket        TEXT NOT NULL UNIQUE,
    at            BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    service       TEXT,
    purpose       TEXT,
    ssin          TEXT,
    outcome       TEXT NOT NULL,
    detail        TEXT,
    answer_digest BLOB,
    hash          BLOB NOT NULL
);
INSERT INTO audit_log_by_seq (seq, ticket, at, kind, actor, service, purpose, ssin, outcome,
                              detail, answer_digest, hash)
    SELECT seq, ticket, at, kind, actor, service, purpose, ssin, outcome, detail,
           answer_digest, hash
    FROM audit_log ORDER BY seq;
-- Takes its trigger with it.
DROP TABLE audit_log;
ALTER TABLE audit_log_by_seq RENAME TO audit_log;

-- As 20261129000003_audit_head_trigger.sql.
CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit chain head moved')
    WHERE NEW.seq <> (SELECT seq FROM audit_head WHERE id = 1) + 1;
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;
