//! A database of its own for each test, on the PostgreSQL server `.ci/run` starts
//! (`LEGION_TEST_POSTGRES`, see `.ci/postgres.sh`).

/// Creates an empty database on the test server and returns its URL; `None` (after one `SKIPPED`
/// line) outside CI when no server is configured.
pub async fn fresh_database() -> Option<String> {
    let admin = crate::external_server("LEGION_TEST_POSTGRES", "PostgreSQL server (.ci/postgres.sh start DIR PORT)")?;
    let name = format!("legion_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&admin).await.expect("the test PostgreSQL server accepts connections");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("creates a test database");
    pool.close().await;
    let base = admin.split('?').next().unwrap_or(&admin);
    let base = base.rsplit_once('/').map_or(base, |(base, _)| base);
    Some(format!("{base}/{name}"))
}
