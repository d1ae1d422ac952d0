//! The one thread that appends to the audit log: it numbers and chains what the service
//! hands it, in batches (one transaction for what arrives within a few milliseconds of a
//! batch's first record), and prunes the old end on a schedule.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use ring::hmac;

use super::Retention;
use super::record::{Entry, GENESIS, Record, chain_mac, ends_mac};
use super::verify::ends_signed;
use crate::clock::Clock;
use crate::store::audit::{self, Ends};
use crate::store::{Appender, StoreError};

/// At most this many records per transaction.
const BATCH: usize = 1024;
/// How long a batch gathers after its first record.
const GATHER: Duration = Duration::from_millis(5);

#[expect(
    clippy::large_enum_variant,
    reason = "barriers are rare; boxing would allocate for every record"
)]
pub(super) enum Msg {
    Entry(Entry),
    /// Answered once everything sent before it is on disk.
    Barrier(Sender<()>),
}

pub(super) struct Writer {
    pub db: Appender,
    pub key: hmac::Key,
    pub clock: Clock,
    pub retention: Retention,
}

/// Where the next record goes, and whether the stored ends may be rewritten: not when they
/// were found altered or out of step at start, so the evidence stays for `verify`.
struct Head {
    ends: Ends,
    trusted: bool,
}

impl Writer {
    pub fn run(mut self, rx: Receiver<Msg>) {
        let mut head = match self.head() {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "audit log unreadable; no records will be written");
                return;
            }
        };
        self.prune(&mut head);
        let mut next_prune = self.clock.unix_ms() + self.retention.every_ms();
        loop {
            let wait = Duration::from_millis((next_prune - self.clock.unix_ms()).max(1) as u64);
            let first = match rx.recv_timeout(wait) {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => {
                    self.prune(&mut head);
                    next_prune = self.clock.unix_ms() + self.retention.every_ms();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // Let a batch gather: one transaction for what arrives in the next moment, and
            // no wake-up per record for the senders to pay (nobody waits on the queue while
            // this thread sleeps). A barrier (a read of the log) does not wait for it.
            if !matches!(first, Msg::Barrier(_)) {
                std::thread::sleep(GATHER);
            }
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(msg) => batch.push(msg),
                    Err(_) => break,
                }
            }
            self.write(&mut head, batch);
        }
    }

    /// The chain's state as stored, checked against the log's last record.
    fn head(&mut self) -> Result<Head, StoreError> {
        let (last, stored) = self
            .db
            .read(|db| Ok((audit::last(db)?, audit::ends(db)?)))?;
        let fresh = Ends {
            first_seq: 1,
            first_prev: GENESIS.to_vec(),
            last_seq: 0,
            last_mac: GENESIS.to_vec(),
            mac: Vec::new(),
        };
        let head = match (stored, last) {
            (None, None) => Head {
                ends: fresh,
                trusted: true,
            },
            (Some(ends), last) => {
                let in_step = match &last {
                    Some((seq, mac)) => *seq == ends.last_seq && *mac == ends.last_mac,
                    None => ends.last_seq == ends.first_seq - 1,
                };
                let trusted = in_step && ends_signed(&self.key, &ends);
                let mut ends = ends;
                if let Some((seq, mac)) = last {
                    (ends.last_seq, ends.last_mac) = (seq, mac);
                }
                Head { ends, trusted }
            }
            (None, Some((seq, mac))) => Head {
                ends: Ends {
                    last_seq: seq,
                    last_mac: mac,
                    ..fresh
                },
                trusted: false,
            },
        };
        if !head.trusted {
            tracing::error!(
                "the audit log's chain does not match its end row; records are still \
                 appended, and `keyport audit verify` reports where it breaks"
            );
        }
        Ok(head)
    }

    fn write(&mut self, head: &mut Head, batch: Vec<Msg>) {
        let mut barriers = Vec::new();
        let mut records = Vec::with_capacity(batch.len());
        let mut ends = head.ends.clone();
        for msg in batch {
            match msg {
                Msg::Barrier(done) => barriers.push(done),
                Msg::Entry(entry) => {
                    let seq = ends.last_seq + 1;
                    let mac = chain_mac(&self.key, &ends.last_mac, seq, &entry);
                    (ends.last_seq, ends.last_mac) = (seq, mac.clone());
                    records.push(Record { seq, entry, mac });
                }
            }
        }
        if !records.is_empty() {
            match self.commit(&records, head.trusted.then_some(&mut ends)) {
                Ok(()) => head.ends = ends,
                Err(e) => {
                    tracing::error!(error = %e, lost = records.len(), "audit records not written")
                }
            }
        }
        for done in barriers {
            let _ = done.send(());
        }
    }

    /// Appends `records` and, when the chain is trusted, signs its new ends, in one
    /// transaction.
    fn commit(&mut self, records: &[Record], ends: Option<&mut Ends>) -> Result<(), StoreError> {
        if let Some(ends) = ends {
            self.sign(ends);
            return self.append(records, Some(ends));
        }
        self.append(records, None)
    }

    fn append(&mut self, records: &[Record], ends: Option<&Ends>) -> Result<(), StoreError> {
        self.db.write(|db| {
            for record in records {
                audit::append(db, record)?;
            }
            if let Some(ends) = ends {
                audit::put_ends(db, ends)?;
            }
            Ok(())
        })
    }

    fn sign(&self, ends: &mut Ends) {
        ends.mac = ends_mac(
            &self.key,
            (ends.first_seq, &ends.first_prev),
            (ends.last_seq, &ends.last_mac),
        );
    }

    /// Removes records older than the retention period, or beyond the record limit, and
    /// moves the chain's first end past them (signed), so what remains still verifies.
    fn prune(&mut self, head: &mut Head) {
        if !head.trusted {
            return;
        }
        match self.prune_once(head) {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "audit log pruned"),
            Err(e) => tracing::error!(error = %e, "audit log pruning failed"),
        }
    }

    fn prune_once(&mut self, head: &mut Head) -> Result<usize, StoreError> {
        let cutoff = self.clock.unix_ms() - self.retention.keep_ms();
        let by_age = self
            .db
            .read(|db| audit::last_before(db, cutoff))?
            .map(|(seq, _)| seq);
        let by_count = head.ends.last_seq - self.retention.max_records;
        let Some(through) = by_age.into_iter().chain([by_count]).max() else {
            return Ok(0);
        };
        if through < head.ends.first_seq {
            return Ok(0);
        }
        let prev = self
            .db
            .read(|db| audit::mac_at(db, through))?
            .ok_or_else(|| crate::store::corrupt(format!("audit record #{through} is missing")))?;
        let mut ends = head.ends.clone();
        (ends.first_seq, ends.first_prev) = (through + 1, prev);
        self.sign(&mut ends);
        let removed = self.drop_through(through, &ends)?;
        head.ends = ends;
        Ok(removed)
    }

    fn drop_through(&mut self, through: i64, ends: &Ends) -> Result<usize, StoreError> {
        self.db.write(|db| {
            let removed = audit::prune_through(db, through)?;
            audit::put_ends(db, ends)?;
            Ok(removed)
        })
    }
}
