//! keyport holding the logins of remote MCP servers, against real parts: a remote MCP
//! server built with the official Python MCP SDK as an OAuth resource server
//! (tests/peers/mcp/remote.py: Streamable HTTP, token introspection, audience check), behind
//! panva's oidc-provider with dynamic registration, resource indicators, rotating refresh
//! tokens and reuse detection; the user's consent in Chromium; the MCP Python SDK's client
//! as the host (tests/peers/mcp/bridge_client.py), spawning `keyport mcp bridge` over stdio.

mod faults;
mod flow;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::peers::{self, OidcProvider, Process};
use crate::common::{Server, bin, keyport};

/// The resource server's introspection client at the authorization server.
const RS_ID: &str = "mcp-rs";
const RS_SECRET: &str = "mcp-rs-introspection-secret";

/// A remote.py flag value replaced by the authorization server's URL with its host named
/// `localhost`: the same server under a name that is not its issuer.
const AS_AS_LOCALHOST: &str = "{issuer as localhost}";

/// The remote MCP server (tests/peers/mcp/remote.py).
pub(crate) struct Remote {
    _process: Process,
    pub url: String,
    stats_url: String,
}

impl Remote {
    fn start(issuer: &str, flags: &[&str]) -> Remote {
        let child = Command::new(peers::python_v3_having("mcp", "2.3.0"))
            .arg(peers::dir().join("mcp/remote.py"))
            .args(["--issuer", issuer, "--introspect-client-id", RS_ID])
            .args([
                "--introspect-client-secret",
                RS_SECRET,
                "--scopes",
                "mcp:tools",
            ])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start remote.py");
        let mut process = Process(child);
        // Generous: on a loaded 2-core machine the SDK's first start took over a minute.
        let line = process.first_line(Duration::from_secs(240));
        let ready: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("remote.py said {line:?}: {e}"));
        Remote {
            _process: process,
            url: ready["url"].as_str().expect("url").to_string(),
            stats_url: ready["stats"].as_str().expect("stats").to_string(),
        }
    }

    fn stats(&self) -> Value {
        crate::common::client::get_json(&self.stats_url)
    }
}

/// An authorization server, a remote MCP server behind it and a keyport.
pub(crate) struct Rig {
    pub idp: OidcProvider,
    pub remote: Remote,
    pub server: Server,
}

impl Rig {
    /// Access tokens live `access_ttl` seconds; `flags` go to remote.py.
    fn start(access_ttl: u32, flags: &[&str]) -> Rig {
        let (idp, _) = OidcProvider::start_config(&json!({
            "port": 0, "registration": true, "redirect_uris": [],
            "introspection_client_id": RS_ID, "introspection_client_secret": RS_SECRET,
            "access_ttl": access_ttl,
        }));
        let localhost = idp.issuer.replace("127.0.0.1", "localhost");
        let flags: Vec<&str> = flags
            .iter()
            .map(|f| {
                if *f == AS_AS_LOCALHOST {
                    localhost.as_str()
                } else {
                    f
                }
            })
            .collect();
        let remote = Remote::start(&idp.issuer, &flags);
        idp.configure(&json!({"resource": remote.url,
            "resource_scopes": ["mcp:tools", "mcp:admin"]}));
        Rig {
            idp,
            remote,
            server: Server::start(),
        }
    }

    /// `keyport --json ARGS` against this rig's server.
    fn keyport(&self, args: &[&str]) -> Output {
        keyport(&self.server.dir)
            .args(["--url", &self.server.url, "--json"])
            .args(args)
            .output()
            .expect("run keyport")
    }

    /// `keyport mcp add NAME URL`, which must succeed; its JSON answer.
    fn add(&self, name: &str) -> Value {
        let out = self.keyport(&["mcp", "add", name, &self.remote.url]);
        assert!(
            out.status.success(),
            "mcp add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("mcp add prints JSON")
    }

    /// A new login for `entity` to `server`, started through the API: its id and link.
    fn start_login(&self, server: &Value, entity: &str) -> (String, String) {
        let created = self.server.create_connection(json!({
            "integrationId": server["id"], "userUuid": entity}));
        (
            created["connectedAccountId"].as_str().unwrap().to_string(),
            created["redirectUrl"].as_str().unwrap().to_string(),
        )
    }

    /// Signs `entity` in to `server` in Chromium; the connection, ACTIVE.
    fn login(&self, server: &Value, entity: &str) -> String {
        let (id, url) = self.start_login(server, entity);
        peers::drive(&url, &["--expect-text", "Connected"]);
        let connection = self.server.connection(&id);
        assert_eq!(connection["status"], "ACTIVE", "{connection}");
        id
    }

    /// The MCP Python SDK's client over stdio, spawning `keyport mcp bridge NAME`: its
    /// summary line and its stderr (the bridge's too).
    fn host(&self, name: &str, entity: &str, args: &[&str]) -> (Value, String) {
        let out = self
            .host_command(name, entity, args)
            .output()
            .expect("run bridge_client.py");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary = serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| {
                panic!(
                    "bridge_client.py said {stdout:?} ({e}); stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        (summary, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn host_command(&self, name: &str, entity: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(peers::python_v3());
        cmd.arg(peers::dir().join("mcp/bridge_client.py"))
            .args(args)
            .arg("--")
            .arg(bin())
            .arg("--data-dir")
            .arg(&self.server.dir)
            .args([
                "--url",
                &self.server.url,
                "mcp",
                "bridge",
                name,
                "--entity",
                entity,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// The login's live tokens, as an admin reveal shows them.
    fn tokens(&self, connection: &str) -> Vec<String> {
        let (status, revealed) = self.server.reveal(connection);
        assert_eq!(status, 200, "{revealed}");
        ["access_token", "refresh_token"]
            .iter()
            .filter_map(|k| revealed["credentials"][k].as_str())
            .map(str::to_string)
            .collect()
    }
}

/// A tool call's result as the host saw it.
fn call<'a>(summary: &'a Value, tool: &str) -> &'a Value {
    summary["calls"]
        .as_array()
        .and_then(|calls| calls.iter().find(|c| c["tool"] == tool))
        .unwrap_or_else(|| panic!("no {tool} call in {summary}"))
}

/// `secret` as the forms a leak would take.
fn encodings(secret: &str) -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    vec![
        secret.to_string(),
        hex::encode(secret),
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
    ]
}

/// Every file under `dir` but the sealed vault, with the texts given, searched for every
/// encoding of every secret: the names of the places a secret was found.
fn leaks(dir: &Path, texts: &[(&str, &str)], secrets: &[String]) -> Vec<String> {
    let mut places: Vec<(String, Vec<u8>)> = texts
        .iter()
        .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()))
        .collect();
    for entry in walk(dir) {
        let name = entry
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if !name.starts_with("keyport.db") {
            places.push((
                entry.display().to_string(),
                std::fs::read(&entry).unwrap_or_default(),
            ));
        }
    }
    let mut found = Vec::new();
    for (place, bytes) in &places {
        for secret in secrets {
            for form in encodings(secret) {
                if memchr::memmem::find(bytes, form.as_bytes()).is_some() {
                    found.push(format!("{place}: {}…", &form[..8.min(form.len())]));
                }
            }
        }
    }
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
