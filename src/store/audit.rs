//! The `audit_log` and `audit_chain` tables. Rows are only ever appended (and pruned from
//! the old end); the MACs are computed by `crate::audit`, never here.

use std::sync::OnceLock;

use super::StoreError;
use super::db::{Db, Dialect, Param, Row, args};
use crate::audit::record::{Entry, Record};

/// The chain's two ends as stored (see the migration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ends {
    pub first_seq: i64,
    pub first_prev: Vec<u8>,
    pub last_seq: i64,
    pub last_mac: Vec<u8>,
    pub mac: Vec<u8>,
}

const COLUMNS: &str = "seq, at_ms, event, key_id, key_name, entity_id, connection_id, app_key, \
     action, method, host, path, outcome, status, detail, latency_ms, mac";

/// How many records one INSERT statement carries: a batch is cut into statements of these
/// sizes, largest first (37 records: 16 + 16 + 4 + 1). A multi-row INSERT opens the table
/// and its indexes once for all its rows (on PostgreSQL it is one round trip too), and a
/// few fixed sizes keep every statement in the connection's prepared-statement cache.
const STATEMENT_ROWS: [usize; 4] = [64, 16, 4, 1];

/// How a batch's rows get their `seq`.
#[derive(Clone, Copy)]
enum Numbering {
    /// Each row names its own.
    Named,
    /// SQLite numbers them: `seq` is the rowid, and a row inserted without one gets the
    /// largest so far plus one.
    ///
    /// This is what lets SQLite skip the statement journal: a multi-row INSERT that names
    /// the rowid (whose integer check may abort the statement) or runs under the ABORT
    /// conflict rule gets one, a copy of every page it touches kept so that the statement
    /// alone can be undone. The writer never needs that (a failed append rolls its whole
    /// transaction back), so these statements omit `seq` and say `OR FAIL`. The copy cost
    /// about a sixth of the writer's time.
    Rowid,
}

/// Appends `records` (consecutive `seq`s, in order), a few statements for the lot.
pub fn append(db: &Db<'_>, records: &[Record]) -> Result<(), StoreError> {
    let numbering = numbering(db, records)?;
    // Rows that SQLite numbers leave out their first value, `seq`.
    let skip = match numbering {
        Numbering::Named => 0,
        Numbering::Rowid => 1,
    };
    let mut rest = records;
    while !rest.is_empty() {
        let (which, rows) = STATEMENT_ROWS
            .iter()
            .copied()
            .enumerate()
            .find(|&(_, rows)| rows <= rest.len())
            .unwrap_or((STATEMENT_ROWS.len() - 1, 1));
        let (chunk, after) = rest.split_at(rows);
        let params: Vec<Param<'_>> = chunk
            .iter()
            .flat_map(|r| row_params(r).into_iter().skip(skip))
            .collect();
        db.execute(insert_sql(numbering, which), &params)?;
        rest = after;
    }
    Ok(())
}

/// [`Numbering::Rowid`] where SQLite's numbering gives each record its own `seq`: on
/// SQLite, for consecutive records whose first follows the last row stored (or the first
/// of all, in an empty table). After pruning has emptied the table the chain goes on from
/// its stored end, so the rows are named.
fn numbering(db: &Db<'_>, records: &[Record]) -> Result<Numbering, StoreError> {
    if db.dialect() != Dialect::Sqlite {
        return Ok(Numbering::Named);
    }
    let consecutive = records.windows(2).all(|w| w[1].seq == w[0].seq + 1);
    let next = last(db)?.map_or(1, |(seq, _)| seq + 1);
    Ok(match records.first() {
        Some(first) if consecutive && first.seq == next => Numbering::Rowid,
        _ => Numbering::Named,
    })
}

/// The INSERT of `STATEMENT_ROWS[which]` records numbered as said, built once: the writer
/// appends on every request, and formatting 17 placeholders a row cost more than the
/// row's insert.
fn insert_sql(numbering: Numbering, which: usize) -> &'static str {
    static BUILT: [[OnceLock<String>; STATEMENT_ROWS.len()]; 2] =
        [const { [const { OnceLock::new() }; STATEMENT_ROWS.len()] }; 2];
    let (slot, verb, columns, width) = match numbering {
        Numbering::Named => (0, "INSERT", COLUMNS, 17),
        Numbering::Rowid => (1, "INSERT OR FAIL", &COLUMNS["seq, ".len()..], 16),
    };
    BUILT[slot][which].get_or_init(|| {
        let values: Vec<String> = (0..STATEMENT_ROWS[which])
            .map(|i| {
                let holes: Vec<String> =
                    (1..=width).map(|k| format!("?{}", i * width + k)).collect();
                format!("({})", holes.join(", "))
            })
            .collect();
        format!(
            "{verb} INTO audit_log ({columns}) VALUES {}",
            values.join(", ")
        )
    })
}

fn row_params(record: &Record) -> [Param<'_>; 17] {
    let e = &record.entry;
    args![
        record.seq,
        e.at_ms,
        &e.event,
        e.key_id.as_deref(),
        e.key_name.as_deref(),
        e.entity.as_deref(),
        e.connection.as_deref(),
        e.app.as_deref(),
        e.action.as_deref(),
        e.method.as_deref(),
        e.host.as_deref(),
        e.path.as_deref(),
        &e.outcome,
        e.status,
        e.detail.as_deref(),
        e.latency_ms,
        &record.mac,
    ]
}

fn from_row(row: &Row) -> Result<Record, StoreError> {
    Ok(Record {
        seq: row.get(0)?,
        entry: Entry {
            at_ms: row.get(1)?,
            event: row.get(2)?,
            key_id: row.get(3)?,
            key_name: row.get(4)?,
            entity: row.get(5)?,
            connection: row.get(6)?,
            app: row.get(7)?,
            action: row.get(8)?,
            method: row.get(9)?,
            host: row.get(10)?,
            path: row.get(11)?,
            outcome: row.get(12)?,
            status: row.get(13)?,
            detail: row.get(14)?,
            latency_ms: row.get(15)?,
        },
        mac: row.get(16)?,
    })
}

pub fn ends(db: &Db<'_>) -> Result<Option<Ends>, StoreError> {
    let Some(row) = db.query_opt(
        "SELECT first_seq, first_prev, last_seq, last_mac, mac FROM audit_chain WHERE id = 1",
        &[],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(Ends {
        first_seq: row.get(0)?,
        first_prev: row.get(1)?,
        last_seq: row.get(2)?,
        last_mac: row.get(3)?,
        mac: row.get(4)?,
    }))
}

pub fn put_ends(db: &Db<'_>, ends: &Ends) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO audit_chain (id, first_seq, first_prev, last_seq, last_mac, mac) \
         VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
         first_seq = excluded.first_seq, first_prev = excluded.first_prev, \
         last_seq = excluded.last_seq, last_mac = excluded.last_mac, mac = excluded.mac",
        &args![
            ends.first_seq,
            &ends.first_prev,
            ends.last_seq,
            &ends.last_mac,
            &ends.mac
        ],
    )?;
    Ok(())
}

/// The newest record's sequence number and MAC.
pub fn last(db: &Db<'_>) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    db.query_opt(
        "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1",
        &[],
    )?
    .map(|row| Ok((row.get(0)?, row.get(1)?)))
    .transpose()
}

/// The MAC of record `seq`, if it is stored.
pub fn mac_at(db: &Db<'_>, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
    db.query_opt("SELECT mac FROM audit_log WHERE seq = ?1", &args![seq])?
        .map(|row| row.get(0))
        .transpose()
}

/// Which records a listing wants; `None` fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub connection: Option<String>,
    pub key: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Only records after this sequence number (the cursor).
    pub after: Option<i64>,
}

/// Up to `limit` records matching `filter`, oldest first.
pub fn list(db: &Db<'_>, filter: &AuditFilter, limit: u32) -> Result<Vec<Record>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log WHERE \
         (CAST(?1 AS TEXT) IS NULL OR entity_id = ?1) \
         AND (CAST(?2 AS TEXT) IS NULL OR connection_id = ?2) \
         AND (CAST(?3 AS TEXT) IS NULL OR key_id = ?3) \
         AND (CAST(?4 AS BIGINT) IS NULL OR at_ms >= ?4) \
         AND (CAST(?5 AS BIGINT) IS NULL OR at_ms < ?5) AND seq > ?6 ORDER BY seq LIMIT ?7"
    );
    db.query(
        &sql,
        &args![
            filter.entity.as_deref(),
            filter.connection.as_deref(),
            filter.key.as_deref(),
            filter.since_ms,
            filter.until_ms,
            filter.after.unwrap_or(0),
            i64::from(limit)
        ],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Calls `each` on every record in sequence order, stopping at its first error.
pub fn scan<E: From<StoreError>>(
    db: &Db<'_>,
    mut each: impl FnMut(Record) -> Result<(), E>,
) -> Result<(), E> {
    db.for_each(
        &format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq"),
        &[],
        |row| each(from_row(&row)?),
    )
}

/// The last record written before `at_ms` (the one whose MAC the first kept record will
/// chain from once everything up to it is pruned).
pub fn last_before(db: &Db<'_>, at_ms: i64) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    db.query_opt(
        "SELECT seq, mac FROM audit_log WHERE at_ms < ?1 ORDER BY seq DESC LIMIT 1",
        &args![at_ms],
    )?
    .map(|row| Ok((row.get(0)?, row.get(1)?)))
    .transpose()
}

/// Removes every record up to and including `seq`; returns how many.
pub fn prune_through(db: &Db<'_>, seq: i64) -> Result<usize, StoreError> {
    db.execute("DELETE FROM audit_log WHERE seq <= ?1", &args![seq])
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn record(seq: i64) -> Record {
        Record {
            seq,
            entry: Entry {
                at_ms: seq * 10,
                event: "credential.read".into(),
                path: Some(format!("/p/{seq}")),
                outcome: "ok".into(),
                status: Some(200),
                ..Entry::default()
            },
            mac: seq.to_be_bytes().to_vec(),
        }
    }

    /// Batches of every size up to two full statements and a remainder land whole, in
    /// order, on both engines (85 = 64 + 16 + 4 + 1 statements, 149 = 2 × 64 + 16 + 4 + 1).
    #[test]
    fn batches_are_cut_into_statements_and_stored_whole_in_order() {
        for (store, _scratch) in crate::store::testing::scratches() {
            let mut next = 1;
            for size in (1..=20).chain([63, 64, 65, 85, 149]) {
                let batch: Vec<Record> = (next..next + size).map(record).collect();
                store.write(|db| append(db, &batch)).unwrap();
                next += size;
            }
            let want: Vec<Record> = (1..next).map(record).collect();
            assert_eq!(stored(&store), want);
        }
    }

    fn stored(store: &crate::store::Store) -> Vec<Record> {
        let mut all = Vec::new();
        store
            .read(|db| {
                scan(db, |r| {
                    all.push(r);
                    Ok::<_, StoreError>(())
                })
            })
            .unwrap();
        all
    }

    /// SQLite numbers the rows itself exactly when its numbering is each record's own:
    /// the first batch of all, and any batch that follows the last row stored. Once
    /// pruning has emptied the table the chain goes on from its end (here 11), where
    /// SQLite would start again at 1: those rows are named. Either way every record lands
    /// under its own number, and PostgreSQL always names them.
    #[test]
    fn rows_are_numbered_by_sqlite_only_where_that_gives_each_its_own_seq() {
        for (store, _scratch) in crate::store::testing::scratches() {
            let sqlite = store
                .read(|db| Ok::<_, StoreError>(db.dialect() == Dialect::Sqlite))
                .unwrap();
            let numbered = |from: i64, to: i64| {
                let batch: Vec<Record> = (from..=to).map(record).collect();
                store
                    .write(|db| {
                        let how = numbering(db, &batch)?;
                        append(db, &batch)?;
                        Ok::<_, StoreError>(matches!(how, Numbering::Rowid))
                    })
                    .unwrap()
            };
            assert_eq!(numbered(1, 10), sqlite, "the first batch");
            assert_eq!(numbered(11, 20), sqlite, "one after the last row");
            store.write(|db| prune_through(db, 20)).unwrap();
            assert!(!numbered(21, 40), "after the table was emptied");
            assert_eq!(numbered(41, 45), sqlite, "after a named batch");
            let want: Vec<Record> = (21..=45).map(record).collect();
            assert_eq!(stored(&store), want);
        }
    }
}
