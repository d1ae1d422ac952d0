//! The memory floor of the burst: the bench's bare forwarder (actix-web + `awc`, nothing
//! else) run as a process of its own, so that its RSS around the same 1,000 concurrent
//! calls can be read beside keyport's. A proxy built the way keyport's is cannot hold less
//! per call in flight than this: each call is an inbound connection and an upstream one,
//! with the buffers actix-http and awc give each.
//!
//! The bench binary is the forwarder's program too: started with `LOAD_FORWARDER_FOR` set
//! to an upstream's base URL, `main` serves the forwarder, prints its base URL and stops
//! when its standard input closes (so it never outlives the bench).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use crate::upstream::Forwarder;

/// Set in the child's environment: the upstream to forward to.
pub const ENV: &str = "LOAD_FORWARDER_FOR";

/// The child's whole life: serve, say where, wait for the parent to go.
pub fn serve(target: &str, authorization: &str) {
    let forwarder = Forwarder::forwarding(target, authorization);
    let mut out = std::io::stdout();
    writeln!(out, "{}", forwarder.base).unwrap();
    out.flush().unwrap();
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
}

/// A forwarder process, killed when dropped.
pub struct Child {
    process: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Child {
    pub fn start(target: &str) -> Child {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .env(ENV, target)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(process.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line.trim().to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "forwarder said {base:?}"
        );
        Child { process, base }
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
