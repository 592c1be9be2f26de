//! Conversations: kept in SQLite so a restart loses none, each owned by
//! the client that opened it, trimmed to the first turn and the last N,
//! and gone after a time without use.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

use crate::engine::Turn;

pub struct Sessions {
    conn: Mutex<Connection>,
    idle: Duration,
    keep_last: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no session `{0}` (it never existed, expired, or belongs to another client)")]
    NotFound(String),
    #[error("sessions: {0}")]
    Store(String),
}

impl From<rusqlite::Error> for SessionError {
    fn from(e: rusqlite::Error) -> Self {
        SessionError::Store(e.to_string())
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Sessions {
    pub fn open(path: &Path, idle: Duration, keep_last: usize) -> Result<Self, SessionError> {
        let conn = Connection::open(path)
            .map_err(|e| SessionError::Store(format!("cannot open {}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, client TEXT NOT NULL, created INTEGER NOT NULL, used INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS turns (session TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, PRIMARY KEY (session, seq));",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            idle,
            keep_last,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes sessions idle longer than the timeout; returns how many.
    pub fn expire(&self) -> Result<usize, SessionError> {
        let cutoff = now() - self.idle.as_secs() as i64;
        let conn = self.lock();
        conn.execute(
            "DELETE FROM turns WHERE session IN (SELECT id FROM sessions WHERE used < ?1)",
            [cutoff],
        )?;
        Ok(conn.execute("DELETE FROM sessions WHERE used < ?1", [cutoff])?)
    }

    pub fn create(&self, client: &str) -> Result<String, SessionError> {
        self.expire()?;
        let mut bytes = [0u8; 16];
        getrandom(&mut bytes);
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.lock().execute(
            "INSERT INTO sessions (id, client, created, used) VALUES (?1, ?2, ?3, ?3)",
            params![id, client, now()],
        )?;
        Ok(id)
    }

    /// The session's turns, oldest first, when `client` owns it.
    pub fn history(&self, client: &str, id: &str) -> Result<Vec<Turn>, SessionError> {
        self.expire()?;
        let conn = self.lock();
        let owner: Option<String> = conn
            .query_row("SELECT client FROM sessions WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        if owner.as_deref() != Some(client) {
            return Err(SessionError::NotFound(id.to_owned()));
        }
        let mut stmt =
            conn.prepare("SELECT role, content FROM turns WHERE session = ?1 ORDER BY seq")?;
        let turns = stmt
            .query_map([id], |r| {
                Ok(Turn {
                    role: r.get(0)?,
                    content: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(turns)
    }

    /// Adds a question and its answer, then trims to the first turn pair
    /// and the last `keep_last` turns.
    pub fn append(
        &self,
        client: &str,
        id: &str,
        question: &str,
        answer: &str,
    ) -> Result<(), SessionError> {
        self.history(client, id)?;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let next: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE session = ?1",
            [id],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO turns VALUES (?1, ?2, 'user', ?3)",
            params![id, next, question],
        )?;
        tx.execute(
            "INSERT INTO turns VALUES (?1, ?2, 'assistant', ?3)",
            params![id, next + 1, answer],
        )?;
        // Keep seq 1 and 2 (the first question and answer) and the newest.
        tx.execute(
            "DELETE FROM turns WHERE session = ?1 AND seq > 2 AND seq <= ?2",
            params![id, next + 1 - self.keep_last as i64],
        )?;
        tx.execute(
            "UPDATE sessions SET used = ?2 WHERE id = ?1",
            params![id, now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn delete(&self, client: &str, id: &str) -> Result<(), SessionError> {
        self.history(client, id)?;
        let conn = self.lock();
        conn.execute("DELETE FROM turns WHERE session = ?1", [id])?;
        conn.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        Ok(())
    }
}

/// 16 random bytes for a session id, from the kernel.
fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(buf).is_ok() {
            return;
        }
    }
    panic!("cannot read /dev/urandom");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_trimmed_owned_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        let sessions =
            Sessions::open(&dir.path().join("s.db"), Duration::from_secs(1800), 4).unwrap();
        let id = sessions.create("bot").unwrap();
        for n in 1..=5 {
            sessions
                .append("bot", &id, &format!("q{n}"), &format!("a{n}"))
                .unwrap();
        }
        let turns: Vec<String> = sessions
            .history("bot", &id)
            .unwrap()
            .into_iter()
            .map(|t| t.content)
            .collect();
        assert_eq!(turns, ["q1", "a1", "q4", "a4", "q5", "a5"]);
        assert!(matches!(
            sessions.history("other", &id),
            Err(SessionError::NotFound(_))
        ));
        assert!(sessions.append("other", &id, "q", "a").is_err());
        sessions.delete("bot", &id).unwrap();
        assert!(sessions.history("bot", &id).is_err());

        let short = Sessions::open(&dir.path().join("t.db"), Duration::from_secs(0), 4).unwrap();
        let id = short.create("bot").unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(matches!(
            short.history("bot", &id),
            Err(SessionError::NotFound(_))
        ));
    }
}
