-- Each audit entry moves the chain head itself, and only if it extends the
-- head by exactly one: a group commit is then ONE autocommitted multi-row
-- INSERT (one round trip, one fsync), and a writer whose idea of the head
-- is stale fails instead of forking the chain (it reloads and retries).
-- The UPDATE also row-locks the head until commit, serialising writers.
CREATE FUNCTION audit_log_extends_head() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head BIGINT;
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1 AND seq = NEW.seq - 1 RETURNING seq INTO head;
    IF head IS NULL THEN
        RAISE EXCEPTION 'audit chain head moved' USING ERRCODE = '40001';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_extends_head();
