-- keyport schema, version 1, for PostgreSQL: the same tables as SQLite's, column for column.
-- Secret material lives only in the `secrets` BYTEA columns, each a blob sealed by the vault
-- with AAD naming table, row and column. JSON is kept as the text keyport wrote (TEXT, not
-- JSONB), so a row reads back byte for byte as it does from SQLite.

CREATE TABLE vault (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    header        BYTEA NOT NULL,
    header_sha256 BYTEA NOT NULL,
    wrapped_dek   BYTEA NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE integrations (
    id          TEXT PRIMARY KEY,
    app_key     TEXT NOT NULL,
    name        TEXT NOT NULL,
    auth_scheme TEXT NOT NULL,
    config      TEXT NOT NULL,
    secret_keys TEXT NOT NULL DEFAULT '[]',
    secrets     BYTEA,
    scopes      TEXT NOT NULL DEFAULT '[]',
    base_url    TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    deleted     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX integrations_app ON integrations (app_key, created_at);

CREATE TABLE entities (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);

CREATE TABLE connections (
    id             TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL REFERENCES integrations (id),
    entity_id      TEXT NOT NULL REFERENCES entities (id),
    app_key        TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_reason  TEXT,
    labels         TEXT NOT NULL DEFAULT '[]',
    params         TEXT NOT NULL DEFAULT '{}',
    secret_keys    TEXT NOT NULL DEFAULT '[]',
    secrets        BYTEA,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX connections_entity ON connections (entity_id, created_at);
CREATE INDEX connections_integration ON connections (integration_id);
CREATE INDEX connections_app ON connections (app_key, created_at);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   BYTEA NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    permission TEXT NOT NULL,
    entity_id  TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
