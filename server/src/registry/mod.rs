//! The API's resources that are not executions: state machines with their revisions, versions and
//! aliases, activities, and tags; plus every revision an execution ran (an execution's record names
//! its revision by id, for DescribeStateMachineForExecution).
//!
//! They live here rather than in the engine because they are API bookkeeping (names, revision ids,
//! routing weights, tags): the engine runs a parsed [`StateMachine`] and needs none of it, and an
//! embedding program has its own way of naming its machines.

mod documents;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use legion_asl::model::{StateMachine, StateMachineType};
use legion_engine::{DocumentChange, DocumentKind, DocumentStore, ExecutionRecord, StoreError};
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::ApiError;

/// One revision of a state machine: what CreateStateMachine or UpdateStateMachine set.
#[derive(Debug)]
pub struct Revision {
    /// The definition text, as given.
    pub definition: String,
    /// The parsed definition.
    pub machine: Arc<StateMachine>,
    /// The execution role.
    pub role_arn: String,
    /// A fresh UUID per revision.
    pub revision_id: String,
    /// When this revision was made.
    pub update_date: OffsetDateTime,
    /// `loggingConfiguration`, as given (or the default).
    pub logging: Value,
    /// `tracingConfiguration`, as given (or the default).
    pub tracing: Value,
}

/// A published version.
#[derive(Debug, Clone)]
pub struct Version {
    /// `…:stateMachine:<name>:<number>`.
    pub arn: String,
    /// From 1.
    pub number: u64,
    /// The revision it froze.
    pub revision: Arc<Revision>,
    /// The description given at publication.
    pub description: Option<String>,
    /// When it was published.
    pub creation_date: OffsetDateTime,
}

/// An alias routing executions to one or two versions.
#[derive(Debug, Clone)]
pub struct Alias {
    /// `…:stateMachine:<name>:<alias>`.
    pub arn: String,
    /// The alias name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// `(version ARN, weight)` pairs; the weights add up to 100.
    pub routing: Vec<(String, u32)>,
    /// When it was created.
    pub creation_date: OffsetDateTime,
    /// When it was last updated.
    pub update_date: OffsetDateTime,
}

/// A state machine.
#[derive(Debug, Clone)]
pub struct Machine {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// Standard or Express.
    pub machine_type: StateMachineType,
    /// When it was created.
    pub creation_date: OffsetDateTime,
    /// The current revision.
    pub current: Arc<Revision>,
    /// Published versions by number.
    pub versions: BTreeMap<u64, Version>,
    /// The number the next version gets.
    pub next_version: u64,
    /// Aliases by name.
    pub aliases: BTreeMap<String, Alias>,
    /// Tags, in the order they were set.
    pub tags: Vec<(String, String)>,
}

/// An activity.
#[derive(Debug, Clone)]
pub struct Activity {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub creation_date: OffsetDateTime,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// What an execution ran: DescribeStateMachineForExecution's answer.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The state machine's ARN.
    pub state_machine_arn: String,
    /// The state machine's name.
    pub name: String,
    /// The revision that ran.
    pub revision: Arc<Revision>,
}

/// What StartExecution resolved a state machine, version or alias ARN to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The machine's name.
    pub name: String,
    /// Its type.
    pub machine_type: StateMachineType,
    /// The revision to run.
    pub revision: Arc<Revision>,
    /// The version, when a version or alias was named.
    pub version_arn: Option<String>,
    /// The alias, when one was named.
    pub alias_arn: Option<String>,
}

/// Every state machine and activity of one server, kept in a durable store when it has one.
///
/// Changes are made in memory and noted; [`Registry::flush`] writes the noted ones in one
/// transaction, and the API flushes after every operation, before it answers.
#[derive(Default)]
pub struct Registry {
    machines: RwLock<BTreeMap<String, Machine>>,
    activities: RwLock<BTreeMap<String, Activity>>,
    /// Every revision an execution ran, with its machine's type, by revision id (kept once each, at
    /// its first execution).
    ran: RwLock<HashMap<String, (Arc<Revision>, StateMachineType)>>,
    /// What executions started before revisions were kept ran, by execution ARN (read from older
    /// stores, never written; pruned with their executions).
    snapshots: RwLock<HashMap<String, Snapshot>>,
    /// Where the registry is kept, when it outlives the process.
    store: Option<Arc<dyn DocumentStore>>,
    /// What changed since the last flush.
    dirty: Mutex<Vec<(DocumentKind, String)>>,
    /// Held while a flush writes, so that flushes land in the order they read.
    flushing: tokio::sync::Mutex<()>,
    /// In a store other instances share: how far this registry has read their changes.
    mark: tokio::sync::Mutex<u64>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("durable", &self.store.is_some()).finish_non_exhaustive()
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// The parts of a Step Functions ARN: `arn:<partition>:states:<region>:<account>:<type>:<rest…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `stateMachine`, `execution`, `express`, `activity`, `mapRun`…
    pub resource_type: &'a str,
    /// The colon-separated parts after the type.
    pub parts: Vec<&'a str>,
}

/// Splits a Step Functions ARN, or `None` when it is not one.
pub fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut it = arn.split(':');
    let (a, _partition, service, _region, _account) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    if a != "arn" || service != "states" {
        return None;
    }
    let resource_type = it.next()?;
    let parts: Vec<&str> = it.collect();
    if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(Arn { resource_type, parts })
}

/// Checks a state machine, execution, activity or alias name against AWS's rules (G2).
pub fn check_name(name: &str, max: usize) -> Result<(), ApiError> {
    let bad = |c: char| {
        c.is_whitespace()
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
            || (c as u32) <= 0x1f
            || (0x7f..=0x9f).contains(&(c as u32))
            || c == '\u{fffe}'
            || c == '\u{ffff}'
    };
    let len = name.chars().count();
    if len == 0 || len > max || name.chars().any(bad) {
        return Err(ApiError::InvalidName(format!("Invalid Name: '{name}'")));
    }
    Ok(())
}

impl Registry {
    /// A registry kept in `store`, with what it already holds.
    pub async fn load(store: Arc<dyn DocumentStore>) -> Result<Registry, StoreError> {
        // The mark is read first: a change made while loading is then read again, never missed.
        let mark = store.changes(None).await?.mark;
        let mut revisions = documents::Revisions::default();
        let corrupt = |e: String| StoreError::Corrupt(e);
        let mut machines = BTreeMap::new();
        for (name, text) in store.load(DocumentKind::StateMachine).await? {
            machines.insert(name, revisions.machine(from_json(&text)?).map_err(corrupt)?);
        }
        let mut activities = BTreeMap::new();
        for (arn, text) in store.load(DocumentKind::Activity).await? {
            activities.insert(arn, documents::activity(from_json(&text)?));
        }
        let mut ran = HashMap::new();
        for (id, text) in store.load(DocumentKind::Revision).await? {
            ran.insert(id, revisions.ran(from_json(&text)?).map_err(corrupt)?);
        }
        let mut snapshots = HashMap::new();
        for (arn, text) in store.load(DocumentKind::ExecutionSnapshot).await? {
            snapshots.insert(arn, revisions.snapshot(from_json(&text)?).map_err(corrupt)?);
        }
        Ok(Registry {
            machines: RwLock::new(machines),
            activities: RwLock::new(activities),
            ran: RwLock::new(ran),
            snapshots: RwLock::new(snapshots),
            store: Some(store),
            dirty: Mutex::default(),
            flushing: tokio::sync::Mutex::default(),
            mark: tokio::sync::Mutex::new(mark),
        })
    }

    /// In a store other instances share, reads what they changed since the last refresh (a change of
    /// this instance's own that is not flushed yet wins).
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let Some(store) = self.store.as_ref().filter(|s| s.shared()) else { return Ok(()) };
        let mut mark = self.mark.lock().await;
        let read = store.changes(Some(*mark)).await?;
        if read.changes.is_empty() {
            *mark = read.mark;
            return Ok(());
        }
        let pending: std::collections::HashSet<(DocumentKind, String)> =
            self.dirty.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        let mut revisions = documents::Revisions::with(self.revisions());
        for change in read.changes {
            let (kind, key, value) = match change {
                DocumentChange::Put { kind, key, value } => (kind, key, Some(value)),
                DocumentChange::Delete { kind, key } => (kind, key, None),
            };
            if !pending.contains(&(kind, key.clone())) {
                self.take(&mut revisions, kind, key, value.as_deref())?;
            }
        }
        *mark = read.mark;
        Ok(())
    }

    /// Every revision this registry holds (of machines and their versions).
    fn revisions(&self) -> Vec<Arc<Revision>> {
        let machines = read(&self.machines);
        let versions = machines.values().flat_map(|m| m.versions.values().map(|v| v.revision.clone()));
        machines.values().map(|m| m.current.clone()).chain(versions).collect()
    }

    /// Sets the registry's `kind` document at `key` to what another instance wrote.
    fn take(
        &self,
        revisions: &mut documents::Revisions,
        kind: DocumentKind,
        key: String,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let corrupt = |e: String| StoreError::Corrupt(e);
        match (kind, value) {
            (DocumentKind::StateMachine, Some(text)) => {
                let machine = revisions.machine(from_json(text)?).map_err(corrupt)?;
                write(&self.machines).insert(key, machine);
            }
            (DocumentKind::StateMachine, None) => drop(write(&self.machines).remove(&key)),
            (DocumentKind::Activity, Some(text)) => {
                write(&self.activities).insert(key, documents::activity(from_json(text)?));
            }
            (DocumentKind::Activity, None) => drop(write(&self.activities).remove(&key)),
            (DocumentKind::Revision, Some(text)) => {
                write(&self.ran).insert(key, revisions.ran(from_json(text)?).map_err(corrupt)?);
            }
            (DocumentKind::Revision, None) => drop(write(&self.ran).remove(&key)),
            (_, Some(text)) => {
                let snapshot = revisions.snapshot(from_json(text)?).map_err(corrupt)?;
                write(&self.snapshots).insert(key, snapshot);
            }
            (_, None) => drop(write(&self.snapshots).remove(&key)),
        }
        Ok(())
    }

    /// Notes a change for the next flush (nothing without a store).
    fn touch(&self, kind: DocumentKind, key: &str) {
        if self.store.is_some() {
            self.dirty.lock().unwrap_or_else(|e| e.into_inner()).push((kind, key.to_owned()));
        }
    }

    /// Writes every change since the last flush to the store, in one transaction.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else { return Ok(()) };
        // Most operations change nothing: with nothing noted and no flush under way (which might hold
        // this operation's change), there is nothing to wait for.
        if self.dirty.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            if let Ok(_idle) = self.flushing.try_lock() {
                return Ok(());
            }
        }
        let _order = self.flushing.lock().await;
        let mut dirty = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|e| e.into_inner()));
        if dirty.is_empty() {
            return Ok(());
        }
        dirty.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
        dirty.dedup();
        let changes = dirty.iter().map(|(kind, key)| self.change(*kind, key.clone())).collect::<Result<Vec<_>, _>>();
        let applied = match changes {
            Ok(changes) => store.apply(changes).await,
            Err(e) => Err(e),
        };
        if applied.is_err() {
            // Written at the next flush: a change is never dropped because the store was away.
            self.dirty.lock().unwrap_or_else(|e| e.into_inner()).extend(dirty);
        }
        applied
    }

    /// The change that makes the store hold what the registry holds at `key`.
    fn change(&self, kind: DocumentKind, key: String) -> Result<DocumentChange, StoreError> {
        let value = match kind {
            DocumentKind::StateMachine => {
                read(&self.machines).get(&key).map(|m| to_json(&documents::machine_doc(m))).transpose()?
            }
            DocumentKind::Activity => {
                read(&self.activities).get(&key).map(|a| to_json(&documents::activity_doc(a))).transpose()?
            }
            DocumentKind::Revision => {
                read(&self.ran).get(&key).map(|(r, t)| to_json(&documents::ran_doc(r, *t))).transpose()?
            }
            _ => read(&self.snapshots)
                .get(&key)
                .map(|s| to_json(&documents::snapshot_doc(s, StateMachineType::Standard)))
                .transpose()?,
        };
        Ok(match value {
            Some(value) => DocumentChange::Put { kind, key, value },
            None => DocumentChange::Delete { kind, key },
        })
    }

    /// A machine by name.
    pub fn machine(&self, name: &str) -> Option<Machine> {
        read(&self.machines).get(name).cloned()
    }

    /// A machine by its ARN (no version or alias suffix).
    pub fn machine_by_arn(&self, arn: &str) -> Result<Machine, ApiError> {
        let parsed =
            parse_arn(arn).filter(|a| a.resource_type == "stateMachine").ok_or_else(|| ApiError::invalid_arn(arn))?;
        if parsed.parts.len() != 1 {
            return Err(ApiError::invalid_arn(arn));
        }
        self.machine(parsed.parts[0])
            .filter(|m| m.arn == arn)
            .ok_or_else(|| ApiError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{arn}'")))
    }

    /// Every machine, by name.
    pub fn machines(&self) -> Vec<Machine> {
        read(&self.machines).values().cloned().collect()
    }

    /// Adds a machine; `Ok(existing)` when the same name has the same definition, role and type
    /// (CreateStateMachine is idempotent), `StateMachineAlreadyExists` when it differs.
    pub fn create_machine(&self, machine: Machine) -> Result<Machine, ApiError> {
        let mut machines = write(&self.machines);
        if let Some(existing) = machines.get(&machine.name) {
            let same = existing.machine_type == machine.machine_type
                && existing.current.definition == machine.current.definition
                && existing.current.role_arn == machine.current.role_arn;
            return if same {
                Ok(existing.clone())
            } else {
                Err(ApiError::StateMachineAlreadyExists(format!("State Machine Already Exists: '{}'", machine.arn)))
            };
        }
        machines.insert(machine.name.clone(), machine.clone());
        self.touch(DocumentKind::StateMachine, &machine.name);
        Ok(machine)
    }

    /// Runs `f` on the machine with this ARN.
    pub fn update_machine<T>(
        &self,
        arn: &str,
        f: impl FnOnce(&mut Machine) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let name = self.machine_by_arn(arn)?.name;
        let mut machines = write(&self.machines);
        let machine = machines
            .get_mut(&name)
            .ok_or_else(|| ApiError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{arn}'")))?;
        self.touch(DocumentKind::StateMachine, &name);
        f(machine)
    }

    /// Deletes a machine with its versions and aliases; deleting an absent one succeeds.
    pub fn delete_machine(&self, arn: &str) -> Result<(), ApiError> {
        let parsed =
            parse_arn(arn).filter(|a| a.resource_type == "stateMachine").ok_or_else(|| ApiError::invalid_arn(arn))?;
        let mut machines = write(&self.machines);
        if machines.get(parsed.parts[0]).is_some_and(|m| m.arn == arn) {
            machines.remove(parsed.parts[0]);
            self.touch(DocumentKind::StateMachine, parsed.parts[0]);
        }
        Ok(())
    }

    /// Resolves a state machine, version or alias ARN to what should run.
    pub fn resolve(&self, arn: &str) -> Result<Resolved, ApiError> {
        let parsed =
            parse_arn(arn).filter(|a| a.resource_type == "stateMachine").ok_or_else(|| ApiError::invalid_arn(arn))?;
        let does_not_exist = || ApiError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{arn}'"));
        let machines = read(&self.machines);
        let machine = machines.get(parsed.parts[0]).ok_or_else(does_not_exist)?;
        let base = Resolved {
            name: machine.name.clone(),
            machine_type: machine.machine_type,
            revision: machine.current.clone(),
            version_arn: None,
            alias_arn: None,
        };
        match parsed.parts.as_slice() {
            [_] if machine.arn == arn => Ok(base),
            [_, qualifier] => {
                if let Ok(n) = qualifier.parse::<u64>() {
                    let version = machine.versions.get(&n).ok_or_else(does_not_exist)?;
                    return Ok(Resolved {
                        revision: version.revision.clone(),
                        version_arn: Some(version.arn.clone()),
                        ..base
                    });
                }
                let alias = machine
                    .aliases
                    .get(*qualifier)
                    .ok_or_else(|| ApiError::ResourceNotFound(format!("Resource not found: '{arn}'")))?;
                let version_arn = pick_version(&alias.routing);
                let version = machine.versions.values().find(|v| v.arn == version_arn).ok_or_else(does_not_exist)?;
                Ok(Resolved {
                    revision: version.revision.clone(),
                    version_arn: Some(version.arn.clone()),
                    alias_arn: Some(alias.arn.clone()),
                    ..base
                })
            }
            _ => Err(ApiError::invalid_arn(arn)),
        }
    }

    /// Keeps `revision` (of a machine of type `machine_type`) for the executions that run it, unless
    /// it is kept already; a durable store writes it at the next flush.
    pub fn note_revision(&self, revision: &Arc<Revision>, machine_type: StateMachineType) {
        if read(&self.ran).contains_key(&revision.revision_id) {
            return;
        }
        let mut ran = write(&self.ran);
        if !ran.contains_key(&revision.revision_id) {
            ran.insert(revision.revision_id.clone(), (revision.clone(), machine_type));
            self.touch(DocumentKind::Revision, &revision.revision_id);
        }
    }

    /// Drops the snapshots of `gone` executions, when they have one (written at the next flush).
    pub fn prune_snapshots(&self, gone: &[String]) {
        let mut snapshots = write(&self.snapshots);
        for arn in gone {
            if snapshots.remove(arn).is_some() {
                self.touch(DocumentKind::ExecutionSnapshot, arn);
            }
        }
    }

    /// What the execution of `record` ran: the revision its record names, or the snapshot kept for
    /// it by an earlier version.
    pub fn snapshot(&self, record: &ExecutionRecord) -> Option<Snapshot> {
        let revision = record.revision_id.as_ref().and_then(|id| read(&self.ran).get(id).map(|(r, _)| r.clone()));
        match revision {
            Some(revision) => Some(Snapshot {
                state_machine_arn: record.state_machine_arn.clone(),
                name: record.state_machine_name.clone(),
                revision,
            }),
            None => read(&self.snapshots).get(&record.arn).cloned(),
        }
    }

    /// Creates an activity (idempotent by name).
    pub fn create_activity(&self, activity: Activity) -> Activity {
        self.touch(DocumentKind::Activity, &activity.arn);
        write(&self.activities).entry(activity.arn.clone()).or_insert(activity).clone()
    }

    /// An activity by ARN.
    pub fn activity(&self, arn: &str) -> Option<Activity> {
        read(&self.activities).get(arn).cloned()
    }

    /// Every activity, by ARN.
    pub fn activities(&self) -> Vec<Activity> {
        read(&self.activities).values().cloned().collect()
    }

    /// Deletes an activity; deleting an absent one succeeds.
    pub fn delete_activity(&self, arn: &str) {
        write(&self.activities).remove(arn);
        self.touch(DocumentKind::Activity, arn);
    }

    /// Runs `f` on the tags of a state machine or activity.
    pub fn with_tags<T>(&self, arn: &str, f: impl FnOnce(&mut Vec<(String, String)>) -> T) -> Result<T, ApiError> {
        let not_found = || ApiError::ResourceNotFound(format!("Resource not found: '{arn}'"));
        let parsed = parse_arn(arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
        match parsed.resource_type {
            "stateMachine" => {
                let mut machines = write(&self.machines);
                let m = machines.get_mut(parsed.parts[0]).filter(|m| m.arn == arn).ok_or_else(not_found)?;
                self.touch(DocumentKind::StateMachine, parsed.parts[0]);
                Ok(f(&mut m.tags))
            }
            "activity" => {
                let mut activities = write(&self.activities);
                let a = activities.get_mut(arn).ok_or_else(not_found)?;
                self.touch(DocumentKind::Activity, arn);
                Ok(f(&mut a.tags))
            }
            _ => Err(ApiError::invalid_arn(arn)),
        }
    }
}

/// Picks a version from an alias's routing configuration by weight.
fn pick_version(routing: &[(String, u32)]) -> String {
    let total: u32 = routing.iter().map(|(_, w)| *w).sum();
    if total == 0 {
        return routing.first().map(|(v, _)| v.clone()).unwrap_or_default();
    }
    let mut draw = rand_below(total);
    for (version, weight) in routing {
        if draw < *weight {
            return version.clone();
        }
        draw -= weight;
    }
    routing.last().map(|(v, _)| v.clone()).unwrap_or_default()
}

/// A uniform draw in `0..n` from a fresh UUID's random bits.
fn rand_below(n: u32) -> u32 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn arns_split_into_type_and_parts() {
        let arn = parse_arn("arn:aws:states:us-east-1:123456789012:stateMachine:sm:3").expect("valid");
        assert_eq!(arn.resource_type, "stateMachine");
        assert_eq!(arn.parts, ["sm", "3"]);
        assert!(parse_arn("arn:aws:lambda:us-east-1:1:function:f").is_none());
        assert!(parse_arn("not an arn").is_none());
        assert!(parse_arn("arn:aws:states:us-east-1:1:stateMachine:").is_none());
    }

    #[test]
    fn names_follow_aws_rules() {
        assert!(check_name("good-name_1.x", 80).is_ok());
        for bad in ["", "with space", "a/b", "q?", "tab\t", &"x".repeat(81)] {
            assert!(matches!(check_name(bad, 80), Err(ApiError::InvalidName(_))), "{bad:?}");
        }
    }

    /// A store written before executions named their revision holds one snapshot document per
    /// execution: they are still read, and go when retention removes their executions.
    #[tokio::test]
    async fn snapshots_written_by_earlier_versions_are_still_answered() {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let url = format!("sqlite:{}", dir.path().join("legion.db").display());
        let stores = legion_store::open(&url, legion_engine::Retention::forever()).await.expect("opens");
        let store = stores.documents.expect("a document store");
        let arn = "arn:aws:states:us-east-1:123456789012:execution:old:run";
        let doc = json!({
            "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:old",
            "name": "old",
            "machine_type": "Standard",
            "revision": {
                "definition": r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#,
                "role_arn": "arn:aws:iam::123456789012:role/r",
                "revision_id": "r-1",
                "update_date": 0,
                "logging": {},
                "tracing": {}
            }
        });
        let put =
            DocumentChange::Put { kind: DocumentKind::ExecutionSnapshot, key: arn.to_owned(), value: doc.to_string() };
        store.apply(vec![put]).await.expect("writes");

        let registry = Registry::load(store.clone()).await.expect("loads");
        let record = ExecutionRecord::new(
            arn,
            "run",
            "arn:aws:states:us-east-1:123456789012:stateMachine:old",
            "old",
            json!({}),
        );
        let snapshot = registry.snapshot(&record).expect("answered");
        assert_eq!(snapshot.revision.revision_id, "r-1");
        assert_eq!(snapshot.name, "old");

        registry.prune_snapshots(&[arn.to_owned()]);
        assert!(registry.snapshot(&record).is_none());
        registry.flush().await.expect("flushes");
        let reloaded = Registry::load(store).await.expect("loads again");
        assert!(reloaded.snapshot(&record).is_none(), "the pruned snapshot is gone from the store too");
    }

    #[test]
    fn routing_respects_weights() {
        let routing = vec![("a".to_owned(), 100), ("b".to_owned(), 0)];
        assert!((0..50).all(|_| pick_version(&routing) == "a"));
    }
}
