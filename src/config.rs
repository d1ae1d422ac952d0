//! Where keyport keeps its files, and the one [`Config`] that `keyport serve` runs with.
//! Precedence: built-in defaults < `config.toml` in the data dir < `KEYPORT_*` environment
//! < command-line flags. Each source is read into the same [`Settings`] layer (every field
//! optional), the layers are stacked once in `cli/serve.rs`, and [`Config::validate`]
//! refuses a value that would not work, naming the setting and every way to set it. This
//! is the only module that reads keyport's configuration from the environment. Unknown
//! keys in the file are an error, so a typo is not ignored.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod public_url;
mod webhook;

pub use webhook::{Webhook, WebhookSecret};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7790";
pub const DB_FILE: &str = "keyport.db";
pub const ADMIN_KEY_FILE: &str = "admin.key";
pub const SERVER_URL_FILE: &str = "server.url";
pub const CONFIG_FILE: &str = "config.toml";
pub const PROVIDERS_DIR: &str = "providers";
/// User action files (`*.json`) inside the data dir.
pub const ACTIONS_DIR: &str = "actions";
/// Default time one key derivation should take on this machine when a vault is created.
pub const DEFAULT_KDF_MS: u64 = 500;
pub const DEFAULT_LOG: &str = "info";
/// How long keyport waits for a provider's API (proxy and actions).
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 30_000;
/// How long keyport waits for a token endpoint (code exchange, refresh, issued tokens).
pub const DEFAULT_TOKEN_TIMEOUT_MS: u64 = 30_000;
/// How long a request waits for the user's approval before it is refused.
pub const DEFAULT_APPROVAL_TIMEOUT_MS: u64 = 120_000;
/// How long audit records are kept.
pub const DEFAULT_AUDIT_DAYS: u32 = 90;
/// Keep-alive (refreshing OAuth grants before their refresh tokens lapse unused) is on.
pub const DEFAULT_KEEP_ALIVE: bool = true;

/// The `KEYPORT_*` variables behind each setting.
pub mod env {
    pub const LISTEN: &str = "KEYPORT_LISTEN";
    pub const PUBLIC_URL: &str = "KEYPORT_PUBLIC_URL";
    pub const LOG: &str = "KEYPORT_LOG";
    pub const KDF_MS: &str = "KEYPORT_KDF_MS";
    pub const UPSTREAM_TIMEOUT_MS: &str = "KEYPORT_UPSTREAM_TIMEOUT_MS";
    pub const TOKEN_TIMEOUT_MS: &str = "KEYPORT_TOKEN_TIMEOUT_MS";
    pub const AUDIT_DAYS: &str = "KEYPORT_AUDIT_DAYS";
    pub const APPROVAL_TIMEOUT_MS: &str = "KEYPORT_APPROVAL_TIMEOUT_MS";
    pub const KEEP_ALIVE: &str = "KEYPORT_KEEP_ALIVE";
    pub const REFRESH_TOKEN_IDLE_SECS: &str = "KEYPORT_REFRESH_TOKEN_IDLE_SECS";
    pub const WEBHOOK_URL: &str = "KEYPORT_WEBHOOK_URL";
    pub const WEBHOOK_SECRET_FILE: &str = "KEYPORT_WEBHOOK_SECRET_FILE";
    /// The webhook secret itself (only ever from the environment or a file).
    pub const WEBHOOK_SECRET: &str = "KEYPORT_WEBHOOK_SECRET";
}

/// One layer of settings: what `config.toml`, the environment or the flags of `keyport
/// serve` say (the same fields, so each is declared once). A field left `None` falls
/// through to the layer below. The doc comments are the flags' help.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on [env: KEYPORT_LISTEN] [default: 127.0.0.1:7790].
    #[arg(long)]
    pub listen: Option<String>,
    /// The URL browsers and agents reach keyport at, when it is not the listen address
    /// (instances behind one load balancer, a TLS proxy): connect links and OAuth callbacks
    /// are built on it [env: KEYPORT_PUBLIC_URL] [default: http://LISTEN].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Log filter, e.g. `info` or `keyport=debug` [env: KEYPORT_LOG] [default: info].
    #[arg(long)]
    pub log: Option<String>,
    /// Target unlock time when a vault is created, in ms [env: KEYPORT_KDF_MS] [default: 500].
    // Calibration only goes up: the parameters are never below m = 64 MiB, t = 3.
    #[arg(long, value_name = "MS")]
    pub kdf_target_ms: Option<u64>,
    /// How long to wait for a provider's API, in ms [env: KEYPORT_UPSTREAM_TIMEOUT_MS]
    /// [default: 30000].
    #[arg(long, value_name = "MS")]
    pub upstream_timeout_ms: Option<u64>,
    /// How long to wait for a token endpoint, in ms [env: KEYPORT_TOKEN_TIMEOUT_MS]
    /// [default: 30000].
    #[arg(long, value_name = "MS")]
    pub token_timeout_ms: Option<u64>,
    /// How long a request held for approval waits for the user, in ms
    /// [env: KEYPORT_APPROVAL_TIMEOUT_MS] [default: 120000].
    #[arg(long, value_name = "MS")]
    pub approval_timeout_ms: Option<u64>,
    /// How long audit records are kept, in days; 0 turns the audit log off
    /// [env: KEYPORT_AUDIT_DAYS] [default: 90].
    #[arg(long, value_name = "DAYS")]
    pub audit_days: Option<u32>,
    /// Refresh OAuth grants before their refresh tokens lapse unused [env:
    /// KEYPORT_KEEP_ALIVE] [default: true].
    #[arg(long, value_name = "BOOL")]
    pub keep_alive: Option<bool>,
    /// How long refresh tokens live unused when neither the provider nor the catalog says,
    /// in seconds [env: KEYPORT_REFRESH_TOKEN_IDLE_SECS] [default: unknown, no keep-alive].
    #[arg(long, value_name = "SECS")]
    pub refresh_token_idle_secs: Option<u64>,
    /// POST every connection status event, signed, to this loopback URL
    /// [env: KEYPORT_WEBHOOK_URL].
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// The webhook signing secret's file (first line) [env: KEYPORT_WEBHOOK_SECRET_FILE];
    /// or give the secret itself in KEYPORT_WEBHOOK_SECRET.
    #[arg(long, value_name = "FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// `KEYPORT_WEBHOOK_SECRET`: from the environment only, never a flag or the file.
    #[arg(skip)]
    #[serde(skip)]
    pub webhook_secret: Option<WebhookSecret>,
}

impl Settings {
    /// The `KEYPORT_*` variables, read through `var` (the process environment in `serve`).
    /// A blank variable counts as unset; a number that does not parse is an error naming
    /// the variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let text = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let whole = |name: &'static str, unit: &str| -> Result<Option<u64>, ConfigError> {
            text(name)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| ConfigError::Invalid {
                        setting: name.to_string(),
                        reason: format!("{v:?} is not a whole number of {unit}"),
                    })
                })
                .transpose()
        };
        let millis = |name: &'static str| whole(name, "milliseconds");
        let switch = |name: &'static str| -> Result<Option<bool>, ConfigError> {
            text(name)
                .map(|v| match v.to_ascii_lowercase().as_str() {
                    "true" | "on" | "1" | "yes" => Ok(true),
                    "false" | "off" | "0" | "no" => Ok(false),
                    _ => Err(ConfigError::Invalid {
                        setting: name.to_string(),
                        reason: format!("{v:?} is not true or false (on/off, 1/0)"),
                    }),
                })
                .transpose()
        };
        Ok(Settings {
            listen: text(env::LISTEN),
            public_url: text(env::PUBLIC_URL),
            log: text(env::LOG),
            kdf_target_ms: millis(env::KDF_MS)?,
            upstream_timeout_ms: millis(env::UPSTREAM_TIMEOUT_MS)?,
            token_timeout_ms: millis(env::TOKEN_TIMEOUT_MS)?,
            approval_timeout_ms: millis(env::APPROVAL_TIMEOUT_MS)?,
            audit_days: text(env::AUDIT_DAYS)
                .map(|v| {
                    v.parse::<u32>().map_err(|_| ConfigError::Invalid {
                        setting: AUDIT_DAYS_NAMES.to_string(),
                        reason: format!("{v:?} is not a whole number of days"),
                    })
                })
                .transpose()?,
            keep_alive: switch(env::KEEP_ALIVE)?,
            refresh_token_idle_secs: whole(env::REFRESH_TOKEN_IDLE_SECS, "seconds")?,
            webhook_url: text(env::WEBHOOK_URL),
            webhook_secret_file: text(env::WEBHOOK_SECRET_FILE).map(PathBuf::from),
            webhook_secret: var(env::WEBHOOK_SECRET)
                .filter(|v| !v.trim().is_empty())
                .map(|v| WebhookSecret::new(v.trim())),
        })
    }

    /// `self` stacked on `lower`: each field from `self` when it has one, else from `lower`.
    pub fn over(self, lower: Settings) -> Settings {
        Settings {
            listen: self.listen.or(lower.listen),
            public_url: self.public_url.or(lower.public_url),
            log: self.log.or(lower.log),
            kdf_target_ms: self.kdf_target_ms.or(lower.kdf_target_ms),
            upstream_timeout_ms: self.upstream_timeout_ms.or(lower.upstream_timeout_ms),
            token_timeout_ms: self.token_timeout_ms.or(lower.token_timeout_ms),
            approval_timeout_ms: self.approval_timeout_ms.or(lower.approval_timeout_ms),
            audit_days: self.audit_days.or(lower.audit_days),
            keep_alive: self.keep_alive.or(lower.keep_alive),
            refresh_token_idle_secs: self
                .refresh_token_idle_secs
                .or(lower.refresh_token_idle_secs),
            webhook_url: self.webhook_url.or(lower.webhook_url),
            webhook_secret_file: self.webhook_secret_file.or(lower.webhook_secret_file),
            webhook_secret: self.webhook_secret.or(lower.webhook_secret),
        }
    }
}

/// Everything `keyport serve` runs with, resolved once from the layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where browsers and agents reach this keyport, when not at `listen`.
    pub public_url: Option<url::Url>,
    /// Listening on a non-loopback address was asked for (`--allow-remote`).
    pub allow_remote: bool,
    pub log: String,
    pub kdf_target: Duration,
    pub upstream_timeout: Duration,
    pub token_timeout: Duration,
    pub approval_timeout: Duration,
    /// How long audit records are kept; `None`: the audit log is off.
    pub audit_days: Option<u32>,
    /// Whether `serve` runs keep-alive (`service::keep_alive`).
    pub keep_alive: bool,
    /// How long refresh tokens live unused where neither the token response nor the
    /// catalog says; `None`: unknown, so such grants are not kept alive.
    pub refresh_token_idle: Option<Duration>,
    /// Where status events are POSTed, if anywhere.
    pub webhook: Option<Webhook>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7790)),
            public_url: None,
            allow_remote: false,
            log: DEFAULT_LOG.to_string(),
            kdf_target: Duration::from_millis(DEFAULT_KDF_MS),
            upstream_timeout: Duration::from_millis(DEFAULT_UPSTREAM_TIMEOUT_MS),
            token_timeout: Duration::from_millis(DEFAULT_TOKEN_TIMEOUT_MS),
            approval_timeout: Duration::from_millis(DEFAULT_APPROVAL_TIMEOUT_MS),
            audit_days: Some(DEFAULT_AUDIT_DAYS),
            keep_alive: DEFAULT_KEEP_ALIVE,
            refresh_token_idle: None,
            webhook: None,
        }
    }
}

impl Config {
    /// The one configuration of `keyport serve`: defaults < `config.toml` in `dir` <
    /// `KEYPORT_*` from the process environment < `flags`.
    pub fn load(dir: &Path, flags: Settings, allow_remote: bool) -> Result<Config, ConfigError> {
        let file = load_file(dir)?;
        let env = Settings::from_env(|name| std::env::var(name).ok())?;
        Config::resolve(flags.over(env.over(file)), allow_remote)
    }

    /// `settings` (the layers already stacked) over the defaults, then validated.
    pub fn resolve(settings: Settings, allow_remote: bool) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let listen = match settings.listen {
            Some(raw) => raw.parse().map_err(|_| ConfigError::Invalid {
                setting: LISTEN_NAMES.to_string(),
                reason: format!("{raw:?}: expected IP:PORT, e.g. {DEFAULT_LISTEN}"),
            })?,
            None => defaults.listen,
        };
        // A setting in milliseconds, else its default.
        let ms = |given: Option<u64>, default| given.map_or(default, Duration::from_millis);
        let config = Config {
            listen,
            public_url: public_url::parse(settings.public_url.as_deref())?,
            allow_remote,
            log: settings.log.unwrap_or(defaults.log),
            kdf_target: ms(settings.kdf_target_ms, defaults.kdf_target),
            upstream_timeout: ms(settings.upstream_timeout_ms, defaults.upstream_timeout),
            token_timeout: ms(settings.token_timeout_ms, defaults.token_timeout),
            approval_timeout: ms(settings.approval_timeout_ms, defaults.approval_timeout),
            audit_days: match settings.audit_days {
                Some(0) => None,
                Some(days) => Some(days),
                None => defaults.audit_days,
            },
            keep_alive: settings.keep_alive.unwrap_or(defaults.keep_alive),
            refresh_token_idle: settings
                .refresh_token_idle_secs
                .map(Duration::from_secs)
                .or(defaults.refresh_token_idle),
            webhook: webhook::resolve(
                settings.webhook_url.as_deref(),
                settings.webhook_secret.as_ref(),
                settings.webhook_secret_file.as_deref(),
            )?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Refuses what would not work: a non-loopback address without `allow_remote`, a log
    /// filter that does not parse, a timeout or an idle time of zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            return Err(ConfigError::Refused(format!(
                "refusing to listen on {}: it is not a loopback address; pass --allow-remote if you really mean it",
                self.listen
            )));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return Err(ConfigError::Invalid {
                setting: LOG_NAMES.to_string(),
                reason: format!("{:?} is not a log filter ({e})", self.log),
            });
        }
        for (names, timeout) in [
            (UPSTREAM_TIMEOUT_NAMES, self.upstream_timeout),
            (TOKEN_TIMEOUT_NAMES, self.token_timeout),
            (APPROVAL_TIMEOUT_NAMES, self.approval_timeout),
        ] {
            if timeout.is_zero() {
                return Err(ConfigError::Invalid {
                    setting: names.to_string(),
                    reason: "must be at least 1 millisecond".into(),
                });
            }
        }
        if self.refresh_token_idle.is_some_and(|idle| idle.is_zero()) {
            return Err(ConfigError::Invalid {
                setting: REFRESH_TOKEN_IDLE_NAMES.to_string(),
                reason: "must be at least 1 second (leave it unset for unknown)".into(),
            });
        }
        Ok(())
    }
}

/// How each setting is spelled in every source, for error messages.
const LISTEN_NAMES: &str = "listen (--listen, KEYPORT_LISTEN, `listen` in config.toml)";
const LOG_NAMES: &str = "log filter (--log, KEYPORT_LOG, `log` in config.toml)";
const UPSTREAM_TIMEOUT_NAMES: &str = "upstream timeout (--upstream-timeout-ms, KEYPORT_UPSTREAM_TIMEOUT_MS, `upstream_timeout_ms` in config.toml)";
const APPROVAL_TIMEOUT_NAMES: &str = "approval timeout (--approval-timeout-ms, KEYPORT_APPROVAL_TIMEOUT_MS, `approval_timeout_ms` in config.toml)";
const AUDIT_DAYS_NAMES: &str =
    "audit retention (--audit-days, KEYPORT_AUDIT_DAYS, `audit_days` in config.toml)";
const REFRESH_TOKEN_IDLE_NAMES: &str = "refresh-token idle time (--refresh-token-idle-secs, KEYPORT_REFRESH_TOKEN_IDLE_SECS, `refresh_token_idle_secs` in config.toml)";
const TOKEN_TIMEOUT_NAMES: &str = "token timeout (--token-timeout-ms, KEYPORT_TOKEN_TIMEOUT_MS, `token_timeout_ms` in config.toml)";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot determine a home directory for the default data dir; pass --data-dir")]
    NoHome,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("{0}")]
    Refused(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `--data-dir` / `KEYPORT_DATA_DIR`, else the platform data dir (e.g. `~/.local/share/keyport`).
pub fn data_dir(given: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
    match given {
        Some(dir) => Ok(dir),
        None => directories::ProjectDirs::from("dev", "keyport", "keyport")
            .map(|dirs| dirs.data_dir().to_path_buf())
            .ok_or(ConfigError::NoHome),
    }
}

/// Creates the data dir if needed and makes it private (0700).
pub fn ensure_private_dir(dir: &Path) -> Result<(), ConfigError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

/// The `config.toml` layer; no file is an empty layer.
pub fn load_file(dir: &Path) -> Result<Settings, ConfigError> {
    let path = dir.join(CONFIG_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(ConfigError::Io { path, source: e }),
    }
}

/// Writes `contents` to `path` with mode 0600, atomically (temp file + rename).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), ConfigError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(contents).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Reads a small text file, trimmed; `None` if it does not exist.
pub fn read_trimmed(path: &Path) -> Result<Option<String>, ConfigError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests;
