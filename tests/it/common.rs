//! Test harness: starts the real `keyport` binary on an ephemeral loopback port with a
//! throwaway data dir, and talks to it over HTTP like any client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keyport")
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A `keyport` command for `dir`, with the fast KDF used in tests and no inherited config.
pub fn keyport(dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("--data-dir")
        .arg(dir)
        .env("KEYPORT_KDF_MS", "0")
        .env_remove("KEYPORT_URL")
        .env_remove("KEYPORT_LISTEN")
        .env_remove("KEYPORT_PASSPHRASE_FILE")
        .env_remove("KEYPORT_DATA_DIR")
        .stdin(Stdio::null());
    cmd
}

pub struct Server {
    pub dir: PathBuf,
    pub url: String,
    pub admin: String,
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let mut server = Server::start_in(&dir, PASSPHRASE).expect("server starts");
        server._tmp = Some(tmp);
        server
    }

    /// Starts `keyport serve` in `dir`; `Err(output)` if it exits instead of serving.
    pub fn start_in(dir: &Path, passphrase: &str) -> Result<Server, Output> {
        let log = std::fs::File::create(dir.with_extension("log")).expect("log file");
        let mut cmd = keyport(dir);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYPORT_PASSPHRASE", passphrase)
            .env("KEYPORT_LOG", "keyport=debug,info")
            .stdout(Stdio::piped())
            .stderr(log);
        Server::spawn(dir, cmd)
    }

    /// Runs `cmd` (a prepared `keyport serve` for `dir`, possibly wrapped, with its stderr
    /// going to `dir.with_extension("log")`) and waits until it serves.
    pub fn spawn(dir: &Path, mut cmd: Command) -> Result<Server, Output> {
        let url_file = dir.join("server.url");
        let _ = std::fs::remove_file(&url_file);
        let child = cmd.spawn().expect("spawn keyport");
        let mut child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = child.as_mut()
                && let Ok(Some(_)) = c.try_wait()
            {
                let out = child
                    .take()
                    .expect("child")
                    .wait_with_output()
                    .expect("output");
                let stderr = std::fs::read(dir.with_extension("log")).unwrap_or_default();
                return Err(Output { stderr, ..out });
            }
            if let Ok(url) = std::fs::read_to_string(&url_file) {
                let url = url.trim().to_string();
                if agent().get(format!("{url}/healthz")).call().is_ok() {
                    let admin = std::fs::read_to_string(dir.join("admin.key"))
                        .expect("admin.key")
                        .trim()
                        .to_string();
                    return Ok(Server {
                        dir: dir.to_path_buf(),
                        url,
                        admin,
                        child,
                        _tmp: None,
                    });
                }
            }
            assert!(
                Instant::now() < deadline,
                "keyport did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
                std::thread::sleep(Duration::from_millis(50));
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

    /// Restarts in the same data dir.
    pub fn restart(&mut self) {
        self.stop();
        let tmp = self._tmp.take();
        let mut next = Server::start_in(&self.dir, PASSPHRASE).expect("restart");
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

    /// An admin call that must succeed.
    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, value) = self.call(method, path, Some(&self.admin.clone()), body);
        assert_eq!(status, 200, "{method} {path} -> {status} {value}");
        value
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

pub fn call(
    base: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let url = format!("{base}{path}");
    let agent = agent();
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    let result = match body {
        Some(b) => agent.run(
            req.header("content-type", "application/json")
                .body(b.to_string())
                .expect("request"),
        ),
        None => agent.run(req.body(()).expect("request")),
    };
    let mut response = result.expect("HTTP call");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

pub fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read file");
    hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref())
}

/// Reads one whole HTTP request (headers and a Content-Length body) from a stand-in
/// server's stream; returns the head, lower-cased, with its closing blank line.
pub fn read_request(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf)
        && n > 0
    {
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end + 4]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return head;
            }
        }
    }
    String::from_utf8_lossy(&data).to_ascii_lowercase()
}
