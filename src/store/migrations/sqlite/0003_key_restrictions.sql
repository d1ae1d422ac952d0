-- What an API key is limited to beyond its permission (NULL: unlimited). The lists are JSON
-- arrays of strings: app keys, action names, proxy methods. Existing keys keep their
-- permission values ('use', 'reveal', 'admin') and get no restriction.

ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN allowed_apps TEXT;
ALTER TABLE api_keys ADD COLUMN allowed_actions TEXT;
ALTER TABLE api_keys ADD COLUMN allowed_methods TEXT;
