//! Walks the chain from its first kept record to its last and names the first record that
//! does not verify.

use ring::hmac;
use subtle::ConstantTimeEq;

use super::record::{GENESIS, chain_mac, ends_mac};
use crate::store::audit::{self, Ends};
use crate::store::{Db, StoreError};

/// What a walk of the chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub records: u64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The first place the chain breaks, if it does.
    pub broken: Option<Broken>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The record at fault: altered, out of place, or the first one missing.
    pub seq: i64,
    pub reason: String,
}

impl Verdict {
    pub fn intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Whether the stored ends are the ones the writer signed.
pub fn ends_signed(key: &hmac::Key, ends: &Ends) -> bool {
    let expected = ends_mac(
        key,
        (ends.first_seq, &ends.first_prev),
        (ends.last_seq, &ends.last_mac),
    );
    macs_equal(&expected, &ends.mac)
}

pub fn verify(db: &Db<'_>, key: &hmac::Key) -> Result<Verdict, StoreError> {
    let ends = audit::ends(db)?;
    let mut verdict = Verdict {
        records: 0,
        first_seq: None,
        last_seq: None,
        broken: None,
    };
    let (mut expected, mut prev) = match &ends {
        Some(ends) if !ends_signed(key, ends) => {
            verdict.broken = Some(Broken {
                seq: ends.first_seq,
                reason: "the chain's end row was altered".into(),
            });
            (ends.first_seq, ends.first_prev.clone())
        }
        Some(ends) => (ends.first_seq, ends.first_prev.clone()),
        None => (1, GENESIS.to_vec()),
    };
    audit::scan(db, |record| {
        verdict.records += 1;
        verdict.first_seq.get_or_insert(record.seq);
        verdict.last_seq = Some(record.seq);
        if verdict.broken.is_some() {
            return Ok::<(), StoreError>(());
        }
        if ends.is_none() {
            verdict.broken = Some(Broken {
                seq: record.seq,
                reason: "the chain's end row is missing".into(),
            });
        } else if record.seq != expected {
            verdict.broken = Some(Broken {
                seq: expected,
                reason: format!("record #{expected} is missing (next is #{})", record.seq),
            });
        } else if !macs_equal(
            &chain_mac(key, &prev, record.seq, &record.entry),
            &record.mac,
        ) {
            verdict.broken = Some(Broken {
                seq: record.seq,
                reason: format!("record #{} was altered or moved", record.seq),
            });
        }
        prev = record.mac;
        expected = record.seq + 1;
        Ok(())
    })?;
    if let (None, Some(ends)) = (&verdict.broken, &ends) {
        let last = expected - 1;
        if last < ends.last_seq {
            verdict.broken = Some(Broken {
                seq: expected,
                reason: format!(
                    "records #{expected} to #{} were removed from the end",
                    ends.last_seq
                ),
            });
        } else if last > ends.last_seq || !macs_equal(&ends.last_mac, &prev) {
            verdict.broken = Some(Broken {
                seq: ends.last_seq + 1,
                reason: format!(
                    "the chain's end row says it ends at #{}, but records follow it",
                    ends.last_seq
                ),
            });
        }
    }
    Ok(verdict)
}

pub(super) fn macs_equal(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}
