-- Each audit entry moves the chain head itself, and only if it extends the
-- head by exactly one: a group commit is then ONE autocommitted multi-row
-- INSERT (one round trip, one fsync), and a writer whose idea of the head
-- is stale fails instead of forking the chain (it reloads and retries).
CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit chain head moved')
    WHERE NEW.seq <> (SELECT seq FROM audit_head WHERE id = 1) + 1;
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;
