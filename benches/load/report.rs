//! The report: rows of figures against their same-run references, printed as they come
//! and written as the Markdown table that `benches/run.sh` puts into BENCHMARKS.md, with
//! the machine (cores, CPU model, memory, load average). Memory and sizes are given in MB
//! (10^6 bytes, the unit of the goals) with MiB beside them.

use std::fmt::Write as _;

use crate::wrk::Figures;

pub struct Row {
    figure: String,
    keyport: String,
    reference: String,
    ratio: String,
    goal: String,
    met: String,
}

/// What a compared row must reach.
#[derive(Clone, Copy, Default)]
pub struct Goal {
    /// keyport's throughput over the reference's, at least.
    pub ratio: Option<f64>,
    /// keyport's p99 over its own p50, at most.
    pub tail: Option<f64>,
}

impl Goal {
    pub fn ratio(at_least: f64) -> Goal {
        Goal {
            ratio: Some(at_least),
            tail: None,
        }
    }

    fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.ratio {
            parts.push(format!("≥ {r}×"));
        }
        if let Some(t) = self.tail {
            parts.push(format!("p99 ≤ {t}× p50"));
        }
        parts.join(", ")
    }
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    /// A row; `met` is `None` when the row has no goal.
    pub fn row(
        &mut self,
        figure: &str,
        (keyport, reference): (String, String),
        ratio: &str,
        (goal, met): (&str, Option<bool>),
    ) {
        let met = match met {
            None => String::new(),
            Some(true) => "yes".into(),
            Some(false) => "**no**".into(),
        };
        println!("  {figure}: {keyport} | {reference} | {ratio} {goal} {met}");
        self.rows.push(Row {
            figure: figure.into(),
            keyport,
            reference,
            ratio: ratio.into(),
            goal: goal.into(),
            met,
        });
    }

    /// A row of two wrk figures measured side by side: keyport's (`ours`) against the
    /// reference (`theirs`, shown as `label`); failed requests fail the goal.
    pub fn compared(
        &mut self,
        figure: &str,
        (ours, theirs): (&Figures, &Figures),
        label: &str,
        goal: Goal,
    ) -> f64 {
        let ratio = ours.rps() / theirs.rps().max(1e-9);
        let spread = spread(&ours.rounds, &theirs.rounds);
        let tail = ours.p99_us / ours.p50_us.max(1e-9);
        let met = (goal.ratio.is_some() || goal.tail.is_some()).then(|| {
            goal.ratio.is_none_or(|want| ratio >= want)
                && goal.tail.is_none_or(|most| tail <= most)
                && ours.failed() == 0
                && theirs.failed() == 0
        });
        let mine = match goal.tail {
            Some(_) => format!("{} (p99 = {tail:.1}× p50)", throughput(ours)),
            None => throughput(ours),
        };
        self.row(
            figure,
            (mine, format!("{label}: {}", throughput(theirs))),
            &format!("{ratio:.2}{spread}"),
            (&goal.text(), met),
        );
        ratio
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

/// The lowest and highest ratio of the rounds (each pair of runs taken one after the
/// other), when there are several: how much the machine moved during the comparison.
fn spread(ours: &[f64], theirs: &[f64]) -> String {
    if ours.len() < 2 || ours.len() != theirs.len() {
        return String::new();
    }
    let ratios = ours.iter().zip(theirs).map(|(a, b)| a / b.max(1e-9));
    let (lo, hi) = ratios.fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
    format!(" (rounds {lo:.2}–{hi:.2})")
}

pub fn throughput(f: &Figures) -> String {
    let failed = f.failed();
    format!(
        "{:.0} req/s, p50 {}, p99 {}{}",
        f.rps(),
        ms(f.p50_us),
        ms(f.p99_us),
        if failed > 0 {
            format!(", **{failed} failed**")
        } else {
            String::new()
        }
    )
}

/// Microseconds as milliseconds, or seconds from 1 s on.
pub fn ms(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else {
        format!("{:.2} ms", us / 1e3)
    }
}

/// `n` with thousands separators: 100000 as "100,000".
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `bytes` as "20.7 MB (19.8 MiB)".
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB ({})", bytes as f64 / 1e6, mib(bytes))
}

/// `/proc` memory figures are in KiB.
pub fn mb_kib(kib: u64) -> String {
    mb(kib * 1024)
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
