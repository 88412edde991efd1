-- The personnel file lists an employer's periods in period-id order, a page
-- at a time: an index on (employer_id, period_id) serves it without a sort,
-- and, period ids being numbered, a new period goes at the end of its
-- employer's range; (employer_id, ssin, start_date) took a random page per
-- new period (the SSIN) and could not serve the order.
DROP INDEX dimona_periods_by_employer;
CREATE INDEX dimona_periods_by_employer ON dimona_periods (employer_id, period_id);
