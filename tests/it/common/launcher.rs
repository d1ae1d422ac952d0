//! The one keyport launcher of the tests and benches: `keyport serve` as a child process on
//! an ephemeral loopback port with a throwaway (or given) data dir, its log in
//! `<dir>.log`, ready once `/healthz` answers; plus the API calls tests make of it.
//! `Launch` holds what differs between callers (binary, passphrase, KDF, log level, extra
//! environment); `Server::spawn` takes a prepared command for tests that wrap the binary.
//! On a PostgreSQL run (`KEYPORT_TEST_DATABASE_URL`), each data dir's vault lives in a
//! database of its own (`database`), given to keyport as `KEYPORT_DATABASE_URL`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{agent, call};
use super::database::{self, Database};

pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keyport")
}

/// What keyport keeps in its data dir (the dir itself is 0700, each of these 0600).
pub const PRIVATE_FILES: [&str; 5] = [
    "keyport.db",
    "keyport.db-wal",
    "keyport.db-shm",
    "admin.key",
    "server.url",
];

/// Asserts that a CLI run succeeded, showing its stderr if not.
pub fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `keyport` command for `dir`, with the fast KDF used in tests and no inherited config.
pub fn keyport(dir: &Path) -> Command {
    Launch::default().command(dir)
}

/// How to start keyport.
#[derive(Clone)]
pub struct Launch {
    /// The binary to run.
    pub bin: PathBuf,
    pub passphrase: String,
    /// `KEYPORT_KDF_MS`; `None` leaves the default calibration.
    pub kdf_ms: Option<String>,
    /// `KEYPORT_LOG`; `None` leaves keyport's default level.
    pub log: Option<String>,
    /// More environment for `serve`.
    pub env: Vec<(String, String)>,
}

impl Default for Launch {
    /// The test binary, `PASSPHRASE`, the KDF at its floor, keyport's debug log.
    fn default() -> Launch {
        Launch {
            bin: bin().into(),
            passphrase: PASSPHRASE.into(),
            kdf_ms: Some("0".into()),
            log: Some("keyport=debug,info".into()),
            env: Vec::new(),
        }
    }
}

impl Launch {
    pub fn passphrase(mut self, passphrase: &str) -> Launch {
        self.passphrase = passphrase.into();
        self
    }

    /// `KEYPORT_LOG`; `None` leaves keyport's default level.
    pub fn log(mut self, filter: Option<&str>) -> Launch {
        self.log = filter.map(Into::into);
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Launch {
        self.env.push((name.into(), value.into()));
        self
    }

    /// The CLI for `dir`, without a subcommand, and with no inherited keyport setting.
    pub fn command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir").arg(dir).stdin(Stdio::null());
        for name in [
            "KEYPORT_URL",
            "KEYPORT_LISTEN",
            "KEYPORT_PASSPHRASE_FILE",
            "KEYPORT_DATA_DIR",
            "KEYPORT_KDF_MS",
            "KEYPORT_DATABASE_URL",
        ] {
            cmd.env_remove(name);
        }
        if let Some(database) = database::existing(dir) {
            cmd.env("KEYPORT_DATABASE_URL", database.url());
        }
        if let Some(ms) = &self.kdf_ms {
            cmd.env("KEYPORT_KDF_MS", ms);
        }
        cmd
    }

    /// `keyport serve` on 127.0.0.1:0 in `dir`, its stderr in `<dir>.log`.
    pub fn serve(&self, dir: &Path) -> Command {
        let log = std::fs::File::create(dir.with_extension("log")).expect("log file");
        let mut cmd = self.command(dir);
        if let Some(database) = database::for_dir(dir) {
            cmd.env("KEYPORT_DATABASE_URL", database.url());
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYPORT_PASSPHRASE", &self.passphrase)
            .env_remove("KEYPORT_LOG")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(filter) = &self.log {
            cmd.env("KEYPORT_LOG", filter);
        }
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd
    }

    /// Serves in a fresh temporary data dir, removed with the server.
    pub fn start(&self) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut server = self
            .start_in(&tmp.path().join("data"))
            .unwrap_or_else(|out| panic!("keyport did not start: {}", stderr(&out)));
        server.keep(tmp);
        server
    }

    /// Serves in `dir`; `Err(output)` if keyport exits instead of serving.
    pub fn start_in(&self, dir: &Path) -> Result<Server, Output> {
        let mut server = Server::spawn(dir, self.serve(dir))?;
        server.launch = self.clone();
        Ok(server)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub struct Server {
    pub dir: PathBuf,
    pub url: String,
    pub admin: String,
    /// From spawn to the first `/healthz` answer.
    pub ready: Duration,
    launch: Launch,
    child: Option<Child>,
    /// The server's PostgreSQL database, on a PostgreSQL run (see `database`).
    database: Option<Arc<Database>>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Server {
        Launch::default().start()
    }

    /// A server that created its vault and stopped cleanly: for tests of what is on disk.
    pub fn stopped() -> Server {
        let mut server = Server::start();
        server.stop();
        server
    }

    /// Starts `keyport serve` in `dir`; `Err(output)` if it exits instead of serving.
    pub fn start_in(dir: &Path, passphrase: &str) -> Result<Server, Output> {
        Launch::default().passphrase(passphrase).start_in(dir)
    }

    /// Runs `cmd` (a prepared `keyport serve` for `dir`, possibly wrapped, with its stderr
    /// going to `dir.with_extension("log")`) and waits until it serves.
    pub fn spawn(dir: &Path, mut cmd: Command) -> Result<Server, Output> {
        let url_file = dir.join("server.url");
        let _ = std::fs::remove_file(&url_file);
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn keyport");
        let deadline = started + Duration::from_secs(120);
        let probe = agent();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                let out = child.wait_with_output().expect("output");
                let stderr = std::fs::read(dir.with_extension("log")).unwrap_or_default();
                return Err(Output { stderr, ..out });
            }
            if let Ok(url) = std::fs::read_to_string(&url_file)
                && let Ok(r) = probe.get(format!("{}/healthz", url.trim())).call()
                && r.status() == 200
            {
                let admin = std::fs::read_to_string(dir.join("admin.key")).expect("admin.key");
                return Ok(Server {
                    dir: dir.to_path_buf(),
                    url: url.trim().to_string(),
                    admin: admin.trim().to_string(),
                    ready: started.elapsed(),
                    launch: Launch::default(),
                    child: Some(child),
                    database: database::take(dir),
                    _tmp: None,
                });
            }
            assert!(
                Instant::now() < deadline,
                "keyport did not start within 120 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The server's PostgreSQL database, on a PostgreSQL run.
    pub fn database(&self) -> Option<&Database> {
        self.database.as_deref()
    }

    /// Keeps a temp dir alive as long as the server.
    pub fn keep(&mut self, tmp: tempfile::TempDir) {
        self._tmp = Some(tmp);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default()
    }

    /// SIGTERM and wait: the clean shutdown path.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(status.success(), "keyport exited with {status} on SIGTERM");
                    assert!(
                        !self.dir.join("server.url").exists(),
                        "server.url is removed on a clean stop"
                    );
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("keyport did not stop within 20 s of SIGTERM");
        }
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL and reap: a crash, no clean shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts in the same data dir, started the same way.
    pub fn restart(&mut self) {
        self.stop();
        let tmp = self._tmp.take();
        let mut next = self.launch.start_in(&self.dir).expect("restart");
        next._tmp = tmp;
        *self = next;
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        call(&self.url, method, path, key, body)
    }

    /// A call with the admin key.
    pub fn as_admin(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call(method, path, Some(&self.admin), body)
    }

    /// An admin call that must succeed.
    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, value) = self.as_admin(method, path, body);
        assert_eq!(status, 200, "{method} {path} -> {status} {value}");
        value
    }

    /// `POST /api/v1/integrations` with `body`, which must succeed.
    pub fn integration(&self, body: Value) -> Value {
        self.ok("POST", "/api/v1/integrations", Some(&body))
    }

    /// `POST /api/v1/connectedAccounts` with `body`, which must succeed.
    pub fn create_connection(&self, body: Value) -> Value {
        self.ok("POST", "/api/v1/connectedAccounts", Some(&body))
    }

    /// `GET /api/v1/connectedAccounts/{id}`, which must succeed.
    pub fn connection(&self, id: &str) -> Value {
        self.ok("GET", &format!("/api/v1/connectedAccounts/{id}"), None)
    }

    /// `GET /api/v1/connectedAccounts/{id}/credentials` with the admin key.
    pub fn reveal(&self, id: &str) -> (u16, Value) {
        self.as_admin(
            "GET",
            &format!("/api/v1/connectedAccounts/{id}/credentials"),
            None,
        )
    }

    /// An integration for `app` with `scheme` and `config` (plus `base_url`), and an
    /// ACTIVE connection of `entity` with `data`; returns the connection id.
    pub fn connect(
        &self,
        app: &str,
        scheme: &str,
        base_url: &str,
        config: Value,
        entity: &str,
        data: Value,
    ) -> String {
        let mut auth_config = config;
        auth_config["base_url"] = json!(base_url);
        let integration = self
            .integration(json!({"appName": app, "authScheme": scheme, "authConfig": auth_config}));
        let created = self.create_connection(
            json!({"integrationId": integration["id"], "userUuid": entity, "data": data}),
        );
        assert_eq!(created["connectionStatus"], "ACTIVE", "{created}");
        created["connectedAccountId"]
            .as_str()
            .expect("connection id")
            .to_string()
    }

    /// A BEARER_TOKEN connection of `entity` to `app` with `token`, its API at `base`.
    pub fn bearer(&self, app: &str, base: &str, entity: &str, token: &str) -> String {
        self.connect(
            app,
            "BEARER_TOKEN",
            base,
            json!({}),
            entity,
            json!({"token": token}),
        )
    }

    /// Mints an API key with `body` (name, permission, entityId); returns the key.
    pub fn mint_key(&self, body: Value) -> String {
        let created = self.ok("POST", "/api/v1/keys", Some(&body));
        created["key"].as_str().expect("key").to_string()
    }

    /// The status events `key` may see after `last` (all the server keeps for `None`),
    /// until `count` arrived or `within` passed (see `client::events`).
    pub fn events(
        &self,
        key: &str,
        last: Option<u64>,
        count: usize,
        within: Duration,
    ) -> Vec<Value> {
        super::client::events(&self.url, key, last, count, within)
    }

    /// The status events of connection `id` so far (the admin key's stream, read for 1 s):
    /// `(oldStatus, newStatus, reason)` of each.
    pub fn moves_of(&self, id: &str) -> Vec<(Value, Value, Value)> {
        self.events(&self.admin, None, usize::MAX, Duration::from_secs(1))
            .into_iter()
            .filter(|e| e["connectedAccountId"] == id)
            .map(|e| {
                (
                    e["oldStatus"].clone(),
                    e["newStatus"].clone(),
                    e["reason"].clone(),
                )
            })
            .collect()
    }

    pub fn proxy(&self, body: Value) -> (u16, Value) {
        self.as_admin("POST", "/api/v2/actions/proxy", Some(&body))
    }

    pub fn execute(&self, action: &str, body: Value) -> (u16, Value) {
        self.as_admin(
            "POST",
            &format!("/api/v2/actions/{action}/execute"),
            Some(&body),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
