-- SQLite only: the register version read by the register cache
-- (store/src/register_cache.rs) exists to spare SQLite readers the page
-- cache that every commit empties. PostgreSQL keeps its buffers across
-- commits and answers the hub's lookups in batches through the pool, so it
-- needs no cache; and a counter row moved by every change to persons or
-- references would serialize the writers of every server node on it.
-- This file keeps the two migration folders in step.
SELECT 1;
