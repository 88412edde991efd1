-- The worker claims due declarations in (received_at, id) order. The old
-- index stopped at received_at: every form of a batch file shares it, so
-- each claim of 2,048 sorted all the file's pending rows (whole rows,
-- bodies included) to keep the first 2,048. With id in the index the
-- claim reads exactly the rows it takes, in order.
DROP INDEX dimona_declarations_pending;
CREATE INDEX dimona_declarations_pending ON dimona_declarations (processed_at, received_at, id);
