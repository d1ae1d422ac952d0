//! The webhook setting of `keyport serve`: where status events are POSTed (a loopback URL
//! only: keyport never sends events off the machine) and the secret they are signed with,
//! read from a file or `KEYPORT_WEBHOOK_SECRET`, never from a flag (a flag shows in `ps`)
//! and never printed: its `Debug` is redacted.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::ConfigError;

pub(super) const URL_NAMES: &str =
    "webhook URL (--webhook-url, KEYPORT_WEBHOOK_URL, `webhook_url` in config.toml)";
pub(super) const SECRET_NAMES: &str = "webhook secret (KEYPORT_WEBHOOK_SECRET, or a file: --webhook-secret-file, KEYPORT_WEBHOOK_SECRET_FILE, `webhook_secret_file` in config.toml)";

/// The key webhook signatures are made with.
#[derive(Clone)]
pub struct WebhookSecret(SecretString);

impl WebhookSecret {
    pub fn new(value: &str) -> WebhookSecret {
        WebhookSecret(SecretString::from(value.to_string()))
    }

    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret().as_bytes()
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl PartialEq for WebhookSecret {
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret().ct_eq(other.expose_secret()).into()
    }
}

impl Eq for WebhookSecret {}

/// Where status events are delivered, and the secret that signs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub url: url::Url,
    pub secret: WebhookSecret,
}

/// The webhook the settings describe: none without a URL; a URL must be http(s) to a
/// loopback host and come with a secret (`given`, else the file's first line).
pub(super) fn resolve(
    url: Option<&str>,
    given: Option<&WebhookSecret>,
    file: Option<&Path>,
) -> Result<Option<Webhook>, ConfigError> {
    let Some(raw) = url else {
        return Ok(None);
    };
    let url = url::Url::parse(raw).map_err(|e| ConfigError::Invalid {
        setting: URL_NAMES.into(),
        reason: format!("{raw:?} is not a URL ({e})"),
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if !loopback || !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::Refused(format!(
            "refusing the webhook URL {raw}: keyport delivers webhooks only over http(s) to a loopback host (127.0.0.1, [::1] or localhost); set the {URL_NAMES}"
        )));
    }
    let secret = match (given, file) {
        (Some(secret), _) => secret.clone(),
        (None, Some(path)) => read_secret(path)?,
        (None, None) => {
            return Err(ConfigError::Invalid {
                setting: SECRET_NAMES.into(),
                reason: "a webhook needs a secret to sign its deliveries".into(),
            });
        }
    };
    if secret.expose_secret().is_empty() {
        return Err(ConfigError::Invalid {
            setting: SECRET_NAMES.into(),
            reason: "the secret is empty".into(),
        });
    }
    Ok(Some(Webhook { url, secret }))
}

/// The first line of `path`, trimmed.
fn read_secret(path: &Path) -> Result<WebhookSecret, ConfigError> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
        ConfigError::Io {
            path: PathBuf::from(path),
            source,
        }
    })?);
    Ok(WebhookSecret::new(
        text.lines().next().unwrap_or_default().trim(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str, secret: Option<&WebhookSecret>) -> String {
        resolve(Some(url), secret, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn only_loopback_urls_with_a_secret() -> Result<(), ConfigError> {
        let secret = WebhookSecret::new("s3cret");
        for good in [
            "http://127.0.0.1:9000/hook",
            "http://[::1]:9000/hook",
            "https://localhost/hook",
        ] {
            let hook = resolve(Some(good), Some(&secret), None)?;
            assert_eq!(hook.map(|h| h.url.to_string()).as_deref(), Some(good));
        }
        for bad in [
            "http://example.com/hook",
            "http://127.0.0.1.nip.io/hook",
            "http://10.0.0.1/hook",
            "ftp://127.0.0.1/hook",
        ] {
            let err = refusal(bad, Some(&secret));
            assert!(
                err.contains("only over http(s) to a loopback host"),
                "{bad}: {err}"
            );
        }
        assert!(refusal("not a url", Some(&secret)).contains("KEYPORT_WEBHOOK_URL"));
        let err = refusal("http://127.0.0.1/hook", None);
        assert!(
            err.contains("KEYPORT_WEBHOOK_SECRET") && err.contains("needs a secret"),
            "{err}"
        );
        assert_eq!(resolve(None, Some(&secret), None)?, None);
        Ok(())
    }

    #[test]
    fn the_secret_is_read_from_its_file_and_never_shown() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("hook.secret");
        std::fs::write(&path, "from-file\nignored\n")?;
        let hook = resolve(Some("http://127.0.0.1:1/h"), None, Some(&path))?;
        let hook = hook.ok_or("a webhook")?;
        assert_eq!(hook.secret, WebhookSecret::new("from-file"));
        assert!(!format!("{hook:?}").contains("from-file"));
        Ok(())
    }
}
