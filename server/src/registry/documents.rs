//! The registry's resources as documents for a durable store, and back.
//!
//! A revision is written with its definition text and parsed again when read; revisions shared by a
//! machine, its versions and the executions that ran them are parsed once per revision id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse_str, ParseOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::{Activity, Alias, Machine, Revision, Snapshot, Version};

#[derive(Serialize, Deserialize)]
pub(super) struct RevisionDoc {
    definition: String,
    role_arn: String,
    revision_id: String,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    update_date: OffsetDateTime,
    logging: Value,
    tracing: Value,
}

#[derive(Serialize, Deserialize)]
struct VersionDoc {
    arn: String,
    number: u64,
    revision: RevisionDoc,
    description: Option<String>,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    creation_date: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
struct AliasDoc {
    arn: String,
    name: String,
    description: Option<String>,
    routing: Vec<(String, u32)>,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    creation_date: OffsetDateTime,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    update_date: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
pub(super) struct MachineDoc {
    arn: String,
    name: String,
    machine_type: StateMachineType,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    creation_date: OffsetDateTime,
    current: RevisionDoc,
    versions: Vec<VersionDoc>,
    next_version: u64,
    aliases: Vec<AliasDoc>,
    tags: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ActivityDoc {
    arn: String,
    name: String,
    #[serde(with = "time::serde::timestamp::nanoseconds")]
    creation_date: OffsetDateTime,
    tags: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct SnapshotDoc {
    state_machine_arn: String,
    name: String,
    machine_type: StateMachineType,
    revision: RevisionDoc,
}

/// A revision an execution ran, with its machine's type (to parse it again).
#[derive(Serialize, Deserialize)]
pub(super) struct RanDoc {
    machine_type: StateMachineType,
    revision: RevisionDoc,
}

fn revision_doc(r: &Revision) -> RevisionDoc {
    RevisionDoc {
        definition: r.definition.clone(),
        role_arn: r.role_arn.clone(),
        revision_id: r.revision_id.clone(),
        update_date: r.update_date,
        logging: r.logging.clone(),
        tracing: r.tracing.clone(),
    }
}

pub(super) fn machine_doc(m: &Machine) -> MachineDoc {
    MachineDoc {
        arn: m.arn.clone(),
        name: m.name.clone(),
        machine_type: m.machine_type,
        creation_date: m.creation_date,
        current: revision_doc(&m.current),
        versions: m
            .versions
            .values()
            .map(|v| VersionDoc {
                arn: v.arn.clone(),
                number: v.number,
                revision: revision_doc(&v.revision),
                description: v.description.clone(),
                creation_date: v.creation_date,
            })
            .collect(),
        next_version: m.next_version,
        aliases: m
            .aliases
            .values()
            .map(|a| AliasDoc {
                arn: a.arn.clone(),
                name: a.name.clone(),
                description: a.description.clone(),
                routing: a.routing.clone(),
                creation_date: a.creation_date,
                update_date: a.update_date,
            })
            .collect(),
        tags: m.tags.clone(),
    }
}

pub(super) fn activity_doc(a: &Activity) -> ActivityDoc {
    ActivityDoc { arn: a.arn.clone(), name: a.name.clone(), creation_date: a.creation_date, tags: a.tags.clone() }
}

pub(super) fn snapshot_doc(s: &Snapshot, machine_type: StateMachineType) -> SnapshotDoc {
    SnapshotDoc {
        state_machine_arn: s.state_machine_arn.clone(),
        name: s.name.clone(),
        machine_type,
        revision: revision_doc(&s.revision),
    }
}

pub(super) fn ran_doc(r: &Revision, machine_type: StateMachineType) -> RanDoc {
    RanDoc { machine_type, revision: revision_doc(r) }
}

/// Rebuilds revisions, parsing each revision id's definition once.
#[derive(Default)]
pub(super) struct Revisions {
    parsed: HashMap<String, Arc<Revision>>,
}

impl Revisions {
    /// A cache that already holds `known` (revisions read earlier are not parsed again).
    pub(super) fn with(known: impl IntoIterator<Item = Arc<Revision>>) -> Revisions {
        Revisions { parsed: known.into_iter().map(|r| (r.revision_id.clone(), r)).collect() }
    }

    fn revision(&mut self, doc: RevisionDoc, machine_type: StateMachineType) -> Result<Arc<Revision>, String> {
        if let Some(r) = self.parsed.get(&doc.revision_id) {
            return Ok(r.clone());
        }
        let machine = parse_str(&doc.definition, ParseOptions { state_machine_type: machine_type }).map_err(|d| {
            format!(
                "revision {} no longer parses: {}",
                doc.revision_id,
                d.first().map(|d| d.message.as_str()).unwrap_or("")
            )
        })?;
        let revision = Arc::new(Revision {
            definition: doc.definition,
            machine: Arc::new(machine),
            role_arn: doc.role_arn,
            revision_id: doc.revision_id.clone(),
            update_date: doc.update_date,
            logging: doc.logging,
            tracing: doc.tracing,
        });
        self.parsed.insert(doc.revision_id, revision.clone());
        Ok(revision)
    }

    pub(super) fn machine(&mut self, doc: MachineDoc) -> Result<Machine, String> {
        let t = doc.machine_type;
        let mut versions = BTreeMap::new();
        for v in doc.versions {
            let revision = self.revision(v.revision, t)?;
            let version = Version {
                arn: v.arn,
                number: v.number,
                revision,
                description: v.description,
                creation_date: v.creation_date,
            };
            versions.insert(v.number, version);
        }
        let aliases = doc
            .aliases
            .into_iter()
            .map(|a| {
                let alias = Alias {
                    arn: a.arn,
                    name: a.name.clone(),
                    description: a.description,
                    routing: a.routing,
                    creation_date: a.creation_date,
                    update_date: a.update_date,
                };
                (a.name, alias)
            })
            .collect();
        Ok(Machine {
            arn: doc.arn,
            name: doc.name,
            machine_type: t,
            creation_date: doc.creation_date,
            current: self.revision(doc.current, t)?,
            versions,
            next_version: doc.next_version,
            aliases,
            tags: doc.tags,
        })
    }

    pub(super) fn ran(&mut self, doc: RanDoc) -> Result<(Arc<Revision>, StateMachineType), String> {
        Ok((self.revision(doc.revision, doc.machine_type)?, doc.machine_type))
    }

    pub(super) fn snapshot(&mut self, doc: SnapshotDoc) -> Result<Snapshot, String> {
        let revision = self.revision(doc.revision, doc.machine_type)?;
        Ok(Snapshot { state_machine_arn: doc.state_machine_arn, name: doc.name, revision })
    }
}

pub(super) fn activity(doc: ActivityDoc) -> Activity {
    Activity { arn: doc.arn, name: doc.name, creation_date: doc.creation_date, tags: doc.tags }
}
