-- Keys whose writes wait for the user's approval (`writes`), or not (`none`).
ALTER TABLE api_keys ADD COLUMN approval TEXT NOT NULL DEFAULT 'none';
