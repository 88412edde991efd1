-- Dimona declaration ids are numbered (in blocks per process, see
-- `Dimona::new_ids`) instead of drawn at random: a random primary key put
-- every declaration into a random page of its index, one more page to
-- write per declaration at each commit. Numbering starts above every id
-- already given (the random 15-digit ids of earlier versions), so none
-- repeats; other ids (none are generated) are left out of the maximum.
INSERT INTO counters (name, value) VALUES ('dimona_declaration',
    COALESCE((SELECT MAX(CAST(id AS BIGINT)) FROM dimona_declarations
              WHERE id ~ '^[0-9]{15}$') - 100000000000000, 0));
