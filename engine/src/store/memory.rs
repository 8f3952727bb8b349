//! [`MemoryStore`]: execution records and their live history in process memory.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{ExecutionRecord, ExecutionStore, Launch, ListQuery, Page, Reservation, Retention, StoreError};
use crate::engine::Outcome;
use crate::history::{History, HistoryEvent};

/// How many ended executions keep sharing their payloads with the values their run made (the latest
/// ones, the likeliest to be read soon). Older ones keep them as compact text, several times smaller
/// (`History::settle`), so a long-lived store grows by the text of what it keeps, not by value trees.
const RECENT_UNSETTLED: usize = 256;

struct Entry {
    seq: u64,
    record: ExecutionRecord,
    history: Option<History>,
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    by_arn: HashMap<String, Entry>,
    /// ARNs by creation sequence.
    order: BTreeMap<u64, String>,
    /// Closed executions in the order they closed, with their stop dates (an entry is stale when
    /// its execution has been redriven since).
    closed: VecDeque<(OffsetDateTime, String)>,
    /// The histories of the latest ended executions, not settled yet, oldest first.
    unsettled: VecDeque<History>,
}

/// Keeps execution records and their history in memory, closed ones for as long as its
/// [`Retention`] says (for the life of the process by default).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    retention: Retention,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store that removes closed executions as `retention` says.
    pub fn with_retention(retention: Retention) -> MemoryStore {
        MemoryStore { inner: Mutex::default(), retention }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn push(&mut self, record: ExecutionRecord, history: Option<History>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, record.arn.clone());
        self.by_arn.insert(record.arn.clone(), Entry { seq, record, history });
    }
}

#[async_trait]
impl ExecutionStore for MemoryStore {
    async fn reserve(&self, record: ExecutionRecord) -> Result<Reservation, StoreError> {
        let mut inner = self.lock();
        if let Some(existing) = inner.by_arn.get(&record.arn) {
            return if existing.record.same_running_start(&record) {
                Ok(Reservation::Existing(Box::new(existing.record.clone())))
            } else {
                Err(StoreError::AlreadyExists(record.arn))
            };
        }
        inner.push(record, None);
        Ok(Reservation::Reserved)
    }

    async fn insert(&self, record: ExecutionRecord, history: History, _: Option<Launch>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        match inner.by_arn.get_mut(&record.arn) {
            Some(entry) if entry.history.is_none() => {
                // Filled in after a reservation: keep the reserved metadata, take the real start.
                entry.record.start_date = record.start_date;
                entry.record.machine_type = record.machine_type;
                entry.history = Some(history);
            }
            _ => inner.push(record, Some(history)),
        }
        Ok(())
    }

    async fn redriven(&self, arn: &str, date: OffsetDateTime) -> Result<Option<u32>, StoreError> {
        let mut inner = self.lock();
        inner.closed.retain(|(_, closed)| closed != arn);
        Ok(inner.by_arn.get_mut(arn).map(|e| e.record.reopen(date)))
    }

    async fn finish(
        &self,
        arn: &str,
        outcome: &Outcome,
        stop_date: OffsetDateTime,
        _: Vec<HistoryEvent>,
    ) -> Result<(), StoreError> {
        let settle = {
            let mut inner = self.lock();
            let Some(entry) = inner.by_arn.get_mut(arn) else {
                return Ok(());
            };
            entry.record.close(outcome, stop_date);
            let history = entry.history.clone();
            if !self.retention.keeps_everything() {
                inner.closed.push_back((stop_date, arn.to_owned()));
            }
            inner.unsettled.extend(history);
            if inner.unsettled.len() > RECENT_UNSETTLED {
                inner.unsettled.pop_front()
            } else {
                None
            }
        };
        // Outside the lock: it writes every payload of a history.
        if let Some(history) = settle {
            history.settle();
        }
        Ok(())
    }

    async fn purge(&self, now: OffsetDateTime) -> Result<Vec<String>, StoreError> {
        let Retention { max_age, max_closed } = self.retention;
        if self.retention.keeps_everything() {
            return Ok(Vec::new());
        }
        let mut inner = self.lock();
        let mut removed = Vec::new();
        while let Some((stopped, arn)) = inner.closed.front().cloned() {
            let too_many = max_closed.is_some_and(|n| inner.closed.len() > n);
            let too_old = max_age.is_some_and(|age| now - stopped > age);
            if !too_many && !too_old {
                break;
            }
            inner.closed.pop_front();
            // A guard: a redrive takes its execution out of `closed`.
            let current = inner.by_arn.get(&arn).is_some_and(|e| e.record.stop_date == Some(stopped));
            if current {
                if let Some(entry) = inner.by_arn.remove(&arn) {
                    inner.order.remove(&entry.seq);
                }
                removed.push(arn);
            }
        }
        Ok(removed)
    }

    async fn get(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        Ok(self.lock().by_arn.get(arn).map(|e| e.record.clone()))
    }

    async fn history(&self, arn: &str) -> Result<Option<Vec<HistoryEvent>>, StoreError> {
        let Some(entry) = self.lock().by_arn.get(arn).map(|e| e.history.clone()) else { return Ok(None) };
        Ok(Some(entry.map(|h| h.events()).unwrap_or_default()))
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        let after = query.after()?;
        let limit = query.max_results.max(1);
        let inner = self.lock();
        let mut items = Vec::new();
        let mut next_token = None;
        let mut last_seq = 0;
        for arn in inner.order.values().rev() {
            let Some(entry) = inner.by_arn.get(arn) else { continue };
            if after.is_some_and(|a| entry.seq >= a) || !query.matches(&entry.record) {
                continue;
            }
            if items.len() == limit {
                next_token = Some(query.token_after(last_seq));
                break;
            }
            last_seq = entry.seq;
            items.push(entry.record.clone());
        }
        Ok(Page { items, next_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ExecutionStatus;
    use serde_json::json;

    fn record(n: usize) -> ExecutionRecord {
        ExecutionRecord::new(format!("arn:e:{n}"), format!("e{n}"), "arn:sm", "sm", json!({"n": n}))
    }

    #[tokio::test]
    async fn reserve_applies_the_idempotency_rule() {
        let store = MemoryStore::new();
        assert_eq!(store.reserve(record(1)).await, Ok(Reservation::Reserved));
        // Same name and input while running: the original.
        assert!(matches!(store.reserve(record(1)).await, Ok(Reservation::Existing(r)) if r.arn == "arn:e:1"));
        // Same name, other input: refused.
        let mut other = record(1);
        other.input = json!({"other": true});
        assert_eq!(store.reserve(other).await, Err(StoreError::AlreadyExists("arn:e:1".into())));
        // Once ended, the name stays taken.
        let outcome = Outcome { status: ExecutionStatus::Succeeded, output: Some(json!(1)), error: None, cause: None };
        store.finish("arn:e:1", &outcome, OffsetDateTime::now_utc(), Vec::new()).await.expect("finish");
        assert!(matches!(store.reserve(record(1)).await, Err(StoreError::AlreadyExists(_))));
        assert_eq!(store.get("arn:e:1").await.expect("get").map(|r| r.status), Some(ExecutionStatus::Succeeded));
    }

    #[tokio::test]
    async fn only_the_latest_ended_executions_keep_their_values() {
        use crate::history::{Event, Payload, StateType};
        use std::sync::Arc;
        let store = MemoryStore::new();
        let outcome = Outcome { status: ExecutionStatus::Succeeded, output: None, error: None, cause: None };
        let mut values = Vec::new();
        for n in 0..=RECENT_UNSETTLED {
            let value = Arc::new(json!({"n": n}));
            let history = History::default();
            let input = Payload::shared(value.clone());
            history.record(0, Event::StateEntered { state_type: StateType::Pass, name: "P".into(), input });
            store.insert(record(n), history, None).await.expect("insert");
            store.finish(&format!("arn:e:{n}"), &outcome, OffsetDateTime::now_utc(), Vec::new()).await.expect("finish");
            values.push(value);
        }
        // The oldest history keeps text only; the latest still share their values.
        assert_eq!(Arc::strong_count(&values[0]), 1);
        assert!(values[1..].iter().all(|v| Arc::strong_count(v) == 2));
        let history = store.history("arn:e:0").await.expect("read").expect("kept");
        let Event::StateEntered { input, .. } = &history[0].event else { panic!("{history:?}") };
        assert_eq!(input.text(), r#"{"n":0}"#);
    }

    #[tokio::test]
    async fn list_pages_newest_first_and_filters() {
        let store = MemoryStore::new();
        for n in 0..7 {
            store.insert(record(n), History::default(), None).await.expect("insert");
        }
        let outcome = Outcome { status: ExecutionStatus::Failed, output: None, error: None, cause: None };
        store.finish("arn:e:3", &outcome, OffsetDateTime::now_utc(), Vec::new()).await.expect("finish");
        let mut query = ListQuery { state_machine_arn: Some("arn:sm".into()), max_results: 3, ..ListQuery::default() };
        let mut seen = Vec::new();
        loop {
            let page = store.list(&query).await.expect("valid token");
            seen.extend(page.items.iter().map(|r| r.name.clone()));
            match page.next_token {
                Some(t) => query.next_token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]);
        let failed = store
            .list(&ListQuery { status: Some(ExecutionStatus::Failed), max_results: 10, ..ListQuery::default() })
            .await
            .expect("no token");
        assert_eq!(failed.items.len(), 1);
        assert_eq!(failed.next_token, None);
    }

    #[tokio::test]
    async fn tokens_are_bound_to_their_query() {
        let store = MemoryStore::new();
        for n in 0..3 {
            store.insert(record(n), History::default(), None).await.expect("insert");
        }
        let query = ListQuery { max_results: 1, ..ListQuery::default() };
        let token = store.list(&query).await.expect("first page").next_token.expect("more pages");
        let other = ListQuery {
            status: Some(ExecutionStatus::Running),
            max_results: 1,
            next_token: Some(token.clone()),
            ..ListQuery::default()
        };
        assert!(matches!(store.list(&other).await, Err(StoreError::InvalidToken(_))));
        let garbage = ListQuery { next_token: Some("nope".into()), max_results: 1, ..ListQuery::default() };
        assert!(matches!(store.list(&garbage).await, Err(StoreError::InvalidToken(_))));
        let next = ListQuery { next_token: Some(token), ..query };
        assert_eq!(store.list(&next).await.expect("continues").items[0].name, "e1");
    }
}
