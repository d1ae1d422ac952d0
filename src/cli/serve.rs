//! `keyport serve`: make the data dir private, resolve the one [`Config`] (defaults <
//! `config.toml` < `KEYPORT_*` < flags), unlock (or create) the vault on the main thread
//! before any worker exists, mint the admin key if needed, bind loopback, serve (with
//! keep-alive beside it unless turned off) until Ctrl-C / SIGTERM, wait (bounded) for token
//! exchanges under way to commit, then checkpoint the database and remove the address file.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::web;
use clap::Args;
use secrecy::ExposeSecret;

use super::{CliError, CliResult, passphrase};
use crate::actions::Actions;
use crate::clock::Clock;
use crate::config::{self, Config, DB_FILE, Settings};
use crate::http::{self, HostPolicy};
use crate::providers::Catalog;
use crate::service::{KeepAliveSettings, Service};
use crate::store::{DatabaseUrl, Location, Store, StoreError};
use crate::vault::{KdfParams, Vault, VaultError, VaultRecord};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Each setting flag overrides `KEYPORT_*` and `config.toml` (see `config.rs`).
    #[command(flatten)]
    pub settings: Settings,
    /// Read the passphrase from this file (first line) instead of KEYPORT_PASSPHRASE or a prompt.
    #[arg(long, env = "KEYPORT_PASSPHRASE_FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Allow listening on a non-loopback address (anyone who can reach it can try API keys).
    #[arg(long)]
    pub allow_remote: bool,
    /// Keep the vault in this PostgreSQL database (`postgres://user:password@host/db`)
    /// instead of the SQLite file in the data directory.
    #[arg(long, env = DATABASE_ENV, hide_env_values = true, value_name = "URL",
          value_parser = database_arg)]
    pub database: Option<DatabaseArg>,
}

/// The environment variable `--database` is read from when not given.
pub const DATABASE_ENV: &str = "KEYPORT_DATABASE_URL";

/// `--database` as given: checked only once it is parsed by [`database_location`], so
/// that clap never echoes a URL (and its password) in an error.
#[derive(Clone)]
pub struct DatabaseArg(secrecy::SecretString);

impl std::fmt::Debug for DatabaseArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseArg([redacted])")
    }
}

impl DatabaseArg {
    /// The text as given, which may hold a password.
    pub(crate) fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

pub(crate) fn database_arg(text: &str) -> Result<DatabaseArg, std::convert::Infallible> {
    Ok(DatabaseArg(text.to_owned().into()))
}

/// Where the vault lives: the database named by `--database`, else `DATA/keyport.db`.
pub fn database_location(dir: &Path, arg: Option<&DatabaseArg>) -> Result<Location, CliError> {
    use secrecy::ExposeSecret;
    // A blank variable counts as unset, as every KEYPORT_* setting's does.
    match arg.filter(|DatabaseArg(url)| !url.expose_secret().trim().is_empty()) {
        None => Ok(Location::File(dir.join(DB_FILE))),
        Some(DatabaseArg(url)) => DatabaseUrl::parse(url.expose_secret().trim())
            .map(Location::Postgres)
            .map_err(|e| CliError::new(format!("--database: {e}"))),
    }
}

/// How long a stopping server waits for token exchanges under way to commit.
const EXCHANGE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Exit code for a refused unlock (wrong passphrase, corrupt vault).
pub const EXIT_UNLOCK: u8 = 2;

pub(crate) fn unlock_error(e: VaultError) -> CliError {
    match e {
        VaultError::WrongPassphrase => CliError::with_code("wrong passphrase", EXIT_UNLOCK),
        VaultError::Corrupt(why) => {
            CliError::with_code(format!("the vault is corrupt: {why}"), EXIT_UNLOCK)
        }
        other => CliError::with_code(other.to_string(), EXIT_UNLOCK),
    }
}

/// The vault record at `db`, for a command that opens the vault offline (`passwd`,
/// `migrate`): an unreadable one exits as a refused unlock; `missing` when there is none.
pub(crate) fn stored_vault(db: &Location, missing: &str) -> Result<VaultRecord, CliError> {
    Store::peek_vault(db)
        .map_err(|e| CliError::with_code(format!("{db}: {e}"), EXIT_UNLOCK))?
        .ok_or_else(|| CliError::new(format!("no vault at {db}; {missing}")))
}

fn store_error(db: &Location, e: StoreError) -> CliError {
    match e {
        StoreError::NoVault => CliError::with_code(format!("{db}: corrupt: {e}"), EXIT_UNLOCK),
        other => CliError::new(format!("{db}: {other}")),
    }
}

/// Hardening that needs no privileges: files created from here on are private, and the
/// process cannot be core-dumped or ptrace-attached by other same-user processes.
pub(crate) fn harden_process() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    let _ = nix::sys::prctl::set_dumpable(false);
}

/// Opens the existing vault, or creates one. Returns the store, the unlocked vault and
/// whether it was created.
pub fn open_or_create(
    db: &Location,
    config: &Config,
    passphrase_file: Option<&Path>,
    clock: &Clock,
) -> Result<(Store, Vault, bool), CliError> {
    match Store::peek_vault(db).map_err(|e| store_error(db, e))? {
        Some(record) => {
            let pass =
                passphrase::obtain(passphrase_file, passphrase::ENV, "Vault passphrase", false)?;
            let started = crate::clock::Stopwatch::start();
            let vault = Vault::unlock(&record, &pass).map_err(unlock_error)?;
            tracing::info!(ms = started.elapsed().as_millis() as u64, "vault unlocked");
            let store = Store::open(db).map_err(|e| store_error(db, e))?;
            Ok((store, vault, false))
        }
        None => {
            eprintln!("keyport: creating a new vault at {db}");
            let pass = passphrase::obtain(
                passphrase_file,
                passphrase::ENV,
                "Choose a vault passphrase",
                true,
            )?;
            let params = KdfParams::calibrate(config.kdf_target);
            let (vault, record) = Vault::create(&pass, params).map_err(unlock_error)?;
            let store =
                Store::create(db, &record, &clock.stamp()).map_err(|e| store_error(db, e))?;
            Ok((store, vault, true))
        }
    }
}

/// The built-in actions and the user's (`DATA/actions/*.json`); a broken user file is
/// reported on stderr and in the log, naming the file and why, and skipped.
pub(crate) fn load_actions(dir: &Path, catalog: &Catalog) -> Result<Actions, CliError> {
    let (actions, problems) = Actions::load(&dir.join(config::ACTIONS_DIR), catalog)
        .map_err(|e| CliError::new(e.to_string()))?;
    for problem in &problems {
        tracing::warn!(error = %problem, "user action file skipped");
        eprintln!("keyport: warning: action file skipped: {problem}");
    }
    Ok(actions)
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

pub fn run(data_dir: Option<PathBuf>, args: ServeArgs) -> CliResult {
    harden_process();
    let dir = config::data_dir(data_dir)?;
    config::ensure_private_dir(&dir)?;
    let config = Config::load(&dir, args.settings, args.allow_remote)?;
    let _log = crate::logging::init(&config.log);
    let addr = config.listen;

    let clock = Clock::system();
    let db = database_location(&dir, args.database.as_ref())?;
    let (store, vault, created) =
        open_or_create(&db, &config, args.passphrase_file.as_deref(), &clock)?;

    let (catalog, problems) = Catalog::load(&dir.join(config::PROVIDERS_DIR));
    for problem in &problems {
        tracing::warn!(error = %problem, "provider override skipped");
        eprintln!("keyport: warning: {problem}");
    }

    let listener = TcpListener::bind(addr)
        .map_err(|e| CliError::new(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::new(e.to_string()))?;
    if !is_loopback(&bound) {
        eprintln!("keyport: WARNING: listening on {bound}, reachable from other machines");
    }
    let local_url = format!("http://{bound}");
    let extra_host = (!is_loopback(&bound)).then(|| bound.to_string());
    let mut policy = HostPolicy::for_port(bound.port(), extra_host);
    let public_url = match &config.public_url {
        Some(url) => {
            policy = policy.with_public(url);
            crate::config::public_url::base(url)
        }
        None => local_url.clone(),
    };

    let actions = load_actions(&dir, &catalog)?;
    let service = Service::new(store, vault, catalog, clock, public_url.clone(), &config)
        .map_err(|e| CliError::new(e.to_string()))?
        .with_actions(actions);
    let key_path = dir.join(config::ADMIN_KEY_FILE);
    let existing = config::read_trimmed(&key_path)?;
    if let Some(new_key) = service
        .ensure_admin_key(existing.as_deref())
        .map_err(|e| CliError::new(e.to_string()))?
    {
        config::write_private(
            &key_path,
            format!("{}\n", new_key.expose_secret()).as_bytes(),
        )?;
    }
    let url_path = dir.join(config::SERVER_URL_FILE);
    config::write_private(&url_path, format!("{local_url}\n").as_bytes())?;

    if created {
        println!("keyport: new vault created in {}", dir.display());
    }
    println!("keyport: listening on {local_url}");
    if public_url != local_url {
        println!("keyport: reached as {public_url}");
    }
    println!("keyport: admin API key in {}", key_path.display());

    let data = web::Data::new(service);
    if let Some(hook) = &config.webhook {
        crate::webhooks::spawn(data.clone().into_inner(), hook)
            .map_err(|e| CliError::new(format!("cannot start the webhook thread: {e}")))?;
    }
    let result = serve_until_stopped(&data, &config, listener, policy);
    shut_down(&data);
    let _ = std::fs::remove_file(&url_path);
    println!("keyport: stopped");
    result.map_err(|e| CliError::new(format!("server error: {e}")))
}

/// Serves, with keep-alive beside it when on, until a signal stops the server.
fn serve_until_stopped(
    data: &web::Data<Service>,
    config: &Config,
    listener: TcpListener,
    policy: HostPolicy,
) -> std::io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    actix_web::rt::System::new().block_on(async {
        if config.keep_alive {
            let settings = KeepAliveSettings {
                default_idle: config.refresh_token_idle,
            };
            actix_web::rt::spawn(
                data.clone()
                    .into_inner()
                    .keep_alive(settings, Arc::clone(&stop)),
            );
        } else {
            tracing::info!("keep-alive off: grants are refreshed only when used");
        }
        let served = http::serve(data.clone(), listener, policy).await;
        // A keep-alive refresh under way finishes and commits (the runtime waits for the
        // blocking pool); no further one starts.
        stop.store(true, Ordering::Relaxed);
        served
    })
}

/// What must reach the disk before the process ends.
fn shut_down(data: &web::Data<Service>) {
    // A refresh or code exchange the provider may already have answered is committed
    // before exit (a rotated refresh token is otherwise lost, and the grant with it).
    let unfinished = data.finish_exchanges(EXCHANGE_GRACE);
    if unfinished > 0 {
        tracing::warn!(
            unfinished,
            "token exchanges still under way after {} s; exiting anyway",
            EXCHANGE_GRACE.as_secs()
        );
    }
    data.flush_audit();
    if let Err(e) = data.store().checkpoint() {
        tracing::warn!(error = %e, "checkpoint at shutdown failed");
    }
}
