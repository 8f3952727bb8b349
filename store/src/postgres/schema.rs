//! The PostgreSQL schema and its migrations, versioned in `legion_meta`.

use sqlx::PgPool;

/// The schema version this Legion writes.
pub(crate) const VERSION: i64 = 2;

/// Each migration takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE executions (
    seq               BIGSERIAL PRIMARY KEY,
    arn               TEXT NOT NULL UNIQUE,
    state_machine_arn TEXT NOT NULL,
    map_run_arn       TEXT,
    status            TEXT NOT NULL,
    stop_date         BIGINT,
    record            TEXT NOT NULL,
    started           BOOLEAN NOT NULL DEFAULT FALSE,
    definition        TEXT,
    role_arn          TEXT,
    token_seed        TEXT,
    map_run           TEXT,
    checkpoint        TEXT,
    owner             TEXT,
    lease_until       TIMESTAMPTZ
);
CREATE INDEX executions_running ON executions (owner, lease_until) WHERE status = 'RUNNING';
CREATE INDEX executions_by_machine ON executions (state_machine_arn, seq);
CREATE INDEX executions_closed ON executions (stop_date) WHERE stop_date IS NOT NULL;
CREATE TABLE events (
    arn         TEXT NOT NULL,
    id          BIGINT NOT NULL,
    event       TEXT NOT NULL,
    provisional BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (arn, id)
);
CREATE TABLE map_successes (
    arn     TEXT NOT NULL,
    map_run TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    result  TEXT NOT NULL,
    PRIMARY KEY (arn, map_run, ordinal)
);
CREATE SEQUENCE document_versions;
CREATE TABLE documents (
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT,
    version BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX documents_by_version ON documents (version);
CREATE TABLE tokens (
    token TEXT PRIMARY KEY,
    arn   TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX tokens_by_execution ON tokens (arn);
CREATE TABLE signals (
    id      BIGSERIAL PRIMARY KEY,
    arn     TEXT NOT NULL,
    signal  TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX signals_by_execution ON signals (arn);
CREATE TABLE map_runs (
    arn           TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    start         BIGINT NOT NULL,
    info          TEXT NOT NULL
);
CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, start);
CREATE TABLE map_children (
    arn         TEXT PRIMARY KEY,
    map_run_arn TEXT NOT NULL,
    start       BIGINT NOT NULL,
    child       TEXT NOT NULL,
    history     TEXT
);
CREATE INDEX map_children_by_run ON map_children (map_run_arn, start);
"#,
    r#"
CREATE TABLE map_child_queue (
    map_run_arn TEXT NOT NULL,
    ordinal     BIGINT NOT NULL,
    seq         BIGSERIAL,
    child       TEXT NOT NULL,
    claimed_by  TEXT,
    lease_until TIMESTAMPTZ,
    result      TEXT,
    PRIMARY KEY (map_run_arn, ordinal)
);
CREATE INDEX map_child_queue_open ON map_child_queue (seq) WHERE result IS NULL;
CREATE TABLE activity_tasks (
    token        TEXT PRIMARY KEY,
    activity_arn TEXT NOT NULL,
    input        TEXT NOT NULL,
    seq          BIGSERIAL,
    taken        BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX activity_tasks_waiting ON activity_tasks (activity_arn, seq) WHERE NOT taken;
"#,
];

/// Brings the schema up to [`VERSION`] (one instance at a time, under an advisory lock); refuses a
/// database written by a newer Legion.
pub(crate) async fn migrate(pool: &PgPool) -> Result<(), String> {
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    // Two instances starting together on an empty database must not both create the tables.
    sqlx::query("SELECT pg_advisory_xact_lock(7305812904821)").execute(&mut *tx).await.map_err(|e| e.to_string())?;
    sqlx::query("CREATE TABLE IF NOT EXISTS legion_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    let found: Option<i64> = sqlx::query_scalar("SELECT value FROM legion_meta WHERE key = 'schema_version'")
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
    let found = found.unwrap_or(0);
    if found > VERSION {
        return Err(format!(
            "the database was written by a newer Legion (schema version {found}; this Legion reads up to version {VERSION})"
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(|e| format!("migration to version {}: {e}", i + 1))?;
    }
    sqlx::query(
        "INSERT INTO legion_meta (key, value) VALUES ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(VERSION.max(found))
    .execute(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}
