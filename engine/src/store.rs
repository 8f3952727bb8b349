//! The execution store: every execution an [`Engine`](crate::Engine) starts, for describing, listing,
//! reading the history of and stopping it later.
//!
//! [`ExecutionStore`] is the persistence boundary: records ([`ExecutionRecord`]) and their history.
//! [`MemoryStore`] keeps them in memory. [`Executions`] adds what only a running process has: the live
//! handles through which executions are stopped.
//!
//! Creation is two-step so that names are unique without a race: [`ExecutionStore::reserve`] claims an
//! ARN atomically (AWS's idempotency rule for Standard executions), then the engine's `start`
//! registers the running execution under it ([`ExecutionStore::insert`]) and reports its end
//! ([`ExecutionStore::finish`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use legion_asl::model::{StateMachine, StateMachineType};
use serde_json::Value;
use time::OffsetDateTime;

use crate::engine::{Execution, ExecutionStatus, Outcome};
use crate::executions::StartOptions;
use crate::history::{History, HistoryEvent};
use crate::interp::checkpoint::CheckpointSlot;
use crate::interp::ExecutionInfo;

/// What the store knows about one execution (DescribeExecution's facts).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    /// The execution ARN.
    pub arn: String,
    /// The execution name.
    pub name: String,
    /// The ARN of the state machine (never a version or alias ARN).
    pub state_machine_arn: String,
    /// The state machine's name.
    pub state_machine_name: String,
    /// The version that ran, when started through a version or an alias.
    pub version_arn: Option<String>,
    /// The alias it was started through.
    pub alias_arn: Option<String>,
    /// The Map Run this execution is a child of.
    pub map_run_arn: Option<String>,
    /// Standard or Express.
    pub machine_type: StateMachineType,
    /// The execution input.
    pub input: Value,
    /// The X-Ray trace header given at start.
    pub trace_header: Option<String>,
    /// When it started.
    pub start_date: OffsetDateTime,
    /// Its status.
    pub status: ExecutionStatus,
    /// When it ended.
    pub stop_date: Option<OffsetDateTime>,
    /// The output, on success.
    pub output: Option<Value>,
    /// The error, on failure.
    pub error: Option<String>,
    /// The cause, on failure.
    pub cause: Option<String>,
    /// How many times it has been redriven.
    pub redrive_count: u32,
    /// When it was last redriven.
    pub redrive_date: Option<OffsetDateTime>,
}

impl ExecutionRecord {
    /// A record for an execution that is starting now.
    pub fn new(
        arn: impl Into<String>,
        name: impl Into<String>,
        state_machine_arn: impl Into<String>,
        state_machine_name: impl Into<String>,
        input: Value,
    ) -> ExecutionRecord {
        ExecutionRecord {
            arn: arn.into(),
            name: name.into(),
            state_machine_arn: state_machine_arn.into(),
            state_machine_name: state_machine_name.into(),
            version_arn: None,
            alias_arn: None,
            map_run_arn: None,
            machine_type: StateMachineType::Standard,
            input,
            trace_header: None,
            start_date: OffsetDateTime::now_utc(),
            status: ExecutionStatus::Running,
            stop_date: None,
            output: None,
            error: None,
            cause: None,
            redrive_count: 0,
            redrive_date: None,
        }
    }

    /// Why RedriveExecution refuses this execution (AWS's wording where known), or `None` when it
    /// may be redriven: a Standard execution that failed, timed out or was aborted.
    pub fn not_redrivable_reason(&self) -> Option<String> {
        if self.machine_type == StateMachineType::Express {
            // AWS's wording for this case is not known; Express executions are never redrivable.
            return Some("Execution is an EXPRESS execution and cannot be redriven".to_owned());
        }
        match self.status {
            ExecutionStatus::Running | ExecutionStatus::Succeeded => {
                Some(format!("Execution is {} and cannot be redriven", self.status.as_str()))
            }
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => None,
        }
    }
}

impl ExecutionRecord {
    /// Copies start metadata into the record.
    pub fn apply(&mut self, options: &StartOptions) {
        self.version_arn = options.version_arn.clone();
        self.alias_arn = options.alias_arn.clone();
        self.map_run_arn = options.map_run_arn.clone();
        self.trace_header = options.trace_header.clone();
    }
}

/// The answer to [`ExecutionStore::reserve`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reservation {
    /// The ARN is now claimed for a new execution.
    Reserved,
    /// The same Standard execution (same name, same input) is still running: its record.
    Existing(Box<ExecutionRecord>),
}

/// Which executions to list, and which page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Executions of this state machine (any version or alias).
    pub state_machine_arn: Option<String>,
    /// Only executions started through this version.
    pub version_arn: Option<String>,
    /// Only executions started through this alias.
    pub alias_arn: Option<String>,
    /// Only children of this Map Run.
    pub map_run_arn: Option<String>,
    /// Only executions with this status.
    pub status: Option<ExecutionStatus>,
    /// Only executions that have (or have not) been redriven.
    pub redrive_filter: Option<RedriveFilter>,
    /// The page size (at least 1).
    pub max_results: usize,
    /// Where the previous page ended.
    pub next_token: Option<String>,
}

/// ListExecutions' `redriveFilter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedriveFilter {
    /// Executions redriven at least once.
    Redriven,
    /// Executions never redriven.
    NotRedriven,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub next_token: Option<String>,
}

/// Why the store refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// An execution with this ARN exists and is not the same running execution.
    #[error("Execution Already Exists: '{0}'")]
    AlreadyExists(String),
    /// The pagination token is not one this store issued for this query.
    #[error("Invalid Token: '{0}'")]
    InvalidToken(String),
}

/// Persists execution records and their history.
pub trait ExecutionStore: Send + Sync + 'static {
    /// Claims `record.arn` for a new execution, applying AWS's idempotency rule: a Standard execution
    /// whose name is taken may be started again only while the first one runs with the same input, and
    /// then nothing new starts.
    fn reserve(&self, record: ExecutionRecord) -> Result<Reservation, StoreError>;
    /// Registers a started execution; a reserved record keeps the metadata it was reserved with.
    fn insert(&self, record: ExecutionRecord, history: History);
    /// Marks an ended execution as running again after a redrive at `date`; returns its new redrive
    /// count (`None` for an unknown execution).
    fn redriven(&self, arn: &str, date: OffsetDateTime) -> Option<u32>;
    /// Records how an execution ended.
    fn finish(&self, arn: &str, outcome: &Outcome, stop_date: OffsetDateTime);
    /// Removes the closed executions its retention no longer keeps at `now`; returns their ARNs.
    fn purge(&self, now: OffsetDateTime) -> Vec<String>;
    /// The record of an execution.
    fn get(&self, arn: &str) -> Option<ExecutionRecord>;
    /// The history of an execution, oldest event first.
    fn history(&self, arn: &str) -> Option<Vec<HistoryEvent>>;
    /// A page of executions, newest first.
    fn list(&self, query: &ListQuery) -> Result<Page<ExecutionRecord>, StoreError>;
}

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
}

/// How long closed executions (and their history) are kept. Running ones are always kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Closed executions that stopped longer ago than this are removed.
    pub max_age: Option<Duration>,
    /// At most this many closed executions are kept; the ones that closed first go first.
    pub max_closed: Option<usize>,
}

impl Retention {
    /// Keeps everything (the default).
    pub fn forever() -> Retention {
        Retention::default()
    }

    /// Removes closed executions older than `max_age`.
    pub fn max_age(mut self, max_age: Duration) -> Retention {
        self.max_age = Some(max_age);
        self
    }

    /// Keeps at most `count` closed executions.
    pub fn max_closed(mut self, count: usize) -> Retention {
        self.max_closed = Some(count);
        self
    }
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

/// A fingerprint of the filters of a query, so a token only continues the listing it came from.
fn fingerprint(query: &ListQuery) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    query.state_machine_arn.hash(&mut h);
    query.version_arn.hash(&mut h);
    query.alias_arn.hash(&mut h);
    query.map_run_arn.hash(&mut h);
    query.status.map(|s| s.as_str()).hash(&mut h);
    query.redrive_filter.hash(&mut h);
    h.finish()
}

fn encode_token(seq: u64, query: &ListQuery) -> String {
    format!("{seq:016x}{:016x}", fingerprint(query))
}

fn decode_token(token: &str, query: &ListQuery) -> Result<u64, StoreError> {
    let bad = || StoreError::InvalidToken(token.to_owned());
    if token.len() != 32 || !token.is_ascii() {
        return Err(bad());
    }
    let seq = u64::from_str_radix(&token[..16], 16).map_err(|_| bad())?;
    let print = u64::from_str_radix(&token[16..], 16).map_err(|_| bad())?;
    if print != fingerprint(query) {
        return Err(bad());
    }
    Ok(seq)
}

fn matches(record: &ExecutionRecord, query: &ListQuery) -> bool {
    let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    let eq_opt = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
    eq(&query.state_machine_arn, &record.state_machine_arn)
        && eq_opt(&query.version_arn, &record.version_arn)
        && eq_opt(&query.alias_arn, &record.alias_arn)
        && eq_opt(&query.map_run_arn, &record.map_run_arn)
        && query.status.is_none_or(|s| s == record.status)
        && match query.redrive_filter {
            None => true,
            Some(RedriveFilter::Redriven) => record.redrive_count > 0,
            Some(RedriveFilter::NotRedriven) => record.redrive_count == 0,
        }
}

impl ExecutionStore for MemoryStore {
    fn reserve(&self, record: ExecutionRecord) -> Result<Reservation, StoreError> {
        let mut inner = self.lock();
        if let Some(existing) = inner.by_arn.get(&record.arn) {
            let same = existing.record.status == ExecutionStatus::Running
                && existing.record.machine_type == StateMachineType::Standard
                && existing.record.input == record.input;
            return if same {
                Ok(Reservation::Existing(Box::new(existing.record.clone())))
            } else {
                Err(StoreError::AlreadyExists(record.arn))
            };
        }
        inner.push(record, None);
        Ok(Reservation::Reserved)
    }

    fn insert(&self, record: ExecutionRecord, history: History) {
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
    }

    fn redriven(&self, arn: &str, date: OffsetDateTime) -> Option<u32> {
        let mut inner = self.lock();
        inner.closed.retain(|(_, closed)| closed != arn);
        let r = &mut inner.by_arn.get_mut(arn)?.record;
        r.status = ExecutionStatus::Running;
        r.stop_date = None;
        r.output = None;
        r.error = None;
        r.cause = None;
        r.redrive_count += 1;
        r.redrive_date = Some(date);
        Some(r.redrive_count)
    }

    fn finish(&self, arn: &str, outcome: &Outcome, stop_date: OffsetDateTime) {
        let mut inner = self.lock();
        if let Some(entry) = inner.by_arn.get_mut(arn) {
            let r = &mut entry.record;
            r.status = outcome.status;
            r.stop_date = Some(stop_date);
            r.output = outcome.output.clone();
            r.error = outcome.error.clone();
            r.cause = outcome.cause.clone();
            if self.retention != Retention::forever() {
                inner.closed.push_back((stop_date, arn.to_owned()));
            }
        }
    }

    fn purge(&self, now: OffsetDateTime) -> Vec<String> {
        let Retention { max_age, max_closed } = self.retention;
        if max_age.is_none() && max_closed.is_none() {
            return Vec::new();
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
        removed
    }

    fn get(&self, arn: &str) -> Option<ExecutionRecord> {
        self.lock().by_arn.get(arn).map(|e| e.record.clone())
    }

    fn history(&self, arn: &str) -> Option<Vec<HistoryEvent>> {
        let history = self.lock().by_arn.get(arn)?.history.clone();
        Some(history.map(|h| h.events()).unwrap_or_default())
    }

    fn list(&self, query: &ListQuery) -> Result<Page<ExecutionRecord>, StoreError> {
        let after = query.next_token.as_deref().map(|t| decode_token(t, query)).transpose()?;
        let limit = query.max_results.max(1);
        let inner = self.lock();
        let mut items = Vec::new();
        let mut next_token = None;
        let mut last_seq = 0;
        for arn in inner.order.values().rev() {
            let Some(entry) = inner.by_arn.get(arn) else { continue };
            if after.is_some_and(|a| entry.seq >= a) || !matches(&entry.record, query) {
                continue;
            }
            if items.len() == limit {
                next_token = Some(encode_token(last_seq, query));
                break;
            }
            last_seq = entry.seq;
            items.push(entry.record.clone());
        }
        Ok(Page { items, next_token })
    }
}

/// What a redrive needs to run an execution again: its machine, facts, history and checkpoint.
#[derive(Clone)]
pub(crate) struct Resumable {
    pub(crate) machine: Arc<StateMachine>,
    pub(crate) info: ExecutionInfo,
    pub(crate) history: History,
    pub(crate) checkpoints: CheckpointSlot,
}

/// Why RedriveExecution was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    /// No execution has this ARN.
    #[error("Execution Does Not Exist: '{0}'")]
    DoesNotExist(String),
    /// The execution cannot be redriven, for this reason.
    #[error("{0}")]
    NotRedrivable(String),
}

/// The engine's view of its executions: the store plus the live handles of those still running and
/// what redriving the others needs.
pub(crate) struct Executions {
    pub(crate) store: Arc<dyn ExecutionStore>,
    live: Mutex<HashMap<String, Execution>>,
    /// Standard executions that have not succeeded (they may be redriven).
    resumable: Mutex<HashMap<String, Resumable>>,
}

impl Default for Executions {
    fn default() -> Executions {
        Executions {
            store: Arc::new(MemoryStore::new()),
            live: Mutex::new(HashMap::new()),
            resumable: Mutex::new(HashMap::new()),
        }
    }
}

impl Executions {
    /// Registers an execution that `Engine::start` is starting; a Standard one comes with what a
    /// redrive would need.
    pub(crate) fn started(&self, info: &ExecutionInfo, history: History, resumable: Option<Resumable>) {
        let mut record = ExecutionRecord::new(
            info.arn.clone(),
            info.name.clone(),
            info.state_machine_arn.clone(),
            info.state_machine_name.clone(),
            info.input.clone(),
        );
        record.machine_type = if info.express { StateMachineType::Express } else { StateMachineType::Standard };
        record.start_date = info.start_time;
        if let Some(r) = resumable {
            self.resumable.lock().unwrap_or_else(|e| e.into_inner()).insert(info.arn.clone(), r);
        }
        // As on AWS, an Express execution is not kept for DescribeExecution, ListExecutions or
        // GetExecutionHistory: its caller has its handle (outcome and history), and a map run keeps
        // its children's records itself. Keeping them would grow memory with every StartSyncExecution.
        if !info.express {
            self.store.insert(record, history);
        }
    }

    /// Registers the live handle of a run (the first one or a redrive).
    pub(crate) fn running(&self, execution: &Execution) {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).insert(execution.arn().to_owned(), execution.clone());
    }

    /// Records the end of an execution and forgets its live handle (and, once it has succeeded, what a
    /// redrive would need).
    pub(crate) fn finished(&self, arn: &str, outcome: &Outcome) -> Vec<String> {
        if outcome.status == ExecutionStatus::Succeeded {
            self.resumable.lock().unwrap_or_else(|e| e.into_inner()).remove(arn);
        }
        let now = OffsetDateTime::now_utc();
        self.store.finish(arn, outcome, now);
        self.live.lock().unwrap_or_else(|e| e.into_inner()).remove(arn);
        let purged = self.store.purge(now);
        if !purged.is_empty() {
            let mut resumable = self.resumable.lock().unwrap_or_else(|e| e.into_inner());
            for arn in &purged {
                resumable.remove(arn);
            }
        }
        purged
    }

    /// The live handle of a running execution.
    pub(crate) fn live(&self, arn: &str) -> Option<Execution> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).get(arn).cloned()
    }

    /// Checks that an execution may be redriven and marks it running again: returns what the redrive
    /// runs, its redrive count and date. Two redrives at once cannot both pass.
    pub(crate) fn begin_redrive(&self, arn: &str) -> Result<(Resumable, u32, OffsetDateTime), RedriveError> {
        let resumable = self.resumable.lock().unwrap_or_else(|e| e.into_inner());
        let record = self.store.get(arn).ok_or_else(|| RedriveError::DoesNotExist(arn.to_owned()))?;
        if let Some(reason) = record.not_redrivable_reason() {
            return Err(RedriveError::NotRedrivable(reason));
        }
        let r = resumable.get(arn).cloned().ok_or_else(|| {
            RedriveError::NotRedrivable("Execution was not started by this engine and cannot be redriven".to_owned())
        })?;
        let date = OffsetDateTime::now_utc();
        let count = self.store.redriven(arn, date).ok_or_else(|| RedriveError::DoesNotExist(arn.to_owned()))?;
        Ok((r, count, date))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(n: usize) -> ExecutionRecord {
        ExecutionRecord::new(format!("arn:e:{n}"), format!("e{n}"), "arn:sm", "sm", json!({"n": n}))
    }

    #[test]
    fn reserve_applies_the_idempotency_rule() {
        let store = MemoryStore::new();
        assert_eq!(store.reserve(record(1)), Ok(Reservation::Reserved));
        // Same name and input while running: the original.
        assert!(matches!(store.reserve(record(1)), Ok(Reservation::Existing(r)) if r.arn == "arn:e:1"));
        // Same name, other input: refused.
        let mut other = record(1);
        other.input = json!({"other": true});
        assert_eq!(store.reserve(other), Err(StoreError::AlreadyExists("arn:e:1".into())));
        // Once ended, the name stays taken.
        let outcome = Outcome { status: ExecutionStatus::Succeeded, output: Some(json!(1)), error: None, cause: None };
        store.finish("arn:e:1", &outcome, OffsetDateTime::now_utc());
        assert!(matches!(store.reserve(record(1)), Err(StoreError::AlreadyExists(_))));
        assert_eq!(store.get("arn:e:1").map(|r| r.status), Some(ExecutionStatus::Succeeded));
    }

    #[test]
    fn list_pages_newest_first_and_filters() {
        let store = MemoryStore::new();
        for n in 0..7 {
            store.insert(record(n), History::default());
        }
        let outcome = Outcome { status: ExecutionStatus::Failed, output: None, error: None, cause: None };
        store.finish("arn:e:3", &outcome, OffsetDateTime::now_utc());
        let mut query = ListQuery { state_machine_arn: Some("arn:sm".into()), max_results: 3, ..ListQuery::default() };
        let mut seen = Vec::new();
        loop {
            let page = store.list(&query).expect("valid token");
            seen.extend(page.items.iter().map(|r| r.name.clone()));
            match page.next_token {
                Some(t) => query.next_token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, ["e6", "e5", "e4", "e3", "e2", "e1", "e0"]);
        let failed = store
            .list(&ListQuery { status: Some(ExecutionStatus::Failed), max_results: 10, ..ListQuery::default() })
            .expect("no token");
        assert_eq!(failed.items.len(), 1);
        assert_eq!(failed.next_token, None);
    }

    #[test]
    fn tokens_are_bound_to_their_query() {
        let store = MemoryStore::new();
        for n in 0..3 {
            store.insert(record(n), History::default());
        }
        let query = ListQuery { max_results: 1, ..ListQuery::default() };
        let token = store.list(&query).expect("first page").next_token.expect("more pages");
        let other = ListQuery {
            status: Some(ExecutionStatus::Running),
            max_results: 1,
            next_token: Some(token.clone()),
            ..ListQuery::default()
        };
        assert!(matches!(store.list(&other), Err(StoreError::InvalidToken(_))));
        let garbage = ListQuery { next_token: Some("nope".into()), max_results: 1, ..ListQuery::default() };
        assert!(matches!(store.list(&garbage), Err(StoreError::InvalidToken(_))));
        let next = ListQuery { next_token: Some(token), ..query };
        assert_eq!(store.list(&next).expect("continues").items[0].name, "e1");
    }
}
