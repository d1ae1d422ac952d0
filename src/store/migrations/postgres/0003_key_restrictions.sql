-- What an API key is limited to beyond its permission (NULL: unlimited), as in SQLite's 0003.

ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN allowed_apps TEXT;
ALTER TABLE api_keys ADD COLUMN allowed_actions TEXT;
ALTER TABLE api_keys ADD COLUMN allowed_methods TEXT;
