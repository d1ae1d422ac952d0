-- The audit log: an append-only record of credential uses, lifecycle changes and key events.
-- Each record's `mac` chains it to the one before (HMAC-SHA256 under a key derived from the
-- vault's data key, over the previous MAC and the record's fields), so rows edited, removed
-- or reordered by someone without the passphrase no longer verify. No column holds a
-- credential, a body or a query value.
CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    at_ms         INTEGER NOT NULL,
    event         TEXT NOT NULL,
    key_id        TEXT,
    key_name      TEXT,
    entity_id     TEXT,
    connection_id TEXT,
    app_key       TEXT,
    action        TEXT,
    method        TEXT,
    host          TEXT,
    path          TEXT,
    outcome       TEXT NOT NULL,
    status        INTEGER,
    detail        TEXT,
    latency_ms    INTEGER,
    mac           BLOB NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX audit_log_entity ON audit_log (entity_id, seq);
CREATE INDEX audit_log_connection ON audit_log (connection_id, seq);
CREATE INDEX audit_log_key ON audit_log (key_id, seq);

-- The chain's two ends, in one MAC'd row: the first record kept (after pruning) with the MAC
-- it chains from, and the last record written with its MAC. Truncating either end without
-- the key shows.
CREATE TABLE audit_chain (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    first_seq  INTEGER NOT NULL,
    first_prev BLOB NOT NULL,
    last_seq   INTEGER NOT NULL,
    last_mac   BLOB NOT NULL,
    mac        BLOB NOT NULL
);
