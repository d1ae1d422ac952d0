//! `keyport migrate --to <URL|PATH>`: copies the vault this keyport would open (the data
//! dir's SQLite file, or `--database`) into an empty PostgreSQL database or SQLite file, then
//! checks the copy. Like `passwd`, an offline admin command: it opens both stores itself,
//! and refuses a source a keyport is serving (whose writes after the snapshot would be lost).
//! A source written by an older keyport is brought to this build's schema first, as `serve`
//! and `passwd` would, so that both sides have the same tables.
//!
//! Nothing is decrypted to be copied: sealed blobs, hashes, MACs and the vault row move as
//! they are stored (`store::copy`), so the copy opens under the same passphrase and data
//! key. The wrong passphrase, a served source or a destination holding anything is refused
//! before anything is written; the copy itself is one transaction. Once it has committed,
//! the copy is checked: same vault row, unlocked by the passphrase, the same rows table by
//! table (count and digest), every sealed blob opened with the data key by the service's own
//! code, and the audit chain verifying as it does in the source.

use std::path::PathBuf;

use clap::Args;
use secrecy::SecretString;

use super::serve::{
    DATABASE_ENV, DatabaseArg, database_arg, database_location, harden_process, stored_vault,
    unlock_error,
};
use super::{CliError, CliResult, passphrase};
use crate::audit::KEY_PURPOSE;
use crate::audit::verify::{Verdict, verify};
use crate::config;
use crate::service::open_sealed;
use crate::store::{CopyError, DatabaseUrl, Location, Store, StoreError, TABLES, Tally};
use crate::vault::{Vault, VaultError, VaultRecord};

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Where to copy the vault: a `postgres://` URL or a SQLite file path. It must be empty
    /// (a database with no keyport data, or a file that does not exist yet).
    #[arg(long, env = "KEYPORT_MIGRATE_TO", hide_env_values = true,
          value_name = "URL|PATH", value_parser = database_arg)]
    pub to: DatabaseArg,
    /// Read the passphrase from this file instead of KEYPORT_PASSPHRASE or a prompt.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// The PostgreSQL database to copy from, as given to `keyport serve --database`
    /// (default: the SQLite file in the data directory).
    #[arg(long, env = DATABASE_ENV, hide_env_values = true, value_name = "URL",
          value_parser = database_arg)]
    pub database: Option<DatabaseArg>,
}

/// Exit code for a copy that was written but does not check out.
pub const EXIT_MISMATCH: u8 = 3;

/// How a written copy differs from its source.
#[derive(Debug, thiserror::Error)]
enum Mismatch {
    #[error("its vault row differs from the source's")]
    VaultRow,
    #[error("the passphrase does not unlock it: {0}")]
    Unlock(VaultError),
    #[error("table {table} has {in_source} rows in the source and {in_copy} in the copy")]
    Rows {
        table: &'static str,
        in_source: u64,
        in_copy: u64,
    },
    #[error("table {0} holds rows that differ from the source's")]
    Contents(&'static str),
    #[error("{table}.{column} of row {row} does not open with the data key")]
    Sealed {
        table: &'static str,
        column: &'static str,
        row: String,
    },
    #[error("its audit chain verifies differently ({in_copy:?}) from the source's ({in_source:?})")]
    Audit {
        in_source: Box<Verdict>,
        in_copy: Box<Verdict>,
    },
}

#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Copy(#[from] CopyError),
}

/// What the check of a copy found.
struct Checked {
    sealed: u64,
    audit: Verdict,
}

/// `--to`: a PostgreSQL URL, or else a file path.
fn destination(arg: &DatabaseArg) -> Result<Location, CliError> {
    let text = arg.expose_secret().trim();
    if text.is_empty() {
        return Err(CliError::new("--to: give a postgres:// URL or a file path"));
    }
    if text.contains("://") {
        return DatabaseUrl::parse(text)
            .map(Location::Postgres)
            .map_err(|e| CliError::new(format!("--to: {e}")));
    }
    Ok(Location::File(PathBuf::from(text)))
}

pub fn run(data_dir: Option<PathBuf>, args: MigrateArgs) -> CliResult {
    // A SQLite copy is created private, as `serve` creates its file.
    harden_process();
    let dir = config::data_dir(data_dir)?;
    let from = database_location(&dir, args.database.as_ref())?;
    let to = destination(&args.to)?;
    let record = stored_vault(&from, "nothing to copy")?;
    if let Some(who) = Store::served(&from).map_err(|e| CliError::new(format!("{from}: {e}")))? {
        return Err(CliError::new(format!(
            "{from} is in use ({who}): stop the keyport serving it, then copy; nothing was copied"
        )));
    }
    let pass = passphrase::obtain(
        args.passphrase_file.as_deref(),
        passphrase::ENV,
        "Vault passphrase",
        false,
    )?;
    let vault = Vault::unlock(&record, &pass).map_err(unlock_error)?;
    let source = Store::open(&from).map_err(|e| CliError::new(format!("{from}: {e}")))?;
    let copied = source.copy_into(&to).map_err(|e| {
        CliError::new(format!(
            "copying {from} to {to}: {e}; nothing was written to {to}"
        ))
    })?;
    let checked = check(&source, &vault, &record, &to, &pass, &copied).map_err(|e| {
        CliError::with_code(
            format!("{to}: the copy does not match its source: {e} (it was written: remove it before copying again)"),
            EXIT_MISMATCH,
        )
    })?;
    summarize(&from, &to, &copied, &checked);
    Ok(())
}

/// Checks the copy at `to` against its source (see the module).
fn check(
    source: &Store,
    vault: &Vault,
    record: &VaultRecord,
    to: &Location,
    pass: &SecretString,
    copied: &[Tally],
) -> Result<Checked, CheckError> {
    let copy_record = Store::peek_vault(to)?.ok_or(StoreError::NoVault)?;
    if copy_record != *record {
        return Err(Mismatch::VaultRow.into());
    }
    let copy_vault = Vault::unlock(&copy_record, pass).map_err(Mismatch::Unlock)?;
    let copy = Store::open(to)?;
    compare(copied, &copy.tally()?)?;
    let sealed = copy.each_sealed(|column, row, blob| {
        open_sealed(&copy_vault, column.table, row, blob)
            .map(drop)
            .map_err(|_| {
                CheckError::from(Mismatch::Sealed {
                    table: column.table,
                    column: column.column,
                    row: row.to_string(),
                })
            })
    })?;
    let in_source = audit_verdict(source, vault)?;
    let in_copy = audit_verdict(&copy, &copy_vault)?;
    if in_source != in_copy {
        return Err(Mismatch::Audit {
            in_source: Box::new(in_source),
            in_copy: Box::new(in_copy),
        }
        .into());
    }
    Ok(Checked {
        sealed,
        audit: in_copy,
    })
}

/// The tallies of the copy against those of the rows read from the source.
fn compare(copied: &[Tally], in_copy: &[Tally]) -> Result<(), Mismatch> {
    for (read, found) in copied.iter().zip(in_copy) {
        if read.rows != found.rows {
            return Err(Mismatch::Rows {
                table: read.table,
                in_source: read.rows,
                in_copy: found.rows,
            });
        }
        if read.digest != found.digest {
            return Err(Mismatch::Contents(read.table));
        }
    }
    Ok(())
}

/// A walk of `store`'s audit chain under `vault`'s chain key.
fn audit_verdict(store: &Store, vault: &Vault) -> Result<Verdict, CheckError> {
    let key = vault.mac_key(KEY_PURPOSE).map_err(Mismatch::Unlock)?;
    Ok(store.snapshot(|db| verify(db, &key))?)
}

fn summarize(from: &Location, to: &Location, copied: &[Tally], checked: &Checked) {
    println!("keyport: copied {from} to {to}");
    for tally in copied {
        println!("  {:<14} {:>8} rows", tally.table, tally.rows);
    }
    let rows: u64 = copied.iter().map(|t| t.rows).sum();
    println!(
        "keyport: checked: {} tables, {rows} rows identical in the copy; {} sealed values open \
         with the data key; the audit chain's {} records verify as in the source",
        TABLES.len(),
        checked.sealed,
        checked.audit.records
    );
    if let Some(broken) = &checked.audit.broken {
        eprintln!(
            "keyport: warning: the audit chain was already broken in the source at record {} \
             ({}); it was copied as it was",
            broken.seq, broken.reason
        );
    }
}
