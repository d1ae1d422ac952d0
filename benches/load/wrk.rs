//! The load generator: Debian's `wrk`, a C event-loop client far faster than anything the
//! bench could spawn as threads, driven by a Lua script per target (method, JSON body,
//! `x-api-key` and other headers, or a path drawn at random from a file). The script's
//! `done` hook prints two machine-readable lines that the bench parses: the counts
//! (requests, duration, errors by kind) and wrk's whole latency histogram, so that runs of
//! one target merge into exact percentiles. wrk's own report (`--latency`) is kept beside
//! them in `target/bench/wrk/`. Scripts hold the throwaway admin key, so they are written
//! into the run's temporary directory, not kept.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What `done` prints; the bench finds each line by its first word.
const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "\nwrk-figures requests=%.0f duration_us=%.0f connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  local cells = {}
  for i = 1, #latency do
    local us, count = latency(i)
    cells[#cells + 1] = string.format("%.0f:%.0f", us, count)
  end
  io.write("wrk-histogram ", table.concat(cells, " "), "\n")
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

    /// Each request's path is `prefix` and a random line of `lines_file`.
    pub fn random_paths(mut self, lines_file: &Path, prefix: &str) -> Target {
        self.lua.push(format!(
            r#"local items = {{}}
for line in io.lines({file}) do items[#items + 1] = line end
local next_id = 1
setup = function(thread) thread:set("seed", next_id); next_id = next_id + 1 end
init = function(args) math.randomseed(7919 * (seed or 1)) end
request = function()
  return wrk.format(nil, {prefix} .. items[math.random(#items)])
end"#,
            file = lua_str(&lines_file.to_string_lossy()),
            prefix = lua_str(prefix),
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
#[derive(Clone, Default, Debug)]
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
    pub mean_us: f64,
    /// Good answers per second of each run merged, in order.
    pub rounds: Vec<f64>,
    /// Latency in microseconds and how many answers took it, ascending.
    histogram: Vec<(u64, u64)>,
}

impl Figures {
    /// Good answers per second.
    pub fn rps(&self) -> f64 {
        (self.requests - self.bad_status.min(self.requests)) as f64 / self.secs.max(1e-9)
    }

    pub fn failed(&self) -> u64 {
        self.bad_status + self.socket_errors
    }

    fn with_histogram(mut self, mut histogram: Vec<(u64, u64)>) -> Figures {
        histogram.sort_unstable();
        self.p50_us = percentile(&histogram, 0.50);
        self.p99_us = percentile(&histogram, 0.99);
        let (sum, n) = histogram.iter().fold((0.0, 0u64), |(sum, n), &(us, k)| {
            (sum + us as f64 * k as f64, n + k)
        });
        self.mean_us = sum / n.max(1) as f64;
        self.histogram = histogram;
        self
    }

    /// Runs of the same target added up: counts and time summed, latency histograms
    /// joined (so the percentiles are those of all the runs' answers together).
    pub fn merge(runs: &[Figures]) -> Figures {
        let sum = Figures {
            requests: runs.iter().map(|r| r.requests).sum(),
            bad_status: runs.iter().map(|r| r.bad_status).sum(),
            socket_errors: runs.iter().map(|r| r.socket_errors).sum(),
            secs: runs.iter().map(|r| r.secs).sum(),
            rounds: runs.iter().map(Figures::rps).collect(),
            ..Figures::default()
        };
        let joined = runs.iter().flat_map(|r| r.histogram.iter().copied());
        sum.with_histogram(joined.collect())
    }

    /// Runs made at the same time (one wrk per server) added up: counts summed over their
    /// common window (the mean of their durations), latency histograms joined.
    pub fn together(runs: &[Figures]) -> Figures {
        let mut sum = Figures::merge(runs);
        sum.secs /= runs.len().max(1) as f64;
        sum.rounds = vec![sum.rps()];
        sum
    }

    /// Parses the `wrk-figures` and `wrk-histogram` lines of wrk's output.
    pub fn parse(output: &str) -> Option<Figures> {
        let line = |prefix: &str| output.lines().find_map(|l| l.strip_prefix(prefix));
        let counts = line("wrk-figures ")?;
        let field = |name: &str| -> Option<u64> {
            counts
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        let histogram = line("wrk-histogram")?
            .split_whitespace()
            .map(|pair| {
                let (us, n) = pair.split_once(':')?;
                Some((us.parse().ok()?, n.parse().ok()?))
            })
            .collect::<Option<Vec<(u64, u64)>>>()?;
        let figures = Figures {
            requests: field("requests")?,
            bad_status: field("status")?,
            socket_errors: field("connect")? + field("read")? + field("write")? + field("timeout")?,
            secs: field("duration_us")? as f64 / 1e6,
            ..Figures::default()
        };
        let mut figures = figures.with_histogram(histogram);
        figures.rounds = vec![figures.rps()];
        Some(figures)
    }
}

/// The smallest latency that `q` of the answers did not exceed; `histogram` is sorted.
fn percentile(histogram: &[(u64, u64)], q: f64) -> f64 {
    let total: u64 = histogram.iter().map(|(_, n)| n).sum();
    let want = (total as f64 * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for &(us, n) in histogram {
        seen += n;
        if seen >= want {
            return us as f64;
        }
    }
    0.0
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
