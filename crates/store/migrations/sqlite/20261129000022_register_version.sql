-- A counter of changes to the National Register and the reference
-- directory (SQLite only: read by the register cache, register_cache.rs).
--
-- The hub's preventive check and its `identification` answer read a person
-- and their references for every message. On SQLite, every commit (the
-- audit log's group commits: hundreds per second) empties the page cache of
-- every other connection, so each of those reads went back to the file: 40
-- microseconds a message, a quarter of its cost (docs/benchmarks.md,
-- session 11). The process now keeps what it read in memory, tagged with
-- this counter, which the triggers move in the same transaction as any
-- change to these tables, whoever makes it (this server, another process,
-- the CLI). A read compares the counter first: one row, on a page that only
-- these changes touch.
CREATE TABLE register_version (
    id      BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO register_version (id, version) VALUES (1, 0);

CREATE TRIGGER register_version_person_insert AFTER INSERT ON persons
BEGIN UPDATE register_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER register_version_person_update AFTER UPDATE ON persons
BEGIN UPDATE register_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER register_version_person_delete AFTER DELETE ON persons
BEGIN UPDATE register_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER register_version_reference_insert AFTER INSERT ON person_references
BEGIN UPDATE register_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER register_version_reference_update AFTER UPDATE ON person_references
BEGIN UPDATE register_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER register_version_reference_delete AFTER DELETE ON person_references
BEGIN UPDATE register_version SET version = version + 1 WHERE id = 1; END;
