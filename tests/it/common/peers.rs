//! The real peers the tests start, and where to find them: `python()` and `node()` are the
//! one locator of each interpreter, with one policy — a missing peer is a failure with the
//! command that installs it, never a skipped test. `Peer` runs a script of tests/peers that
//! announces `PORT <n>`; `OidcProvider` runs panva's oidc-provider (tests/peers/oidc);
//! `drive` walks Chromium through a consent page with playwright-core.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::client::{agent, call};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// tests/peers
pub fn dir() -> PathBuf {
    root().join("tests/peers")
}

/// The Python with the peers' packages: `KEYPORT_TEST_PYTHON` (set by tests/run.sh), else a
/// venv in target/test-venv made here from tests/peers/requirements.txt when it is missing
/// or older than that file. No Python is a failure.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| venv_python("KEYPORT_TEST_PYTHON", "test-venv", "requirements.txt"))
}

/// The Python with the current Composio SDK (tests/peers/requirements-v3.txt, which
/// conflicts with the legacy SDK of the other venv): `KEYPORT_TEST_PYTHON_V3`, else
/// target/test-venv-v3, made the same way.
pub fn python_v3() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        venv_python(
            "KEYPORT_TEST_PYTHON_V3",
            "test-venv-v3",
            "requirements-v3.txt",
        )
    })
}

/// The v3 venv's Python, which must have `package` at `version` (a missing or other
/// version fails with the command that installs it, never skips).
pub fn python_v3_having(package: &str, version: &str) -> &'static Path {
    let python = python_v3();
    let probe = Command::new(python)
        .arg("-c")
        .arg(format!(
            "import importlib.metadata as m; print(m.version('{package}'))"
        ))
        .output()
        .expect("run the v3 venv's python");
    let found = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    assert!(
        probe.status.success() && found == version,
        "{} lacks {package} {version} ({found:?}): run tests/run.sh, which installs \
         tests/peers/requirements-v3.txt into target/test-venv-v3",
        python.display()
    );
    python
}

fn venv_python(var: &str, venv: &str, requirements: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let venv = root().join("target").join(venv);
    let python = venv.join("bin/python");
    let stamp = venv.join(".installed");
    let requirements = dir().join(requirements);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = python.exists()
        && matches!((modified(&stamp), modified(&requirements)), (Some(s), Some(r)) if s >= r);
    if !fresh {
        make_venv(&venv, &python, &requirements);
        std::fs::write(&stamp, b"").expect("venv stamp");
    }
    python
}

fn make_venv(venv: &Path, python: &Path, requirements: &Path) {
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "the tests need python3 with venv for their Python peers, and python3 could \
                 not be run ({e}); install python3 and python3-venv, or run tests/run.sh, or \
                 set KEYPORT_TEST_PYTHON"
            )
        });
    assert!(
        status.success(),
        "python3 -m venv {} failed; install python3-venv",
        venv.display()
    );
    let status = Command::new(python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .arg("-r")
        .arg(requirements)
        .status()
        .expect("run pip");
    assert!(
        status.success(),
        "pip install -r {} failed",
        requirements.display()
    );
}

/// `node`, with the npm peers of tests/peers/oidc installed. Missing either is a failure.
pub fn node() -> &'static Path {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| {
        let node = PathBuf::from("node");
        let runs = Command::new(&node)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            runs,
            "node could not be run: install nodejs, or run tests/run.sh"
        );
        assert!(
            dir().join("oidc/node_modules").exists(),
            "run tests/run.sh (it installs the npm peers) first"
        );
        node
    })
}

/// A child process killed and reaped when dropped, however the test ends.
pub struct Process(pub Child);

impl Process {
    /// The first line the process printed on its stdout.
    pub fn first_line(&mut self, within: Duration) -> String {
        self.try_first_line(within)
            .unwrap_or_else(|| panic!("the peer said nothing within {within:?}"))
    }

    /// The first line the process printed on its stdout, if it printed one in time.
    fn try_first_line(&mut self, within: Duration) -> Option<String> {
        let stdout = self.0.stdout.take().expect("peer stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        rx.recv_timeout(within).ok()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One running Python peer script of tests/peers, configured with JSON.
pub struct Peer {
    _process: Process,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl Peer {
    /// Starts `script` (relative to tests/peers) and waits for its `PORT <n>` line.
    pub fn start(script: &str, config: &Value) -> Peer {
        let child = Command::new(python())
            .arg(dir().join(script))
            .arg(config.to_string())
            .current_dir(dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {script}: {e}"));
        let mut process = Process(child);
        let line = process.first_line(Duration::from_secs(60));
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script} printed {line:?} instead of its port"));
        Peer {
            _process: process,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn get(&self, path: &str) -> Value {
        let (status, value) = call(&self.url, "GET", path, None, None);
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    pub fn control(&self, change: Value) {
        let (status, value) = call(&self.url, "POST", "/_control", None, Some(&change));
        assert_eq!(status, 200, "{value}");
    }
}

/// panva's oidc-provider with one client, on 127.0.0.1.
pub struct OidcProvider {
    _process: Process,
    pub issuer: String,
}

impl OidcProvider {
    /// `access_ttl`: the access tokens' lifetime in seconds (the peer's default if `None`).
    pub fn start(
        client: (&str, &str),
        redirect_uri: &str,
        access_ttl: Option<u32>,
    ) -> OidcProvider {
        let command = move || {
            let mut cmd = Command::new(node());
            cmd.arg(dir().join("oidc/server.js"))
                .args(["--port", "0", "--client-id", client.0])
                .args(["--client-secret", client.1, "--redirect-uri", redirect_uri]);
            if let Some(ttl) = access_ttl {
                cmd.args(["--access-ttl", &ttl.to_string()]);
            }
            cmd
        };
        Self::spawn(command).0
    }

    /// The peer configured by `config` alone (its `OIDC_PEER_CONFIG` keys, see its
    /// README), and the ready line it printed.
    pub fn start_config(config: &Value) -> (OidcProvider, Value) {
        Self::spawn(|| {
            let mut cmd = Command::new(node());
            cmd.arg(dir().join("oidc/server.js"))
                .env("OIDC_PEER_CONFIG", config.to_string());
            cmd
        })
    }

    /// Starts the peer `command` builds and waits for its ready line. A peer that stays
    /// silent is killed and started once more: a CI run saw one print nothing for 180 s
    /// on a loaded machine, then a rerun start in seconds.
    fn spawn(command: impl Fn() -> Command) -> (OidcProvider, Value) {
        let start = || {
            let child = command()
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("node runs the oidc-provider peer");
            Process(child)
        };
        let mut process = start();
        let line = match process.try_first_line(Duration::from_secs(90)) {
            Some(line) => line,
            None => {
                drop(process);
                process = start();
                process.first_line(Duration::from_secs(180))
            }
        };
        let info: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("peer said {line:?}: {e}"));
        let provider = OidcProvider {
            _process: process,
            issuer: info["issuer"].as_str().expect("issuer").to_string(),
        };
        (provider, info)
    }

    pub fn stats(&self) -> Value {
        super::client::get_json(&format!("{}/__stats", self.issuer))
    }

    pub fn post(&self, path: &str) {
        let status = agent()
            .post(format!("{}{path}", self.issuer))
            .send_empty()
            .expect("POST to the provider")
            .status();
        assert!(status.is_success(), "{path}: {status}");
    }

    pub fn token_calls(&self, grant: &str) -> u64 {
        self.stats()["token"][grant].as_u64().unwrap_or(0)
    }

    /// How many `grant` requests the token endpoint refused.
    pub fn token_errors(&self, grant: &str) -> u64 {
        self.stats()["token_errors"][grant].as_u64().unwrap_or(0)
    }

    /// Changes the peer's runtime settings (`POST /__config`, see its README).
    pub fn configure(&self, change: &Value) {
        let (status, answer) = call(&self.issuer, "POST", "/__config", None, Some(change));
        assert_eq!(status, 200, "{answer}");
    }
}

/// Drives Chromium through the flow at `url`; returns drive.js's JSON line.
pub fn drive(url: &str, extra: &[&str]) -> Value {
    let mut args = vec![url];
    args.extend_from_slice(extra);
    browse("drive.js", &args)
}

/// Opens `url` in Chromium, waits for `text`, clicks `selector`; returns click.js's JSON.
pub fn click(url: &str, text: &str, selector: &str) -> Value {
    browse(
        "click.js",
        &[url, "--expect-text", text, "--click", selector],
    )
}

/// Runs the browser script `script` (in the oidc peer) with `args`: it must succeed, and
/// its last line of output is its JSON answer.
fn browse(script: &str, args: &[&str]) -> Value {
    let out = Command::new(node())
        .arg(dir().join("oidc").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("node runs {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{script} JSON: {e}"))
}
