//! The report: rows of figures against their same-run references, printed as they come
//! and written as the Markdown table that `benches/run.sh` puts into BENCHMARKS.md, with
//! the machine (cores, CPU model, memory, load average).

use std::fmt::Write as _;

use crate::harness::Stats;

pub struct Row {
    figure: String,
    keyport: String,
    reference: String,
    ratio: String,
    goal: String,
    met: String,
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    pub fn row(
        &mut self,
        figure: &str,
        keyport: String,
        reference: String,
        ratio: &str,
        goal: &str,
    ) {
        let met = match (ratio.parse::<f64>(), goal) {
            _ if goal.is_empty() => String::new(),
            (Ok(r), g) if g.starts_with('≥') => {
                let want: f64 = g
                    .trim_start_matches('≥')
                    .trim_end_matches('×')
                    .parse()
                    .unwrap();
                if r >= want { "yes" } else { "**no**" }.to_string()
            }
            _ => String::new(),
        };
        self.rows.push(Row {
            figure: figure.into(),
            keyport,
            reference,
            ratio: ratio.into(),
            goal: goal.into(),
            met,
        });
        let last = self.rows.last().unwrap();
        println!(
            "  {:<44} {:>28} | {:>28} | {:>6} {} {}",
            last.figure, last.keyport, last.reference, last.ratio, last.goal, last.met
        );
    }

    /// A row of two throughputs measured side by side: keyport's (`ours`) against the
    /// reference (`theirs`, shown as `label`), with their ratio against `goal`.
    pub fn compared(
        &mut self,
        figure: &str,
        (ours, theirs): (&Stats, &Stats),
        label: &str,
        goal: &str,
    ) {
        self.row(
            figure,
            throughput(ours),
            format!("{label}: {}", throughput(theirs)),
            &ratio(ours.rps(), theirs.rps()),
            goal,
        );
    }

    pub fn set_met(&mut self, met: &str) {
        if let Some(last) = self.rows.last_mut() {
            last.met = met.into();
        }
    }

    pub fn note(&mut self, text: String) {
        println!("  note: {text}");
        self.notes.push(text);
    }

    pub fn markdown(&self, machine: &str, command: &str) -> String {
        let mut out = String::new();
        writeln!(out, "{machine}\n").unwrap();
        writeln!(out, "Command: `{command}`\n").unwrap();
        writeln!(
            out,
            "| figure | keyport | reference (same run) | ratio | goal | met |"
        )
        .unwrap();
        writeln!(out, "|---|---|---|---|---|---|").unwrap();
        for r in &self.rows {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.figure, r.keyport, r.reference, r.ratio, r.goal, r.met
            )
            .unwrap();
        }
        if !self.notes.is_empty() {
            writeln!(out).unwrap();
            for n in &self.notes {
                writeln!(out, "- {n}").unwrap();
            }
        }
        out
    }
}

pub fn throughput(s: &Stats) -> String {
    format!(
        "{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms{}",
        s.rps(),
        s.p50_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0,
        if s.failed > 0 {
            format!(", {} failed", s.failed)
        } else {
            String::new()
        }
    )
}

pub fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}", a / b.max(1e-9))
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!(
        "Machine: {cores} cores (nproc), {model}, {:.1} GiB memory; load average at start {}",
        mem_kib as f64 / (1024.0 * 1024.0),
        loadavg()
    )
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
