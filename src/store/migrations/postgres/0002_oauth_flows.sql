-- Pending browser flows (OAuth 2.0 / OAuth 1.0a), as in SQLite's 0002: `state` and the
-- connect-page token only as SHA-256 hashes, the verifier and authorization URL sealed.

CREATE TABLE oauth_flows (
    connection_id   TEXT PRIMARY KEY REFERENCES connections (id),
    state_hash      BYTEA NOT NULL UNIQUE,
    connect_hash    BYTEA NOT NULL UNIQUE,
    app_key         TEXT NOT NULL,
    secrets         BYTEA NOT NULL,
    redirect_after  TEXT,
    expected_issuer TEXT,
    created_at      TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         TEXT
);
CREATE INDEX oauth_flows_expiry ON oauth_flows (expires_at) WHERE used_at IS NULL;
