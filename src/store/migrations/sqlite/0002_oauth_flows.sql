-- Pending browser flows (OAuth 2.0 / OAuth 1.0a): one per INITIATED connection. `state` and
-- the connect-page token are stored only as SHA-256 hashes; the PKCE verifier and the
-- authorization URL (which carries the state) are sealed in `secrets`.

CREATE TABLE oauth_flows (
    connection_id   TEXT PRIMARY KEY REFERENCES connections (id),
    state_hash      BLOB NOT NULL UNIQUE,
    connect_hash    BLOB NOT NULL UNIQUE,
    app_key         TEXT NOT NULL,
    secrets         BLOB NOT NULL,
    redirect_after  TEXT,
    expected_issuer TEXT,
    created_at      TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         TEXT
);
CREATE INDEX oauth_flows_expiry ON oauth_flows (expires_at) WHERE used_at IS NULL;
