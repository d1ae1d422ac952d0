//! Where a passphrase comes from: `--passphrase-file`, then `KEYPORT_PASSPHRASE`, then an
//! interactive prompt (twice when it is being chosen). Never from argv.

use std::io::IsTerminal;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::CliError;

pub const ENV: &str = "KEYPORT_PASSPHRASE";

fn from_file(path: &Path) -> Result<SecretString, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::new(format!(
            "cannot read passphrase file {}: {e}",
            path.display()
        ))
    })?;
    let line = text.lines().next().unwrap_or("").to_string();
    non_empty(SecretString::from(line))
}

fn non_empty(p: SecretString) -> Result<SecretString, CliError> {
    if p.expose_secret().is_empty() {
        Err(CliError::new("the passphrase is empty"))
    } else {
        Ok(p)
    }
}

fn prompt(label: &str) -> Result<SecretString, CliError> {
    rpassword::prompt_password(label)
        .map(SecretString::from)
        .map_err(|e| CliError::new(format!("cannot read the passphrase: {e}")))
}

/// Obtains a passphrase. `confirm` asks twice on a terminal (for a new passphrase).
pub fn obtain(
    file: Option<&Path>,
    env_var: &str,
    label: &str,
    confirm: bool,
) -> Result<SecretString, CliError> {
    if let Some(path) = file {
        return from_file(path);
    }
    if let Ok(value) = std::env::var(env_var) {
        return non_empty(SecretString::from(value));
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(format!(
            "no passphrase: there is no terminal to ask on; set {env_var} or pass --passphrase-file"
        )));
    }
    let first = non_empty(prompt(&format!("{label}: "))?)?;
    if confirm {
        let again = prompt(&format!("{label} (again): "))?;
        if again.expose_secret() != first.expose_secret() {
            return Err(CliError::new("the passphrases do not match"));
        }
        if first.expose_secret().chars().count() < 8 {
            eprintln!("keyport: warning: a passphrase shorter than 8 characters is easy to guess");
        }
    }
    Ok(first)
}

/// Reads a secret field value for `--secret NAME`: a hidden prompt on a terminal, else
/// one line of standard input.
pub fn secret_value(name: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        return prompt(&format!("{name}: ")).map(|s| s.expose_secret().to_string());
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::new(format!("cannot read {name} from standard input: {e}")))?;
    let value = line.trim_end_matches(['\r', '\n']).to_string();
    if value.is_empty() {
        return Err(CliError::new(format!("{name}: no value on standard input")));
    }
    Ok(value)
}
