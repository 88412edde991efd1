-- An institution's references are listed newest first (the portal): by
-- (institution, ssin) the list read and sorted every reference of the
-- institution (0.4 s for ONSS's 400,000 Dimona references), and each new
-- reference took a random page of the index (its SSIN). By registration time
-- the newest are read first, and a new reference goes at the end of its
-- institution's range.
DROP INDEX person_references_by_institution;
CREATE INDEX person_references_by_institution
    ON person_references (institution, registered_at, id);
