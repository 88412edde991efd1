-- SQLite only: audit_log's seq becomes the SQLite table's rowid, which
-- spares it a second b-tree ordered by seq. A PostgreSQL table is a heap
-- beside its primary key's index whatever the key is declared as; nothing
-- to change here (kept so both backends' migrations stay numbered alike).
SELECT 1;
