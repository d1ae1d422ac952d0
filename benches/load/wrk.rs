//! The load generator: Debian's `wrk`, a C event-loop client far faster than anything the
//! bench could spawn as threads, driven by a Lua script per target (method, JSON body,
//! `x-api-key` and other headers, or a path drawn at random from a file). The script's
//! `done` hook prints one machine-readable line (requests, duration, p50/p99 from wrk's
//! latency histogram, errors by kind) that the bench parses; wrk's own report
//! (`--latency`) is kept beside it in `target/bench/wrk/`. Scripts hold the throwaway
//! admin key, so they are written into the run's temporary directory, not kept.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What `done` prints; the bench finds the line by its first word.
const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "\nwrk-figures requests=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f\n",
    summary.requests, summary.duration, latency:percentile(50.0), latency:percentile(99.0),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"#;

/// One request shape for wrk: a URL and the Lua lines that shape the request.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    lua: Vec<String>,
}

impl Target {
    pub fn get(url: &str) -> Target {
        Target {
            url: url.into(),
            lua: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Target {
        self.lua.push(format!(
            "wrk.headers[{}] = {}",
            lua_str(name),
            lua_str(value)
        ));
        self
    }

    /// The API key, as the SDKs send it.
    pub fn key(self, key: &str) -> Target {
        self.header("x-api-key", key)
    }

    pub fn post_json(mut self, body: &str) -> Target {
        self.lua.push("wrk.method = \"POST\"".into());
        self.lua.push(format!("wrk.body = {}", lua_str(body)));
        self.header("Content-Type", "application/json")
    }

    /// Each request's path is `prefix + a random line of lines_file + suffix`.
    pub fn random_paths(mut self, lines_file: &Path, prefix: &str, suffix: &str) -> Target {
        self.lua.push(format!(
            r#"local items = {{}}
for line in io.lines({file}) do items[#items + 1] = line end
local next_id = 1
setup = function(thread) thread:set("seed", next_id); next_id = next_id + 1 end
init = function(args) math.randomseed(7919 * (seed or 1)) end
request = function()
  return wrk.format(nil, {prefix} .. items[math.random(#items)] .. {suffix})
end"#,
            file = lua_str(&lines_file.to_string_lossy()),
            prefix = lua_str(prefix),
            suffix = lua_str(suffix),
        ));
        self
    }

    pub fn script(&self) -> String {
        let mut out = self.lua.join("\n");
        out.push_str(DONE);
        out
    }
}

/// A Lua string literal for `s`.
pub fn lua_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            other => out.push_str(&format!("\\{other:03}")),
        }
    }
    out.push('"');
    out
}

/// How hard and how long.
#[derive(Clone, Copy)]
pub struct Load {
    pub connections: usize,
    pub threads: usize,
    pub secs: u64,
    /// wrk's per-request timeout: a slower answer counts as a timeout error.
    pub timeout_secs: u64,
}

/// What one or more wrk runs measured.
#[derive(Clone, Copy, Default, Debug)]
pub struct Figures {
    /// Completed requests, any status.
    pub requests: u64,
    /// Answers outside 2xx/3xx.
    pub bad_status: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
    pub secs: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Figures {
    /// Good answers per second.
    pub fn rps(&self) -> f64 {
        (self.requests - self.bad_status.min(self.requests)) as f64 / self.secs.max(1e-9)
    }

    pub fn failed(&self) -> u64 {
        self.bad_status + self.socket_errors
    }

    /// Runs of the same target added up: counts and time summed, p50 the mean of the
    /// runs' medians, p99 the worst run's (percentiles of separate runs do not merge
    /// exactly; this errs against keyport).
    pub fn merge(runs: &[Figures]) -> Figures {
        let n = runs.len().max(1) as f64;
        Figures {
            requests: runs.iter().map(|r| r.requests).sum(),
            bad_status: runs.iter().map(|r| r.bad_status).sum(),
            socket_errors: runs.iter().map(|r| r.socket_errors).sum(),
            secs: runs.iter().map(|r| r.secs).sum(),
            p50_us: runs.iter().map(|r| r.p50_us).sum::<f64>() / n,
            p99_us: runs.iter().map(|r| r.p99_us).fold(0.0, f64::max),
        }
    }

    /// Parses the `wrk-figures` line of wrk's output.
    pub fn parse(output: &str) -> Option<Figures> {
        let line = output
            .lines()
            .find_map(|l| l.strip_prefix("wrk-figures "))?;
        let field = |name: &str| -> Option<f64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        let count = |name: &str| field(name).map(|v| v as u64);
        Some(Figures {
            requests: count("requests")?,
            bad_status: count("status")?,
            socket_errors: count("connect")? + count("read")? + count("write")? + count("timeout")?,
            secs: field("duration_us")? / 1e6,
            p50_us: field("p50_us")?,
            p99_us: field("p99_us")?,
        })
    }
}

pub struct Wrk {
    bin: PathBuf,
    /// Where scripts go (temporary: they hold the admin key).
    scripts: PathBuf,
    /// Where wrk's reports go.
    reports: PathBuf,
    runs: AtomicUsize,
}

impl Wrk {
    /// `WRK` or `wrk` on the PATH; `None` when there is none.
    pub fn find(scripts: &Path, reports: &Path) -> Option<Wrk> {
        let bin = std::env::var_os("WRK").map_or_else(|| PathBuf::from("wrk"), PathBuf::from);
        let works = Command::new(&bin).arg("-v").output().is_ok();
        works.then(|| {
            std::fs::create_dir_all(scripts).expect("scripts dir");
            std::fs::create_dir_all(reports).expect("reports dir");
            Wrk {
                bin,
                scripts: scripts.into(),
                reports: reports.into(),
                runs: AtomicUsize::new(0),
            }
        })
    }

    /// wrk's version line, e.g. `wrk debian/4.1.0-3+b2 [epoll]`.
    pub fn version(&self) -> String {
        let out = Command::new(&self.bin).arg("-v").output().expect("wrk -v");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let first = text.lines().next().unwrap_or("wrk").to_string();
        first
            .split(" Copyright")
            .next()
            .unwrap_or("wrk")
            .trim()
            .into()
    }

    /// One wrk run of `target`, named `name` in the reports.
    pub fn run(&self, name: &str, target: &Target, load: Load) -> Figures {
        let n = self.runs.fetch_add(1, Ordering::Relaxed) + 1;
        let file = format!("{n:02}-{name}");
        let script = self.scripts.join(format!("{file}.lua"));
        std::fs::write(&script, target.script()).expect("write the wrk script");
        let out = Command::new(&self.bin)
            .arg(format!("-t{}", load.threads.min(load.connections).max(1)))
            .arg(format!("-c{}", load.connections))
            .arg(format!("-d{}s", load.secs))
            .arg(format!("--timeout={}s", load.timeout_secs))
            .arg("--latency")
            .arg("-s")
            .arg(&script)
            .arg(&target.url)
            .output()
            .expect("run wrk");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let report = self.reports.join(format!("{file}.txt"));
        std::fs::write(&report, &text).expect("write the wrk report");
        let figures = Figures::parse(&text).unwrap_or_else(|| {
            panic!(
                "wrk gave no figures ({}): {text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
        println!(
            "    wrk {name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} failed",
            figures.rps(),
            figures.p50_us / 1000.0,
            figures.p99_us / 1000.0,
            figures.failed()
        );
        figures
    }

    /// Runs the targets in turn, `rounds` times over (a b c a b c …), so that a burst of
    /// outside load hits all alike; the merged figures of each, in order.
    pub fn alternate(
        &self,
        targets: &[(&str, &Target)],
        load: Load,
        rounds: usize,
    ) -> Vec<Figures> {
        let mut runs = vec![Vec::new(); targets.len()];
        for _ in 0..rounds {
            for (i, (name, target)) in targets.iter().enumerate() {
                runs[i].push(self.run(name, target, load));
            }
        }
        runs.iter().map(|r| Figures::merge(r)).collect()
    }
}
