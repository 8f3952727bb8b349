//! The SQLite schema and its migrations, versioned with `PRAGMA user_version`.

use rusqlite::Connection;

/// The schema version this Legion writes.
pub(crate) const VERSION: i64 = 4;

/// Each migration takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE executions (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    arn               TEXT NOT NULL UNIQUE,
    state_machine_arn TEXT NOT NULL,
    map_run_arn       TEXT,
    status            TEXT NOT NULL,
    stop_date         INTEGER,
    record            TEXT NOT NULL,
    started           INTEGER NOT NULL DEFAULT 0,
    definition        TEXT,
    role_arn          TEXT,
    token_seed        TEXT,
    map_run           TEXT,
    checkpoint        TEXT
);
CREATE INDEX executions_by_status ON executions (status);
CREATE INDEX executions_by_machine ON executions (state_machine_arn, seq);
CREATE INDEX executions_closed ON executions (stop_date) WHERE stop_date IS NOT NULL;
CREATE TABLE events (
    arn   TEXT NOT NULL,
    id    INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (arn, id)
) WITHOUT ROWID;
CREATE TABLE map_successes (
    arn     TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    result  TEXT NOT NULL,
    PRIMARY KEY (arn, ordinal)
) WITHOUT ROWID;
CREATE TABLE documents (
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE map_runs (
    arn           TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    start         INTEGER NOT NULL,
    info          TEXT NOT NULL
);
CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, start);
CREATE TABLE map_children (
    arn         TEXT PRIMARY KEY,
    map_run_arn TEXT NOT NULL,
    start       INTEGER NOT NULL,
    child       TEXT NOT NULL,
    history     TEXT
);
CREATE INDEX map_children_by_run ON map_children (map_run_arn, start);
"#,
    // Version 3 changes no table: a row of `events` may hold a JSON array of the events of one
    // write (under the first one's id), which an older Legion could not read.
    r#"
"#,
    // Version 4 keys history by the execution's `seq` instead of its ARN: the events of running
    // executions (the newest) are appended at the end of one B-tree, so a group commit writes a
    // few pages of history instead of one page per execution. Only RUNNING executions are
    // indexed by status (recovery reads them; listing filters by state machine or map run).
    r#"
CREATE TABLE history (
    seq    INTEGER NOT NULL,
    id     INTEGER NOT NULL,
    events TEXT NOT NULL,
    PRIMARY KEY (seq, id)
) WITHOUT ROWID;
INSERT INTO history (seq, id, events)
    SELECT executions.seq, events.id, events.event FROM events JOIN executions ON executions.arn = events.arn;
DROP TABLE events;
DROP INDEX executions_by_status;
CREATE INDEX executions_running ON executions (seq) WHERE status = 'RUNNING';
"#,
];

/// Brings the schema up to [`VERSION`]; refuses a database written by a newer Legion.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), String> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if found > VERSION {
        return Err(format!(
            "the database was written by a newer Legion (schema version {found}; this Legion reads up to version {VERSION})"
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(sql).map_err(|e| format!("migration to version {}: {e}", i + 1))?;
        tx.pragma_update(None, "user_version", i as i64 + 1).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}
