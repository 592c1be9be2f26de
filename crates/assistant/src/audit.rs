//! The audit log: every request and every tool call, one row each,
//! append-only in SQLite and hash-chained.
//!
//! - Durable: WAL with `synchronous=FULL`, one transaction per row, so a
//!   row whose append returned survives a crash of the process or host.
//! - Append-only: triggers refuse `UPDATE` and `DELETE`, so no one edits a
//!   row by accident.
//! - Tamper-evident: each row's hash covers its id, its fields and the
//!   previous row's hash. [`verify`] walks the chain and names the first
//!   row that was edited, deleted or moved. Cutting rows off the end
//!   leaves a valid shorter chain; the newest row's hash is therefore
//!   also written to the daemon's log (the journal) at every append, and
//!   printed by `hwc-ai audit verify`, to compare against.
//!
//! Fields are bounded ([`FIELD_CHARS`]); what goes in is the caller's
//! responsibility to keep free of secrets (tool results are summaries,
//! never raw files).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest any one field is stored; longer is cut and marked.
pub const FIELD_CHARS: usize = 2000;

/// The hash the first row chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened: one request, or one tool call within a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The client's name (its key's name, or `loopback`).
    pub client: String,
    /// The request's text as the client sent it.
    pub request: String,
    /// What the request was taken to ask (`question`, `refused`, ...).
    pub intent: Option<String>,
    /// The tool called, for a tool-call row.
    pub tool: Option<String>,
    /// The tool's arguments, as JSON.
    pub arguments: Option<String>,
    /// A bounded summary of the result or the answer.
    pub result: Option<String>,
    /// `ok`, `refused`, `error`, ...
    pub outcome: String,
    /// Why a request was refused.
    pub refusal: Option<String>,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub id: i64,
    /// RFC 3339, UTC, milliseconds.
    pub ts: String,
    #[serde(flatten)]
    pub entry: Entry,
    pub prev: String,
    pub hash: String,
}

pub struct Audit {
    conn: Mutex<Connection>,
}

#[derive(Debug, thiserror::Error)]
#[error("audit log: {0}")]
pub struct AuditError(String);

impl From<rusqlite::Error> for AuditError {
    fn from(err: rusqlite::Error) -> Self {
        AuditError(err.to_string())
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    client TEXT NOT NULL,
    request TEXT NOT NULL,
    intent TEXT,
    tool TEXT,
    arguments TEXT,
    result TEXT,
    outcome TEXT NOT NULL,
    refusal TEXT,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

impl Audit {
    /// Opens (creating) the log at `path`.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let conn = Connection::open(path)
            .map_err(|e| AuditError(format!("cannot open {}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Appends `entry` and returns the stored row once it is durable.
    pub fn append(&self, entry: Entry) -> Result<Row, AuditError> {
        let entry = bounded(entry);
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (id, prev) = match last {
            Some((id, hash)) => (id + 1, hash),
            None => (1, GENESIS.to_owned()),
        };
        let ts = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let hash = row_hash(id, &ts, &entry, &prev);
        tx.execute(
            "INSERT INTO audit (id, ts, client, request, intent, tool, arguments, result, outcome, refusal, prev, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                id,
                ts,
                entry.client,
                entry.request,
                entry.intent,
                entry.tool,
                entry.arguments,
                entry.result,
                entry.outcome,
                entry.refusal,
                prev,
                hash
            ],
        )?;
        tx.commit()?;
        tracing::info!(audit_row = id, audit_hash = %hash, "audited");
        Ok(Row {
            id,
            ts,
            entry,
            prev,
            hash,
        })
    }

    /// The newest `n` rows, oldest first.
    pub fn tail(&self, n: usize) -> Result<Vec<Row>, AuditError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        tail(&conn, n)
    }
}

fn tail(conn: &Connection, n: usize) -> Result<Vec<Row>, AuditError> {
    let mut stmt = conn.prepare(
        "SELECT id, ts, client, request, intent, tool, arguments, result, outcome, refusal, prev, hash
         FROM audit ORDER BY id DESC LIMIT ?1",
    )?;
    let mut rows: Vec<Row> = stmt
        .query_map([n as i64], read_row)?
        .collect::<Result<_, _>>()?;
    rows.reverse();
    Ok(rows)
}

/// The newest `n` rows of the log at `path`, opened read-only.
pub fn tail_file(path: &Path, n: usize) -> Result<Vec<Row>, AuditError> {
    tail(&open_read_only(path)?, n)
}

fn open_read_only(path: &Path) -> Result<Connection, AuditError> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| AuditError(format!("cannot open {}: {e}", path.display())))
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        ts: r.get(1)?,
        entry: Entry {
            client: r.get(2)?,
            request: r.get(3)?,
            intent: r.get(4)?,
            tool: r.get(5)?,
            arguments: r.get(6)?,
            result: r.get(7)?,
            outcome: r.get(8)?,
            refusal: r.get(9)?,
        },
        prev: r.get(10)?,
        hash: r.get(11)?,
    })
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every row chains; `head` is the newest row's hash.
    Intact { rows: i64, head: String },
    /// The first row that breaks the chain, and how.
    Broken { id: i64, reason: String },
}

/// Walks the whole chain of the log at `path`.
pub fn verify(path: &Path) -> Result<Verdict, AuditError> {
    let conn = open_read_only(path)?;
    let mut stmt = conn.prepare(
        "SELECT id, ts, client, request, intent, tool, arguments, result, outcome, refusal, prev, hash
         FROM audit ORDER BY rowid",
    )?;
    let rows = stmt.query_map([], read_row)?;
    let mut expected_id = 1;
    let mut prev = GENESIS.to_owned();
    for row in rows {
        let row = row?;
        if row.id != expected_id {
            let reason = if row.id > expected_id {
                format!(
                    "comes after row {}: row {expected_id} is missing (deleted)",
                    expected_id - 1
                )
            } else {
                format!("is out of order (expected row {expected_id} here)")
            };
            return Ok(Verdict::Broken { id: row.id, reason });
        }
        if row.prev != prev {
            return Ok(Verdict::Broken {
                id: row.id,
                reason: "does not chain to the row before it (rows removed, inserted or moved)"
                    .into(),
            });
        }
        if row_hash(row.id, &row.ts, &row.entry, &row.prev) != row.hash {
            return Ok(Verdict::Broken {
                id: row.id,
                reason: "its content does not match its hash (edited)".into(),
            });
        }
        prev = row.hash;
        expected_id += 1;
    }
    Ok(Verdict::Intact {
        rows: expected_id - 1,
        head: prev,
    })
}

/// SHA-256 over the row's id, time, fields and the previous hash, as a
/// JSON array (unambiguous: every field is quoted and escaped).
fn row_hash(id: i64, ts: &str, e: &Entry, prev: &str) -> String {
    let canonical = serde_json::json!([
        id,
        ts,
        e.client,
        e.request,
        e.intent,
        e.tool,
        e.arguments,
        e.result,
        e.outcome,
        e.refusal,
        prev
    ]);
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn bounded(mut e: Entry) -> Entry {
    let cut = |s: &mut String| {
        if s.chars().count() > FIELD_CHARS {
            *s = s.chars().take(FIELD_CHARS).collect::<String>() + "…[cut]";
        }
    };
    cut(&mut e.client);
    cut(&mut e.request);
    cut(&mut e.outcome);
    for field in [
        &mut e.intent,
        &mut e.tool,
        &mut e.arguments,
        &mut e.result,
        &mut e.refusal,
    ] {
        if let Some(s) = field.as_mut() {
            cut(s);
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Entry {
        Entry {
            client: "bot".into(),
            request: format!("is everything running? #{n}"),
            intent: Some("question".into()),
            tool: n.is_multiple_of(2).then(|| "services".into()),
            arguments: Some("{}".into()),
            result: Some("3 units, 0 failed".into()),
            outcome: "ok".into(),
            refusal: None,
        }
    }

    fn log_with(rows: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let audit = Audit::open(&path).unwrap();
        for n in 0..rows {
            audit.append(entry(n)).unwrap();
        }
        (dir, path)
    }

    /// Tampers the way someone with the file would: triggers dropped first.
    fn tamper(path: &Path, sql: &str) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
            .unwrap();
        conn.execute_batch(sql).unwrap();
    }

    #[test]
    fn an_untouched_log_verifies_and_names_its_head() {
        let (_dir, path) = log_with(5);
        let tail = tail_file(&path, 2).unwrap();
        assert_eq!(tail.iter().map(|r| r.id).collect::<Vec<_>>(), [4, 5]);
        match verify(&path).unwrap() {
            Verdict::Intact { rows, head } => {
                assert_eq!(rows, 5);
                assert_eq!(head, tail[1].hash);
            }
            broken => panic!("{broken:?}"),
        }
    }

    #[test]
    fn the_log_refuses_updates_and_deletes() {
        let (_dir, path) = log_with(2);
        let conn = Connection::open(&path).unwrap();
        let err = conn
            .execute("UPDATE audit SET outcome = 'ok' WHERE id = 1", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(conn.execute("DELETE FROM audit WHERE id = 1", []).is_err());
    }

    #[test]
    fn an_edited_row_is_named() {
        let (_dir, path) = log_with(5);
        tamper(&path, "UPDATE audit SET result = '0 units' WHERE id = 3");
        assert_eq!(
            verify(&path).unwrap(),
            Verdict::Broken {
                id: 3,
                reason: "its content does not match its hash (edited)".into()
            }
        );
    }

    #[test]
    fn a_deleted_row_is_named() {
        let (_dir, path) = log_with(5);
        tamper(&path, "DELETE FROM audit WHERE id = 2");
        let Verdict::Broken { id, reason } = verify(&path).unwrap() else {
            panic!("not detected")
        };
        assert_eq!(id, 3);
        assert!(reason.contains("row 2 is missing"), "{reason}");
    }

    #[test]
    fn reordered_rows_are_named() {
        let (_dir, path) = log_with(5);
        // Rows 2 and 3 trade places: each keeps its content and hash and
        // takes the other's position.
        tamper(
            &path,
            "UPDATE audit SET id = -2 WHERE id = 2;
             UPDATE audit SET id = 2 WHERE id = 3;
             UPDATE audit SET id = 3 WHERE id = -2;",
        );
        let Verdict::Broken { id, reason } = verify(&path).unwrap() else {
            panic!("not detected")
        };
        assert_eq!(id, 2);
        assert!(reason.contains("does not chain"), "{reason}");
    }

    #[test]
    fn a_rewritten_chain_after_an_edit_is_still_caught_by_the_next_row() {
        let (_dir, path) = log_with(4);
        // The editor recomputes row 2's own hash, but row 3 still chains
        // to the old one.
        let row2 = tail_file(&path, 3).unwrap()[0].clone();
        let mut edited = row2.entry.clone();
        edited.result = Some("nothing happened".into());
        let hash = row_hash(2, &row2.ts, &edited, &row2.prev);
        tamper(
            &path,
            &format!("UPDATE audit SET result = 'nothing happened', hash = '{hash}' WHERE id = 2"),
        );
        let Verdict::Broken { id, reason } = verify(&path).unwrap() else {
            panic!("not detected")
        };
        assert_eq!(id, 3);
        assert!(reason.contains("does not chain"), "{reason}");
    }

    #[test]
    fn committed_rows_survive_another_writer_and_long_fields_are_cut() {
        let (_dir, path) = log_with(1);
        let audit = Audit::open(&path).unwrap();
        let mut long = entry(7);
        long.result = Some("x".repeat(FIELD_CHARS + 10));
        let row = audit.append(long).unwrap();
        assert_eq!(row.id, 2);
        assert!(row.entry.result.unwrap().ends_with("…[cut]"));
        assert!(matches!(
            verify(&path).unwrap(),
            Verdict::Intact { rows: 2, .. }
        ));
    }
}
