//! `keyport passwd`: unlock with the current passphrase, re-wrap the same data key under
//! the new one, and replace the single vault row in one transaction. No sealed value is
//! touched, so the change is instant and cannot half-apply.

use std::path::PathBuf;

use clap::Args;

use super::serve::{DATABASE_ENV, DatabaseArg, database_location, stored_vault, unlock_error};
use super::{CliError, CliResult, passphrase};
use crate::clock::Clock;
use crate::config;
use crate::store::Store;
use crate::vault::Vault;

#[derive(Args, Debug)]
pub struct PasswdArgs {
    /// Read the current passphrase from this file instead of KEYPORT_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// Read the new passphrase from this file instead of KEYPORT_NEW_PASSPHRASE or a prompt.
    #[arg(long)]
    pub new_passphrase_file: Option<PathBuf>,
    /// The PostgreSQL database the vault is in, as given to `keyport serve --database`.
    #[arg(long, env = DATABASE_ENV, hide_env_values = true, value_name = "URL",
          value_parser = super::serve::database_arg)]
    pub database: Option<DatabaseArg>,
}

pub fn run(data_dir: Option<PathBuf>, args: PasswdArgs) -> CliResult {
    let dir = config::data_dir(data_dir)?;
    let db = database_location(&dir, args.database.as_ref())?;
    let record = stored_vault(&db, "run `keyport serve` first")?;
    let old = passphrase::obtain(
        args.passphrase_file.as_deref(),
        passphrase::ENV,
        "Current passphrase",
        false,
    )?;
    let vault = Vault::unlock(&record, &old).map_err(unlock_error)?;
    let new = passphrase::obtain(
        args.new_passphrase_file.as_deref(),
        "KEYPORT_NEW_PASSPHRASE",
        "New passphrase",
        true,
    )?;
    let rewrapped = vault
        .rewrap(&new, vault.params())
        .map_err(|e| CliError::new(e.to_string()))?;
    let changed = Store::replace_vault_at(&db, &rewrapped, &Clock::system().stamp())
        .map_err(|e| CliError::new(format!("{db}: {e}")))?;
    println!(
        "keyport: passphrase changed ({changed} row rewritten; no stored secret was re-encrypted)"
    );
    Ok(())
}
