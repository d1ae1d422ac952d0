//! Where keyport keeps its files and how it is configured. Precedence: built-in defaults
//! < `config.toml` in the data dir < `KEYPORT_*` environment < command-line flags (clap
//! merges the last two). Unknown keys in the file are an error, so a typo is not ignored.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7790";
pub const DB_FILE: &str = "keyport.db";
pub const ADMIN_KEY_FILE: &str = "admin.key";
pub const SERVER_URL_FILE: &str = "server.url";
pub const CONFIG_FILE: &str = "config.toml";
pub const PROVIDERS_DIR: &str = "providers";
/// Default time one key derivation should take on this machine when a vault is created.
pub const DEFAULT_KDF_MS: u64 = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on, e.g. `127.0.0.1:7790`.
    pub listen: Option<String>,
    /// Log filter, e.g. `info` or `keyport=debug`.
    pub log: Option<String>,
    /// Target unlock time in milliseconds when a vault is created (minimum parameters are
    /// always m = 64 MiB, t = 3).
    pub kdf_target_ms: Option<u64>,
}

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

pub fn load_file(dir: &Path) -> Result<FileConfig, ConfigError> {
    let path = dir.join(CONFIG_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
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
mod tests {
    use super::*;

    #[test]
    fn config_file_rejects_unknown_keys() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        fs::write(dir.path().join(CONFIG_FILE), "listen = \"127.0.0.1:9\"\n")?;
        assert_eq!(
            load_file(dir.path())?.listen.as_deref(),
            Some("127.0.0.1:9")
        );
        fs::write(dir.path().join(CONFIG_FILE), "lisen = \"x\"\n")?;
        let err = load_file(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("lisen"), "{err}");
        Ok(())
    }

    #[test]
    fn private_files_and_dirs() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let sub = dir.path().join("data");
        ensure_private_dir(&sub)?;
        assert_eq!(fs::metadata(&sub)?.permissions().mode() & 0o777, 0o700);
        let file = sub.join("k");
        write_private(&file, b"secret\n")?;
        assert_eq!(fs::metadata(&file)?.permissions().mode() & 0o777, 0o600);
        assert_eq!(read_trimmed(&file)?.as_deref(), Some("secret"));
        assert_eq!(read_trimmed(&sub.join("none"))?, None);
        Ok(())
    }
}
