-- A pass reads the live periods of its workers that overlap its dates. By
-- (ssin, start_date) alone, every period that began before the window's end
-- matched the range: a day worker's whole history, read again on every pass.
-- By their end, only the open periods and those ending in the window or
-- later are read.
CREATE INDEX dimona_periods_by_person_end ON dimona_periods (ssin, end_date);
