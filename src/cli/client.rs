//! The CLI's HTTP client for a running `keyport serve`: finds the server (`--url`, else
//! the address `serve` recorded in the data dir, else the default), authenticates with
//! `admin.key`, sends and reads the API's own wire types (`http::dto`), and turns API
//! errors into CLI messages.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::Agent;

use super::CliError;
use crate::config;
use crate::http::dto::{ErrorBody, ErrorDetail};

pub struct Client {
    base: String,
    key: SecretString,
    agent: Agent,
}

/// Why a call failed: the API refused it (its status, stable code and message), or the
/// server could not be reached or answered something unreadable.
#[derive(Debug)]
pub enum Failure {
    Api { status: u16, error: ErrorDetail },
    Transport(CliError),
}

impl From<Failure> for CliError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Api { status, error } => {
                CliError::new(format!("{} ({}, HTTP {status})", error.message, error.code))
            }
            Failure::Transport(e) => e,
        }
    }
}

type Answer = Result<ureq::http::Response<ureq::Body>, ureq::Error>;

/// An agent that follows no redirects, answers HTTP errors as responses, connects within
/// 10 s and gives each call `timeout` (none: a stream read as it arrives).
fn agent(timeout: Option<Duration>) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(timeout)
        .build()
        .into()
}

impl Client {
    /// A client of the server `data_dir` and `url` name, with the admin key `serve` wrote.
    pub fn connect(data_dir: Option<PathBuf>, url: Option<String>) -> Result<Client, CliError> {
        let dir = config::data_dir(data_dir)?;
        let key_path = dir.join(config::ADMIN_KEY_FILE);
        let key = config::read_trimmed(&key_path)?.ok_or_else(|| {
            CliError::new(format!(
                "no admin key at {}; start the server once with `keyport serve` (same --data-dir)",
                key_path.display()
            ))
        })?;
        Client::with_key(Some(dir), url, SecretString::from(key))
    }

    /// A client of the server `data_dir` and `url` name (`--url`, else the address `serve`
    /// recorded, else the default), authenticated with `key`.
    pub fn with_key(
        data_dir: Option<PathBuf>,
        url: Option<String>,
        key: SecretString,
    ) -> Result<Client, CliError> {
        let dir = config::data_dir(data_dir)?;
        let recorded = config::read_trimmed(&dir.join(config::SERVER_URL_FILE))?;
        let base = url
            .or(recorded)
            .unwrap_or_else(|| format!("http://{}", config::DEFAULT_LISTEN))
            .trim_end_matches('/')
            .to_string();
        let agent = agent(Some(Duration::from_secs(120)));
        Ok(Client { base, key, agent })
    }

    /// The same server, another key.
    pub fn rekeyed(&self, key: SecretString) -> Client {
        Client {
            base: self.base.clone(),
            key,
            agent: self.agent.clone(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Reads a success as `T`, and an API error as its message and code.
    fn finish<T: DeserializeOwned>(&self, result: Answer) -> Result<T, CliError> {
        self.answer(result).map_err(CliError::from)
    }

    /// Reads a success as `T`; an API error keeps its status and code.
    fn answer<T: DeserializeOwned>(&self, result: Answer) -> Result<T, Failure> {
        let mut response = result
            .map_err(|e| match e {
                ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                    CliError::new(format!(
                        "no keyport server is running at {} ({e}); start it with `keyport serve`",
                        self.base
                    ))
                }
                other => CliError::new(format!("request to {} failed: {other}", self.base)),
            })
            .map_err(Failure::Transport)?;
        let status = response.status();
        let body = response.body_mut().read_to_vec().map_err(|e| {
            Failure::Transport(CliError::new(format!(
                "unreadable answer from {} (HTTP {status}): {e}",
                self.base
            )))
        })?;
        let unexpected = |e: serde_json::Error| {
            Failure::Transport(CliError::new(format!(
                "unexpected answer from {} (HTTP {status}): {e}",
                self.base
            )))
        };
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(unexpected);
        }
        let failure: ErrorBody = serde_json::from_slice(&body).map_err(unexpected)?;
        Err(Failure::Api {
            status: status.as_u16(),
            error: failure.error,
        })
    }

    /// `request`, authenticated with the admin key.
    fn keyed<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        request.header("x-api-key", self.key.expose_secret())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` read as it arrives (a server-sent event stream), with no answer timeout;
    /// `last_event` resumes after that event. An API error is read as [`Client::get`] does.
    pub fn stream(
        &self,
        path: &str,
        last_event: Option<u64>,
    ) -> Result<impl std::io::BufRead + use<>, CliError> {
        let mut request = self.keyed(agent(None).get(self.url(path)));
        if let Some(id) = last_event {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = match request.call() {
            Ok(response) if response.status().is_success() => response,
            refused => {
                return Err(self
                    .finish::<serde_json::Value>(refused)
                    .err()
                    .unwrap_or_else(|| {
                        CliError::new(format!("unexpected answer from {}", self.base))
                    }));
            }
        };
        Ok(std::io::BufReader::new(response.into_body().into_reader()))
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.finish(self.keyed(self.agent.get(self.url(path))).call())
    }

    /// `GET path?query`, the query serialized from its wire type (unset fields left out).
    pub fn get_with<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, CliError> {
        self.query(path, query).map_err(CliError::from)
    }

    /// `get_with`, an API error kept apart from a transport one.
    pub fn query<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, Failure> {
        let query = serde_urlencoded::to_string(query).map_err(|e| {
            Failure::Transport(CliError::new(format!("cannot build the query: {e}")))
        })?;
        let url = if query.is_empty() {
            self.url(path)
        } else {
            self.url(&format!("{path}?{query}"))
        };
        self.answer(self.keyed(self.agent.get(url)).call())
    }

    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.finish(self.keyed(self.agent.delete(self.url(path))).call())
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CliError> {
        self.finish(self.keyed(self.agent.post(self.url(path))).send_json(body))
    }

    pub fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CliError> {
        self.finish(self.keyed(self.agent.patch(self.url(path))).send_json(body))
    }

    /// `post`, an API error kept apart from a transport one.
    pub fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Failure> {
        self.answer(self.keyed(self.agent.post(self.url(path))).send_json(body))
    }
}

/// Percent-encodes one path segment.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
