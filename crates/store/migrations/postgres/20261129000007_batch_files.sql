-- The batch channel: files received (the name is unique: the same name
-- twice is refused) and their forms in file order. A form refused at the
-- door (an identifier that does not parse, an employer the sender may not
-- declare for) carries its anomalies here and has no declaration; the
-- others point at the declaration queued for processing.
CREATE TABLE batch_files (
    name        TEXT PRIMARY KEY NOT NULL,
    declarant   TEXT NOT NULL,
    reference   TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    forms       BIGINT NOT NULL
);
CREATE INDEX batch_files_by_declarant ON batch_files (declarant, received_at);

CREATE TABLE batch_forms (
    file_name      TEXT NOT NULL,
    form_index     BIGINT NOT NULL,
    declaration_id TEXT,
    door_anomalies TEXT,
    form           TEXT NOT NULL,
    PRIMARY KEY (file_name, form_index)
);
CREATE INDEX batch_forms_by_declaration ON batch_forms (declaration_id);
