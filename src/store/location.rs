//! Where a store lives: a SQLite file (the default) or a PostgreSQL database named by a
//! URL. The URL may carry a password, so it is held as a secret: its `Debug` and `Display`
//! show it without password or query (where libpq-style options such as `password=` may
//! hide), and only [`DatabaseUrl::expose_secret`] yields it whole, to the driver.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

/// The database a store opens.
#[derive(Clone, Debug)]
pub enum Location {
    File(PathBuf),
    Postgres(DatabaseUrl),
}

impl From<&std::path::Path> for Location {
    fn from(path: &std::path::Path) -> Self {
        Location::File(path.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Self {
        Location::File(path.clone())
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Self {
        location.clone()
    }
}

/// A `postgres://` (or `postgresql://`) URL.
#[derive(Clone)]
pub struct DatabaseUrl {
    full: SecretString,
    shown: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("the database URL is not a URL")]
    Malformed,
    #[error("the database URL must start with postgres:// or postgresql://")]
    Scheme,
}

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let url = url::Url::parse(text).map_err(|_| UrlError::Malformed)?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(UrlError::Scheme);
        }
        let mut shown = url.clone();
        if url.password().is_some() {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = shown.set_password(Some("redacted"));
        }
        shown.set_query(None);
        shown.set_fragment(None);
        Ok(DatabaseUrl {
            full: SecretString::from(text.to_owned()),
            shown: shown.to_string(),
        })
    }

    /// The whole URL, password included: for the driver only.
    pub fn expose_secret(&self) -> &str {
        self.full.expose_secret()
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.shown)
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => write!(f, "{url}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() -> Result<(), UrlError> {
        let url = DatabaseUrl::parse(
            "postgres://keyport:hunter2@db.internal:5433/vault?password=hunter3&sslmode=disable",
        )?;
        for shown in [
            url.to_string(),
            format!("{url:?}"),
            format!("{:?}", Location::Postgres(url.clone())),
        ] {
            assert!(!shown.contains("hunter"), "{shown}");
            assert!(shown.contains("db.internal:5433/vault"), "{shown}");
        }
        assert!(url.expose_secret().contains("hunter2"));
        Ok(())
    }

    #[test]
    fn only_postgres_urls_are_taken() {
        assert_eq!(
            DatabaseUrl::parse("mysql://a@b/c").err(),
            Some(UrlError::Scheme)
        );
        assert_eq!(
            DatabaseUrl::parse("host=x password=y").err(),
            Some(UrlError::Malformed)
        );
        assert!(DatabaseUrl::parse("postgresql://127.0.0.1:5432/keyport").is_ok());
    }
}
