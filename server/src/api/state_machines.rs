//! State machines, their versions and aliases, tags, and ValidateStateMachineDefinition.

use std::collections::BTreeMap;
use std::sync::Arc;

use legion_asl::diagnostic::invalid_definition_message;
use legion_asl::model::StateMachineType;
use legion_asl::parse::{parse_str, ParseOptions};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{check_len, paginate, required, AppState, Empty};
use crate::error::ApiError;
use crate::protocol::{epoch, epoch_opt};
use crate::registry::{check_name, parse_arn, Alias, Machine, Revision, Version};

/// The longest definition AWS accepts, in characters.
pub const MAX_DEFINITION_CHARS: usize = 1_048_576;

/// `STANDARD` or `EXPRESS` on the wire.
pub fn type_name(t: StateMachineType) -> &'static str {
    match t {
        StateMachineType::Standard => "STANDARD",
        StateMachineType::Express => "EXPRESS",
    }
}

fn parse_type(t: Option<&str>) -> Result<StateMachineType, ApiError> {
    match t {
        None | Some("STANDARD") => Ok(StateMachineType::Standard),
        Some("EXPRESS") => Ok(StateMachineType::Express),
        Some(other) => Err(ApiError::constraint(
            &format!("'{other}'"),
            "type",
            "Member must satisfy enum value set: [STANDARD, EXPRESS]",
        )),
    }
}

/// Parses a definition for CreateStateMachine/UpdateStateMachine/TestState.
pub fn parse_definition(
    definition: &str,
    machine_type: StateMachineType,
) -> Result<legion_asl::model::StateMachine, ApiError> {
    check_len(definition, "definition", 1, MAX_DEFINITION_CHARS)?;
    parse_str(definition, ParseOptions { state_machine_type: machine_type })
        .map_err(|d| ApiError::InvalidDefinition(invalid_definition_message(&d)))
}

fn default_logging() -> Value {
    json!({"level": "OFF", "includeExecutionData": false})
}

fn default_tracing() -> Value {
    json!({"enabled": false})
}

/// A tag on the wire.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Tag {
    /// The key.
    pub key: Option<String>,
    /// The value.
    pub value: Option<String>,
}

fn merge_tags(into: &mut Vec<(String, String)>, tags: Vec<Tag>) -> Result<(), ApiError> {
    for tag in tags {
        let key = required(tag.key, "tags.member.key")?;
        let value = tag.value.unwrap_or_default();
        check_len(&key, "tags.member.key", 1, 128)?;
        check_len(&value, "tags.member.value", 0, 256)?;
        match into.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => into.push((key, value)),
        }
    }
    if into.len() > 50 {
        return Err(ApiError::ValidationException {
            message: "Too many tags: a resource has at most 50".into(),
            reason: None,
        });
    }
    Ok(())
}

/// CreateStateMachine's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    name: Option<String>,
    definition: Option<String>,
    role_arn: Option<String>,
    #[serde(rename = "type")]
    machine_type: Option<String>,
    logging_configuration: Option<Value>,
    tracing_configuration: Option<Value>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    publish: bool,
    version_description: Option<String>,
}

/// CreateStateMachine's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOutput {
    state_machine_arn: String,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_version_arn: Option<String>,
}

/// CreateStateMachine.
pub async fn create(state: AppState, input: CreateInput) -> Result<CreateOutput, ApiError> {
    let name = required(input.name, "name")?;
    check_name(&name, 80)?;
    let definition = required(input.definition, "definition")?;
    let role_arn = required(input.role_arn, "roleArn")?;
    check_len(&role_arn, "roleArn", 1, 256)?;
    let machine_type = parse_type(input.machine_type.as_deref())?;
    let parsed = parse_definition(&definition, machine_type)?;
    let now = OffsetDateTime::now_utc();
    let mut tags = Vec::new();
    merge_tags(&mut tags, input.tags)?;
    let machine = Machine {
        arn: state.arn(&format!("stateMachine:{name}")),
        name,
        machine_type,
        creation_date: now,
        current: Arc::new(Revision {
            definition,
            machine: Arc::new(parsed),
            role_arn,
            revision_id: uuid::Uuid::new_v4().to_string(),
            update_date: now,
            logging: input.logging_configuration.unwrap_or_else(default_logging),
            tracing: input.tracing_configuration.unwrap_or_else(default_tracing),
        }),
        versions: BTreeMap::new(),
        next_version: 1,
        aliases: BTreeMap::new(),
        tags,
    };
    let machine = state.registry().create_machine(machine)?;
    let version_arn =
        if input.publish { Some(publish(&state, &machine.arn, None, input.version_description)?.0) } else { None };
    Ok(CreateOutput {
        state_machine_arn: machine.arn,
        creation_date: machine.creation_date,
        state_machine_version_arn: version_arn,
    })
}

/// Input naming one state machine (or version or alias).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArnInput {
    state_machine_arn: Option<String>,
}

/// DescribeStateMachine's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeOutput {
    state_machine_arn: String,
    name: String,
    status: &'static str,
    definition: String,
    role_arn: String,
    #[serde(rename = "type")]
    machine_type: &'static str,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
    logging_configuration: Value,
    tracing_configuration: Value,
    revision_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// DescribeStateMachine (a machine or one of its versions).
pub async fn describe(state: AppState, input: ArnInput) -> Result<DescribeOutput, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    let parsed =
        parse_arn(&arn).filter(|a| a.resource_type == "stateMachine").ok_or_else(|| ApiError::invalid_arn(&arn))?;
    let not_found = || ApiError::StateMachineDoesNotExist(format!("State Machine Does Not Exist: '{arn}'"));
    let machine = state.registry().machine(parsed.parts[0]).ok_or_else(not_found)?;
    let (revision, creation_date, description) = match parsed.parts.as_slice() {
        [_] if machine.arn == arn => (machine.current.clone(), machine.creation_date, None),
        [_, n] => {
            let version = n.parse::<u64>().ok().and_then(|n| machine.versions.get(&n)).ok_or_else(not_found)?;
            (version.revision.clone(), version.creation_date, version.description.clone())
        }
        _ => return Err(not_found()),
    };
    Ok(DescribeOutput {
        state_machine_arn: arn.clone(),
        name: machine.name,
        status: "ACTIVE",
        definition: revision.definition.clone(),
        role_arn: revision.role_arn.clone(),
        machine_type: type_name(machine.machine_type),
        creation_date,
        logging_configuration: revision.logging.clone(),
        tracing_configuration: revision.tracing.clone(),
        revision_id: revision.revision_id.clone(),
        description,
    })
}

/// UpdateStateMachine's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    state_machine_arn: Option<String>,
    definition: Option<String>,
    role_arn: Option<String>,
    logging_configuration: Option<Value>,
    tracing_configuration: Option<Value>,
    #[serde(default)]
    publish: bool,
    version_description: Option<String>,
}

/// UpdateStateMachine's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOutput {
    #[serde(serialize_with = "epoch")]
    update_date: OffsetDateTime,
    revision_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_machine_version_arn: Option<String>,
}

/// UpdateStateMachine.
pub async fn update(state: AppState, input: UpdateInput) -> Result<UpdateOutput, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    if input.definition.is_none()
        && input.role_arn.is_none()
        && input.logging_configuration.is_none()
        && input.tracing_configuration.is_none()
    {
        return Err(ApiError::validation(
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    let machine = state.registry().machine_by_arn(&arn)?;
    let parsed = match &input.definition {
        Some(d) => Some(Arc::new(parse_definition(d, machine.machine_type)?)),
        None => None,
    };
    let now = OffsetDateTime::now_utc();
    let revision = state.registry().update_machine(&arn, |m| {
        let old = &m.current;
        let changed = input.definition.as_ref().is_some_and(|d| *d != old.definition)
            || input.role_arn.as_ref().is_some_and(|r| *r != old.role_arn)
            || input.logging_configuration.as_ref().is_some_and(|l| *l != old.logging)
            || input.tracing_configuration.as_ref().is_some_and(|t| *t != old.tracing);
        if changed {
            m.current = Arc::new(Revision {
                definition: input.definition.clone().unwrap_or_else(|| old.definition.clone()),
                machine: parsed.clone().unwrap_or_else(|| old.machine.clone()),
                role_arn: input.role_arn.clone().unwrap_or_else(|| old.role_arn.clone()),
                revision_id: uuid::Uuid::new_v4().to_string(),
                update_date: now,
                logging: input.logging_configuration.clone().unwrap_or_else(|| old.logging.clone()),
                tracing: input.tracing_configuration.clone().unwrap_or_else(|| old.tracing.clone()),
            });
        }
        Ok(m.current.clone())
    })?;
    let version_arn =
        if input.publish { Some(publish(&state, &arn, None, input.version_description)?.0) } else { None };
    Ok(UpdateOutput {
        update_date: revision.update_date,
        revision_id: revision.revision_id.clone(),
        state_machine_version_arn: version_arn,
    })
}

/// DeleteStateMachine.
pub async fn delete(state: AppState, input: ArnInput) -> Result<Empty, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    state.registry().delete_machine(&arn)?;
    Ok(Empty {})
}

/// A listing request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MachineItem {
    state_machine_arn: String,
    name: String,
    #[serde(rename = "type")]
    machine_type: &'static str,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
}

/// ListStateMachines's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOutput {
    state_machines: Vec<MachineItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListStateMachines.
pub async fn list(state: AppState, input: ListInput) -> Result<ListOutput, ApiError> {
    let items: Vec<MachineItem> = state
        .registry()
        .machines()
        .into_iter()
        .map(|m| MachineItem {
            state_machine_arn: m.arn,
            name: m.name,
            machine_type: type_name(m.machine_type),
            creation_date: m.creation_date,
        })
        .collect();
    let (state_machines, next_token) =
        paginate(items, input.max_results, input.next_token.as_deref(), "ListStateMachines")?;
    Ok(ListOutput { state_machines, next_token })
}

/// ValidateStateMachineDefinition's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateInput {
    definition: Option<String>,
    #[serde(rename = "type")]
    machine_type: Option<String>,
    max_results: Option<i64>,
}

#[derive(Debug, Serialize)]
struct DiagnosticItem {
    severity: &'static str,
    code: &'static str,
    message: String,
    location: String,
}

/// ValidateStateMachineDefinition's output.
#[derive(Debug, Serialize)]
pub struct ValidateOutput {
    result: &'static str,
    diagnostics: Vec<DiagnosticItem>,
    truncated: bool,
}

/// ValidateStateMachineDefinition.
pub async fn validate(_state: AppState, input: ValidateInput) -> Result<ValidateOutput, ApiError> {
    let definition = required(input.definition, "definition")?;
    check_len(&definition, "definition", 1, MAX_DEFINITION_CHARS)?;
    let machine_type = parse_type(input.machine_type.as_deref())?;
    let limit = match input.max_results {
        None | Some(0) => 100,
        Some(n) => n.clamp(1, 100) as usize,
    };
    match parse_str(&definition, ParseOptions { state_machine_type: machine_type }) {
        Ok(_) => Ok(ValidateOutput { result: "OK", diagnostics: Vec::new(), truncated: false }),
        Err(diags) => {
            let truncated = diags.len() > limit;
            let diagnostics = diags
                .into_iter()
                .take(limit)
                .map(|d| DiagnosticItem {
                    severity: "ERROR",
                    code: d.code.as_str(),
                    message: d.message,
                    location: d.location,
                })
                .collect();
            Ok(ValidateOutput { result: "FAIL", diagnostics, truncated })
        }
    }
}

/// PublishStateMachineVersion's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishInput {
    state_machine_arn: Option<String>,
    revision_id: Option<String>,
    description: Option<String>,
}

/// PublishStateMachineVersion's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishOutput {
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
    state_machine_version_arn: String,
}

fn publish(
    state: &AppState,
    arn: &str,
    revision_id: Option<&str>,
    description: Option<String>,
) -> Result<(String, OffsetDateTime), ApiError> {
    if let Some(d) = &description {
        check_len(d, "description", 0, 256)?;
    }
    state.registry().update_machine(arn, |m| {
        if let Some(r) = revision_id {
            if r != m.current.revision_id {
                return Err(ApiError::ConflictException(format!(
                    "Failed to publish the State Machine version for revision {r}. The current State Machine revision is {}.",
                    m.current.revision_id
                )));
            }
        }
        // Publishing the revision the latest version already froze returns that version.
        if let Some(latest) = m.versions.values().next_back() {
            if latest.revision.revision_id == m.current.revision_id {
                return Ok((latest.arn.clone(), latest.creation_date));
            }
        }
        if m.versions.len() >= 1000 {
            return Err(ApiError::ServiceQuotaExceededException(
                "The maximum number of versions (1000) has been reached".into(),
            ));
        }
        let number = m.next_version;
        m.next_version += 1;
        let version = Version {
            arn: format!("{}:{number}", m.arn),
            number,
            revision: m.current.clone(),
            description,
            creation_date: OffsetDateTime::now_utc(),
        };
        let out = (version.arn.clone(), version.creation_date);
        m.versions.insert(number, version);
        Ok(out)
    })
}

/// PublishStateMachineVersion.
pub async fn publish_version(state: AppState, input: PublishInput) -> Result<PublishOutput, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    let (state_machine_version_arn, creation_date) =
        publish(&state, &arn, input.revision_id.as_deref(), input.description)?;
    Ok(PublishOutput { creation_date, state_machine_version_arn })
}

/// A listing request about one machine.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOfInput {
    state_machine_arn: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionItem {
    state_machine_version_arn: String,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
}

/// ListStateMachineVersions's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListVersionsOutput {
    state_machine_versions: Vec<VersionItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListStateMachineVersions (newest first).
pub async fn list_versions(state: AppState, input: ListOfInput) -> Result<ListVersionsOutput, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    let machine = state.registry().machine_by_arn(&arn)?;
    let items = machine
        .versions
        .values()
        .rev()
        .map(|v| VersionItem { state_machine_version_arn: v.arn.clone(), creation_date: v.creation_date })
        .collect();
    let (state_machine_versions, next_token) =
        paginate(items, input.max_results, input.next_token.as_deref(), &format!("ListStateMachineVersions {arn}"))?;
    Ok(ListVersionsOutput { state_machine_versions, next_token })
}

/// DeleteStateMachineVersion's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionArnInput {
    state_machine_version_arn: Option<String>,
}

fn split_qualified(arn: &str) -> Result<(String, String), ApiError> {
    let parsed = parse_arn(arn).filter(|a| a.resource_type == "stateMachine" && a.parts.len() == 2);
    let parsed = parsed.ok_or_else(|| ApiError::invalid_arn(arn))?;
    let base = arn.rsplit_once(':').map(|(b, _)| b.to_owned()).unwrap_or_default();
    Ok((base, parsed.parts[1].to_owned()))
}

/// DeleteStateMachineVersion (refused while an alias routes to the version).
pub async fn delete_version(state: AppState, input: VersionArnInput) -> Result<Empty, ApiError> {
    let arn = required(input.state_machine_version_arn, "stateMachineVersionArn")?;
    let (base, number) = split_qualified(&arn)?;
    let number = number.parse::<u64>().map_err(|_| ApiError::invalid_arn(&arn))?;
    if state.registry().machine_by_arn(&base).is_err() {
        return Ok(Empty {});
    }
    state.registry().update_machine(&base, |m| {
        if let Some(alias) = m.aliases.values().find(|a| a.routing.iter().any(|(v, _)| *v == arn)) {
            return Err(ApiError::ConflictException(format!(
                "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                alias.name
            )));
        }
        m.versions.remove(&number);
        Ok(())
    })?;
    Ok(Empty {})
}

/// One routing entry on the wire.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingEntry {
    state_machine_version_arn: Option<String>,
    weight: Option<i64>,
}

fn check_routing(routing: Vec<RoutingEntry>) -> Result<(String, Vec<(String, u32)>), ApiError> {
    if routing.is_empty() || routing.len() > 2 {
        return Err(ApiError::constraint(
            "[…]",
            "routingConfiguration",
            "Member must have length less than or equal to 2 and greater than or equal to 1",
        ));
    }
    let mut out = Vec::new();
    let mut base = None;
    for entry in routing {
        let version = required(entry.state_machine_version_arn, "routingConfiguration.member.stateMachineVersionArn")?;
        let weight = required(entry.weight, "routingConfiguration.member.weight")?;
        if !(0..=100).contains(&weight) {
            return Err(ApiError::constraint(
                &weight.to_string(),
                "routingConfiguration.member.weight",
                "Member must have value between 0 and 100",
            ));
        }
        let (machine, _) = split_qualified(&version)?;
        if base.get_or_insert_with(|| machine.clone()) != &machine {
            return Err(ApiError::validation("Routing configuration must contain versions of the same state machine"));
        }
        if out.iter().any(|(v, _)| *v == version) {
            return Err(ApiError::validation("Routing configuration must not contain duplicate versions"));
        }
        out.push((version, weight as u32));
    }
    if out.iter().map(|(_, w)| *w).sum::<u32>() != 100 {
        return Err(ApiError::validation("Sum of routing configuration weights must be equal to 100"));
    }
    Ok((base.unwrap_or_default(), out))
}

fn check_alias_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=80).contains(&name.chars().count())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && name.chars().any(|c| !c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidName(format!("Invalid Name: '{name}'")))
    }
}

/// CreateStateMachineAlias's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAliasInput {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    routing_configuration: Vec<RoutingEntry>,
}

/// CreateStateMachineAlias's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAliasOutput {
    state_machine_alias_arn: String,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
}

fn check_versions_exist(m: &Machine, routing: &[(String, u32)]) -> Result<(), ApiError> {
    for (v, _) in routing {
        if !m.versions.values().any(|x| x.arn == *v) {
            return Err(ApiError::ResourceNotFound(format!("Resource not found: '{v}'")));
        }
    }
    Ok(())
}

/// CreateStateMachineAlias.
pub async fn create_alias(state: AppState, input: CreateAliasInput) -> Result<CreateAliasOutput, ApiError> {
    let name = required(input.name, "name")?;
    check_alias_name(&name)?;
    let (base, routing) = check_routing(input.routing_configuration)?;
    let now = OffsetDateTime::now_utc();
    state.registry().update_machine(&base, |m| {
        check_versions_exist(m, &routing)?;
        if let Some(existing) = m.aliases.get(&name) {
            if existing.routing == routing && existing.description == input.description {
                return Ok(CreateAliasOutput {
                    state_machine_alias_arn: existing.arn.clone(),
                    creation_date: existing.creation_date,
                });
            }
            return Err(ApiError::ConflictException(format!(
                "Alias '{name}' already exists with another configuration"
            )));
        }
        if m.aliases.len() >= 100 {
            return Err(ApiError::ServiceQuotaExceededException("A state machine has at most 100 aliases".into()));
        }
        let alias = Alias {
            arn: format!("{}:{name}", m.arn),
            name: name.clone(),
            description: input.description.clone(),
            routing: routing.clone(),
            creation_date: now,
            update_date: now,
        };
        let out = CreateAliasOutput { state_machine_alias_arn: alias.arn.clone(), creation_date: now };
        m.aliases.insert(name.clone(), alias);
        Ok(out)
    })
}

/// Input naming one alias.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AliasArnInput {
    state_machine_alias_arn: Option<String>,
}

/// DescribeStateMachineAlias's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeAliasOutput {
    state_machine_alias_arn: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    routing_configuration: Vec<Value>,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
    #[serde(serialize_with = "epoch_opt")]
    update_date: Option<OffsetDateTime>,
}

fn find_alias(state: &AppState, arn: &str) -> Result<Alias, ApiError> {
    let (base, name) = split_qualified(arn)?;
    let not_found = || ApiError::ResourceNotFound(format!("Resource not found: '{arn}'"));
    let machine = state.registry().machine_by_arn(&base).map_err(|_| not_found())?;
    machine.aliases.get(&name).cloned().ok_or_else(not_found)
}

/// DescribeStateMachineAlias.
pub async fn describe_alias(state: AppState, input: AliasArnInput) -> Result<DescribeAliasOutput, ApiError> {
    let arn = required(input.state_machine_alias_arn, "stateMachineAliasArn")?;
    let alias = find_alias(&state, &arn)?;
    Ok(DescribeAliasOutput {
        state_machine_alias_arn: alias.arn,
        name: alias.name,
        description: alias.description,
        routing_configuration: alias
            .routing
            .iter()
            .map(|(v, w)| json!({"stateMachineVersionArn": v, "weight": w}))
            .collect(),
        creation_date: alias.creation_date,
        update_date: Some(alias.update_date),
    })
}

/// UpdateStateMachineAlias's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAliasInput {
    state_machine_alias_arn: Option<String>,
    description: Option<String>,
    routing_configuration: Option<Vec<RoutingEntry>>,
}

/// UpdateStateMachineAlias's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAliasOutput {
    #[serde(serialize_with = "epoch")]
    update_date: OffsetDateTime,
}

/// UpdateStateMachineAlias.
pub async fn update_alias(state: AppState, input: UpdateAliasInput) -> Result<UpdateAliasOutput, ApiError> {
    let arn = required(input.state_machine_alias_arn, "stateMachineAliasArn")?;
    if input.description.is_none() && input.routing_configuration.is_none() {
        return Err(ApiError::validation("Either the description or the RoutingConfiguration must be specified"));
    }
    let alias = find_alias(&state, &arn)?;
    let (base, _) = split_qualified(&arn)?;
    let routing = match input.routing_configuration {
        Some(r) => {
            let (machine, routing) = check_routing(r)?;
            if machine != base {
                return Err(ApiError::validation(
                    "Routing configuration must contain versions of the alias's state machine",
                ));
            }
            Some(routing)
        }
        None => None,
    };
    let now = OffsetDateTime::now_utc();
    state.registry().update_machine(&base, |m| {
        if let Some(r) = &routing {
            check_versions_exist(m, r)?;
        }
        let a = m
            .aliases
            .get_mut(&alias.name)
            .ok_or_else(|| ApiError::ResourceNotFound(format!("Resource not found: '{arn}'")))?;
        if let Some(r) = routing {
            a.routing = r;
        }
        if let Some(d) = input.description {
            a.description = Some(d);
        }
        a.update_date = now;
        Ok(())
    })?;
    Ok(UpdateAliasOutput { update_date: now })
}

/// DeleteStateMachineAlias.
pub async fn delete_alias(state: AppState, input: AliasArnInput) -> Result<Empty, ApiError> {
    let arn = required(input.state_machine_alias_arn, "stateMachineAliasArn")?;
    let (base, name) = split_qualified(&arn)?;
    if state.registry().machine_by_arn(&base).is_ok() {
        state.registry().update_machine(&base, |m| {
            m.aliases.remove(&name);
            Ok(())
        })?;
    }
    Ok(Empty {})
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AliasItem {
    state_machine_alias_arn: String,
    #[serde(serialize_with = "epoch")]
    creation_date: OffsetDateTime,
}

/// ListStateMachineAliases's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAliasesOutput {
    state_machine_aliases: Vec<AliasItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListStateMachineAliases.
pub async fn list_aliases(state: AppState, input: ListOfInput) -> Result<ListAliasesOutput, ApiError> {
    let arn = required(input.state_machine_arn, "stateMachineArn")?;
    let machine = state.registry().machine_by_arn(&arn)?;
    let items = machine
        .aliases
        .values()
        .map(|a| AliasItem { state_machine_alias_arn: a.arn.clone(), creation_date: a.creation_date })
        .collect();
    let (state_machine_aliases, next_token) =
        paginate(items, input.max_results, input.next_token.as_deref(), &format!("ListStateMachineAliases {arn}"))?;
    Ok(ListAliasesOutput { state_machine_aliases, next_token })
}

/// TagResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInput {
    resource_arn: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// TagResource.
pub async fn tag_resource(state: AppState, input: TagInput) -> Result<Empty, ApiError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    let tags = input.tags;
    state.registry().with_tags(&arn, |existing| {
        let mut merged = existing.clone();
        merge_tags(&mut merged, tags).map_err(|e| match e {
            ApiError::ValidationException { message, .. } if message.starts_with("Too many") => {
                ApiError::ValidationException { message, reason: None }
            }
            other => other,
        })?;
        *existing = merged;
        Ok::<_, ApiError>(())
    })??;
    Ok(Empty {})
}

/// UntagResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagInput {
    resource_arn: Option<String>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

/// UntagResource.
pub async fn untag_resource(state: AppState, input: UntagInput) -> Result<Empty, ApiError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    state.registry().with_tags(&arn, |existing| existing.retain(|(k, _)| !input.tag_keys.contains(k)))?;
    Ok(Empty {})
}

/// ListTagsForResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsInput {
    resource_arn: Option<String>,
}

/// ListTagsForResource's output.
#[derive(Debug, Serialize)]
pub struct ListTagsOutput {
    tags: Vec<Value>,
}

/// ListTagsForResource.
pub async fn list_tags(state: AppState, input: ListTagsInput) -> Result<ListTagsOutput, ApiError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    let tags = state.registry().with_tags(&arn, |existing| existing.clone())?;
    Ok(ListTagsOutput { tags: tags.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect() })
}
