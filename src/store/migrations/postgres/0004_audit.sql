-- The audit log and its chain's ends, as in SQLite's 0004 (times in Unix milliseconds).
CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY,
    at_ms         BIGINT NOT NULL,
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
    status        BIGINT,
    detail        TEXT,
    latency_ms    BIGINT,
    mac           BYTEA NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX audit_log_entity ON audit_log (entity_id, seq);
CREATE INDEX audit_log_connection ON audit_log (connection_id, seq);
CREATE INDEX audit_log_key ON audit_log (key_id, seq);

CREATE TABLE audit_chain (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    first_seq  BIGINT NOT NULL,
    first_prev BYTEA NOT NULL,
    last_seq   BIGINT NOT NULL,
    last_mac   BYTEA NOT NULL,
    mac        BYTEA NOT NULL
);
