//! The CLI's HTTP client for a running `keyport serve`: finds the server (`--url`, else
//! the address `serve` recorded in the data dir, else the default), authenticates with
//! `admin.key`, and turns API errors into CLI messages.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use ureq::Agent;

use super::CliError;
use crate::config;

pub struct Client {
    base: String,
    key: SecretString,
    agent: Agent,
}

impl Client {
    pub fn connect(data_dir: Option<PathBuf>, url: Option<String>) -> Result<Client, CliError> {
        let dir = config::data_dir(data_dir)?;
        let recorded = config::read_trimmed(&dir.join(config::SERVER_URL_FILE))?;
        let base = url
            .or(recorded)
            .unwrap_or_else(|| format!("http://{}", config::DEFAULT_LISTEN))
            .trim_end_matches('/')
            .to_string();
        let key_path = dir.join(config::ADMIN_KEY_FILE);
        let key = config::read_trimmed(&key_path)?.ok_or_else(|| {
            CliError::new(format!(
                "no admin key at {}; start the server once with `keyport serve` (same --data-dir)",
                key_path.display()
            ))
        })?;
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client {
            base,
            key: SecretString::from(key),
            agent,
        })
    }

    fn finish(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, CliError> {
        let mut response = result.map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                CliError::new(format!(
                    "no keyport server is running at {} ({e}); start it with `keyport serve`",
                    self.base
                ))
            }
            other => CliError::new(format!("request to {} failed: {other}", self.base)),
        })?;
        let status = response.status();
        let body: Value = response.body_mut().read_json().map_err(|e| {
            CliError::new(format!(
                "unreadable answer from {} (HTTP {status}): {e}",
                self.base
            ))
        })?;
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("request failed");
        let code = body["error"]["code"].as_str().unwrap_or("error");
        Err(CliError::new(format!(
            "{message} ({code}, HTTP {})",
            status.as_u16()
        )))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        let r = self
            .agent
            .get(self.url(path))
            .header("x-api-key", self.key.expose_secret())
            .call();
        self.finish(r)
    }

    pub fn delete(&self, path: &str) -> Result<Value, CliError> {
        let r = self
            .agent
            .delete(self.url(path))
            .header("x-api-key", self.key.expose_secret())
            .call();
        self.finish(r)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let r = self
            .agent
            .post(self.url(path))
            .header("x-api-key", self.key.expose_secret())
            .send_json(body);
        self.finish(r)
    }

    pub fn patch(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        let r = self
            .agent
            .patch(self.url(path))
            .header("x-api-key", self.key.expose_secret())
            .send_json(body);
        self.finish(r)
    }

    pub fn base(&self) -> &str {
        &self.base
    }
}

/// Percent-encodes one path segment or query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
