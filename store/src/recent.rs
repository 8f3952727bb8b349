//! The execution records a SQLite store wrote last, kept in memory: a DescribeExecution right after
//! a start or an end, and the end itself, read no row. Only committed records go in, so an entry is
//! what the file holds; a miss reads the file.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use legion_engine::ExecutionRecord;

/// How many records are kept (first in, first out).
const CAPACITY: usize = 4096;

/// The last records written, by ARN.
#[derive(Default)]
pub(crate) struct Recent(Mutex<Entries>);

#[derive(Default)]
struct Entries {
    records: HashMap<String, Arc<ExecutionRecord>>,
    order: VecDeque<String>,
}

impl Recent {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The record of `arn` as last committed, when it is kept.
    pub(crate) fn get(&self, arn: &str) -> Option<Arc<ExecutionRecord>> {
        self.lock().records.get(arn).cloned()
    }

    /// Keeps a record that has just been committed.
    pub(crate) fn put(&self, record: Arc<ExecutionRecord>) {
        let mut entries = self.lock();
        let arn = record.arn.clone();
        if entries.records.insert(arn.clone(), record).is_none() {
            entries.order.push_back(arn);
        }
        while entries.order.len() > CAPACITY {
            if let Some(oldest) = entries.order.pop_front() {
                entries.records.remove(&oldest);
            }
        }
    }

    /// Forgets `arn` (removed, or about to be written: a write that does not complete leaves no
    /// entry behind). Its place in the order stays (a later eviction of that place may drop a newer
    /// entry early: a miss, never a stale answer).
    pub(crate) fn forget(&self, arn: &str) {
        self.lock().records.remove(arn);
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        *self.lock() = Entries::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(n: usize) -> Arc<ExecutionRecord> {
        let arn = format!("arn:aws:states:us-east-1:123456789012:execution:m:{n}");
        Arc::new(ExecutionRecord::new(arn, n.to_string(), "arn:m", "m", json!({})))
    }

    #[test]
    fn keeps_the_latest_records_up_to_its_capacity() {
        let recent = Recent::default();
        for n in 0..CAPACITY + 10 {
            recent.put(record(n));
        }
        assert!(recent.get(&record(9).arn).is_none());
        assert!(recent.get(&record(10).arn).is_some());
        recent.put(record(10));
        recent.forget(&record(11).arn);
        assert!(recent.get(&record(11).arn).is_none());
        let (kept, ordered) = {
            let entries = recent.lock();
            (entries.records.len(), entries.order.len())
        };
        assert_eq!((kept, ordered), (CAPACITY - 1, CAPACITY));
        recent.clear();
        assert!(recent.get(&record(10).arn).is_none());
    }
}
