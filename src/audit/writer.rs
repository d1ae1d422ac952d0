//! The thread that appends to the audit log: it numbers and chains what the service hands
//! it, in batches (one transaction for what arrives within a few milliseconds of a batch's
//! first record), and prunes the old end on a schedule. Each transaction reads the chain's
//! end as stored, so the writers of several instances on one PostgreSQL database (which
//! take turns under its audit lock) extend one chain.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use ring::hmac;

use super::Retention;
use super::record::{Entry, GENESIS, Record, chain_mac, ends_mac};
use super::verify::ends_signed;
use crate::clock::Clock;
use crate::store::audit::{self, Ends};
use crate::store::{Appender, Db, StoreError};

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
/// are found altered or out of step, so the evidence stays for `verify`. Read afresh in
/// every transaction that appends or prunes.
struct Head {
    ends: Ends,
    trusted: bool,
}

impl Writer {
    pub fn run(mut self, rx: Receiver<Msg>) {
        let key = &self.key;
        let mut head = match self.db.read(|db| head(db, key)) {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "audit log unreadable; no records will be written");
                return;
            }
        };
        if !head.trusted {
            untrusted();
        }
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

    fn write(&mut self, head: &mut Head, batch: Vec<Msg>) {
        let mut barriers = Vec::new();
        let mut entries = Vec::with_capacity(batch.len());
        for msg in batch {
            match msg {
                Msg::Barrier(done) => barriers.push(done),
                Msg::Entry(entry) => entries.push(entry),
            }
        }
        if !entries.is_empty() {
            let lost = entries.len();
            match self.append(entries) {
                Ok(now) => head.follow(now),
                Err(e) => tracing::error!(error = %e, lost, "audit records not written"),
            }
        }
        for done in barriers {
            let _ = done.send(());
        }
    }

    /// Appends `entries` after the chain's end as stored — read in the same transaction,
    /// which on PostgreSQL holds the audit lock, so the writers of several instances extend
    /// one chain — and, when the chain is trusted, signs its new ends. Returns the head
    /// after them.
    fn append(&mut self, entries: Vec<Entry>) -> Result<Head, StoreError> {
        let key = &self.key;
        self.db.write(|db| {
            let mut head = head(db, key)?;
            let mut records = Vec::with_capacity(entries.len());
            for entry in entries {
                let ends = &mut head.ends;
                let seq = ends.last_seq + 1;
                let mac = chain_mac(key, &ends.last_mac, seq, &entry);
                (ends.last_seq, ends.last_mac) = (seq, mac.clone());
                records.push(Record { seq, entry, mac });
            }
            audit::append(db, &records)?;
            if head.trusted {
                sign(key, &mut head.ends);
                audit::put_ends(db, &head.ends)?;
            }
            Ok(head)
        })
    }

    /// Removes records older than the retention period, or beyond the record limit, and
    /// moves the chain's first end past them (signed), so what remains still verifies.
    fn prune(&mut self, head: &mut Head) {
        if !head.trusted {
            return;
        }
        match self.prune_once() {
            Ok((0, now)) => head.follow(now),
            Ok((n, now)) => {
                tracing::info!(records = n, "audit log pruned");
                head.follow(now);
            }
            Err(e) => tracing::error!(error = %e, "audit log pruning failed"),
        }
    }

    /// One pruning, in one transaction from the chain's ends as stored: how many records
    /// it removed, and the head after it.
    fn prune_once(&mut self) -> Result<(usize, Head), StoreError> {
        let cutoff = self.clock.unix_ms() - self.retention.keep_ms();
        let (key, max_records) = (&self.key, self.retention.max_records);
        self.db.write(|db| {
            let mut head = head(db, key)?;
            let by_age = audit::last_before(db, cutoff)?.map(|(seq, _)| seq);
            let by_count = head.ends.last_seq - max_records;
            let through = by_age.into_iter().chain([by_count]).max().unwrap_or(0);
            if !head.trusted || through < head.ends.first_seq {
                return Ok((0, head));
            }
            let prev = audit::mac_at(db, through)?.ok_or_else(|| {
                crate::store::corrupt(format!("audit record #{through} is missing"))
            })?;
            (head.ends.first_seq, head.ends.first_prev) = (through + 1, prev);
            sign(key, &mut head.ends);
            let removed = audit::prune_through(db, through)?;
            audit::put_ends(db, &head.ends)?;
            Ok((removed, head))
        })
    }
}

impl Head {
    /// Takes `now`, the head as just read and extended; says so once when the chain stops
    /// matching its end row.
    fn follow(&mut self, now: Head) {
        if self.trusted && !now.trusted {
            untrusted();
        }
        *self = now;
    }
}

fn untrusted() {
    tracing::error!(
        "the audit log's chain does not match its end row; records are still \
         appended, and `keyport audit verify` reports where it breaks"
    );
}

fn sign(key: &hmac::Key, ends: &mut Ends) {
    ends.mac = ends_mac(
        key,
        (ends.first_seq, &ends.first_prev),
        (ends.last_seq, &ends.last_mac),
    );
}

/// The chain's state as stored, checked against the log's last record.
fn head(db: &Db<'_>, key: &hmac::Key) -> Result<Head, StoreError> {
    let (last, stored) = (audit::last(db)?, audit::ends(db)?);
    let fresh = Ends {
        first_seq: 1,
        first_prev: GENESIS.to_vec(),
        last_seq: 0,
        last_mac: GENESIS.to_vec(),
        mac: Vec::new(),
    };
    Ok(match (stored, last) {
        (None, None) => Head {
            ends: fresh,
            trusted: true,
        },
        (Some(ends), last) => {
            let in_step = match &last {
                Some((seq, mac)) => *seq == ends.last_seq && *mac == ends.last_mac,
                None => ends.last_seq == ends.first_seq - 1,
            };
            let trusted = in_step && ends_signed(key, &ends);
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
    })
}
