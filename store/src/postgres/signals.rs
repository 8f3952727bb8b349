//! Signals between instances: an answer to a task token, or a stop request, that reached an
//! instance which does not run the execution. The sender writes it to `signals` and announces it
//! with `NOTIFY legion_signals, '<owner>'`; the owner delivers it to its engine. Owners also look
//! every second, which covers a missed notification and an execution just taken over.

use std::sync::Weak;
use std::time::Duration;

use legion_engine::{Sent, Signal, StoreError};
use sqlx::postgres::PgListener;
use sqlx::Row;

use super::Inner;
use crate::rows::{from_json, json, unavailable};

/// The channel instances announce signals on.
const CHANNEL: &str = "legion_signals";

/// How long a signal that cannot be delivered yet is offered again (its task may not wait yet on an
/// execution just taken over).
const PATIENCE_SECS: f64 = 60.0;

/// Queues `signal` for the instance that runs its execution.
pub(super) async fn send(inner: &Inner, signal: Signal) -> Result<Sent, StoreError> {
    let mut tx = inner.pool.begin().await.map_err(unavailable)?;
    let arn: Option<String> = match &signal {
        Signal::Token { token, signal } => {
            // A heartbeat leaves the token open; an answer closes it, so a second answer is refused.
            let sql = match signal {
                legion_engine::TokenSignal::Heartbeat => "SELECT arn FROM tokens WHERE token = $1 AND state = 'open'",
                _ => "UPDATE tokens SET state = 'answered' WHERE token = $1 AND state = 'open' RETURNING arn",
            };
            sqlx::query_scalar(sql).bind(token).fetch_optional(&mut *tx).await.map_err(unavailable)?
        }
        Signal::ActivityTaken { token, .. } => sqlx::query_scalar("SELECT arn FROM tokens WHERE token = $1")
            .bind(token)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?,
        Signal::Stop { arn, .. } => Some(arn.clone()),
        _ => None,
    };
    let Some(arn) = arn else { return Ok(Sent::NoRecipient) };
    let owner: Option<Option<String>> =
        sqlx::query_scalar("SELECT owner FROM executions WHERE arn = $1 AND status = 'RUNNING'")
            .bind(&arn)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?;
    let Some(owner) = owner else { return Ok(Sent::NoRecipient) };
    sqlx::query("INSERT INTO signals (arn, signal) VALUES ($1, $2)")
        .bind(&arn)
        .bind(json(&signal)?)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(owner.unwrap_or_default())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(Sent::Queued)
}

/// Delivers the signals for this instance's executions as they are announced, and every second.
pub(super) async fn listen(inner: Weak<Inner>) {
    let mut listener = None;
    loop {
        let Some(strong) = inner.upgrade() else { return };
        if listener.is_none() {
            listener = subscribe(&strong).await;
        }
        if let Err(e) = deliver(&strong).await {
            tracing::warn!(error = %e, "could not deliver signals from other instances");
        }
        drop(strong);
        match listener.as_mut() {
            Some(l) => {
                // A notification or a second, whichever comes first; a broken connection is renewed.
                if let Ok(Err(_)) = tokio::time::timeout(Duration::from_secs(1), l.try_recv()).await {
                    listener = None;
                }
            }
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

async fn subscribe(inner: &Inner) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(&inner.pool).await.ok()?;
    listener.listen(CHANNEL).await.ok()?;
    Some(listener)
}

/// Offers each waiting signal of this instance's executions to the engine; removes the delivered
/// ones and those that waited too long.
async fn deliver(inner: &Inner) -> Result<(), StoreError> {
    let Some(inbox) = inner.inbox.get() else { return Ok(()) };
    let rows = sqlx::query(
        "SELECT s.id, s.signal, extract(epoch FROM now() - s.created)::float8 FROM signals s
         JOIN executions e ON e.arn = s.arn WHERE e.owner = $1 ORDER BY s.id",
    )
    .bind(&inner.owner)
    .fetch_all(&inner.pool)
    .await
    .map_err(unavailable)?;
    let mut done = Vec::new();
    for row in rows {
        let (id, text, age): (i64, String, f64) = (row.get(0), row.get(1), row.get(2));
        let delivered = match from_json::<Signal>(&text) {
            Ok(signal) => inbox(signal),
            Err(_) => true,
        };
        if delivered || age > PATIENCE_SECS {
            done.push(id);
        }
    }
    if !done.is_empty() {
        sqlx::query("DELETE FROM signals WHERE id = ANY($1)")
            .bind(done)
            .execute(&inner.pool)
            .await
            .map_err(unavailable)?;
    }
    Ok(())
}
