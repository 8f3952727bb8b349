//! The Distributed Map fields the parser keeps as JSON (`ItemReader`, `ItemBatcher`, `ResultWriter`),
//! compiled into typed settings with their templates and paths.

use legion_asl::error::EvalError;
use legion_asl::model::{MapState, NumberField, QueryLanguage};
use legion_asl::path::Path;
use legion_asl::template::Template;
use serde_json::{Map, Value};

use crate::map_run::{CsvDelimiter, CsvHeaders, InputType, ManifestType, ReaderConfig, ReaderResource, Transformation};

/// `ItemReader`.
pub(crate) struct ReaderSpec {
    pub(crate) resource: ReaderResource,
    /// `Parameters` / `Arguments`.
    pub(crate) parameters: Option<Template>,
    pub(crate) config: ReaderConfig,
    /// `ReaderConfig.MaxItems` / `MaxItemsPath`.
    pub(crate) max_items: Option<NumberField>,
}

/// `ItemBatcher`.
pub(crate) struct BatcherSpec {
    pub(crate) max_items: Option<NumberField>,
    pub(crate) max_bytes: Option<NumberField>,
    pub(crate) batch_input: Option<Template>,
}

/// `WriterConfig.OutputType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutputType {
    Json,
    Jsonl,
}

/// `WriterConfig.Transformation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriterTransformation {
    /// Full execution records.
    None,
    /// Child outputs only.
    Compact,
    /// Child outputs, arrays concatenated.
    Flatten,
}

/// `ResultWriter`.
pub(super) struct WriterSpec {
    /// `Parameters` / `Arguments` with `Bucket` and `Prefix`, when results are exported.
    pub(super) target: Option<Template>,
    pub(super) output_type: OutputType,
    pub(super) transformation: WriterTransformation,
}

/// Everything distributed-only, compiled.
pub(crate) struct DistributedSpec {
    pub(crate) reader: Option<ReaderSpec>,
    pub(crate) batcher: Option<BatcherSpec>,
    pub(super) writer: Option<WriterSpec>,
}

fn bad(field: &str, detail: impl std::fmt::Display) -> EvalError {
    EvalError::runtime(format!("Invalid {field}: {detail}"))
}

fn template(v: &Value, field: &str, language: QueryLanguage) -> Result<Template, EvalError> {
    let mut diags = Vec::new();
    let t = match language {
        QueryLanguage::JsonPath => Template::jsonpath(v, field, &mut diags),
        QueryLanguage::Jsonata => Template::jsonata(v, field, field, &mut diags),
    };
    match diags.first() {
        Some(d) => Err(bad(field, &d.message)),
        None => Ok(t),
    }
}

/// A number given as `Name` (literal or JSONata) or `NamePath`.
fn number(obj: &Map<String, Value>, name: &str, language: QueryLanguage) -> Result<Option<NumberField>, EvalError> {
    if let Some(v) = obj.get(name) {
        return match v {
            Value::Number(n) => Ok(n.as_f64().map(NumberField::Literal)),
            Value::String(_) if language == QueryLanguage::Jsonata => {
                Ok(Some(NumberField::Expr(template(v, name, language)?)))
            }
            other => Err(bad(name, format!("expected a number, got {other}"))),
        };
    }
    let path_name = format!("{name}Path");
    match obj.get(&path_name) {
        None => Ok(None),
        Some(Value::String(s)) => {
            Path::parse_reference(s).map(|p| Some(NumberField::Path(p))).map_err(|e| bad(&path_name, format!("{e:?}")))
        }
        Some(other) => Err(bad(&path_name, format!("expected a path, got {other}"))),
    }
}

fn string<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    obj.get(name).and_then(Value::as_str)
}

fn parameters(obj: &Map<String, Value>, language: QueryLanguage) -> Result<Option<Template>, EvalError> {
    let key = if obj.contains_key("Arguments") { "Arguments" } else { "Parameters" };
    obj.get(key).map(|v| template(v, key, language)).transpose()
}

impl DistributedSpec {
    /// Compiles the map's distributed-only fields.
    pub(crate) fn compile(m: &MapState, language: QueryLanguage) -> Result<DistributedSpec, EvalError> {
        let reader = m.item_reader.as_ref().map(|v| reader(v, language)).transpose()?;
        let batcher = m.item_batcher.as_ref().map(|v| batcher(v, language)).transpose()?;
        let writer = m.result_writer.as_ref().map(|v| writer(v, language)).transpose()?;
        Ok(DistributedSpec { reader, batcher, writer })
    }
}

fn reader(v: &Value, language: QueryLanguage) -> Result<ReaderSpec, EvalError> {
    let obj = v.as_object().ok_or_else(|| bad("ItemReader", "expected an object"))?;
    let resource = match string(obj, "Resource") {
        Some(r) if r.ends_with(":s3:listObjectsV2") => ReaderResource::ListObjectsV2,
        Some(r) if r.ends_with(":s3:getObject") => ReaderResource::GetObject,
        other => return Err(bad("ItemReader", format!("unsupported Resource {other:?}"))),
    };
    let empty = Map::new();
    let rc = match obj.get("ReaderConfig") {
        Some(Value::Object(o)) => o,
        Some(other) => return Err(bad("ReaderConfig", format!("expected an object, got {other}"))),
        None => &empty,
    };
    let input_type = match string(rc, "InputType") {
        None => None,
        Some("CSV") => Some(InputType::Csv),
        Some("JSON") => Some(InputType::Json),
        Some("JSONL") => Some(InputType::Jsonl),
        Some("MANIFEST") => Some(InputType::Manifest),
        Some("PARQUET") => Some(InputType::Parquet),
        Some(other) => return Err(bad("InputType", other)),
    };
    let csv_headers = match (string(rc, "CSVHeaderLocation"), rc.get("CSVHeaders")) {
        (Some("GIVEN"), Some(Value::Array(h))) => CsvHeaders::Given(
            h.iter()
                .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| bad("CSVHeaders", "expected strings")))
                .collect::<Result<_, _>>()?,
        ),
        (Some("GIVEN"), _) => return Err(bad("CSVHeaders", "required when CSVHeaderLocation is GIVEN")),
        _ => CsvHeaders::FirstRow,
    };
    let csv_delimiter = match string(rc, "CSVDelimiter") {
        None | Some("COMMA") => CsvDelimiter::Comma,
        Some("PIPE") => CsvDelimiter::Pipe,
        Some("SEMICOLON") => CsvDelimiter::Semicolon,
        Some("SPACE") => CsvDelimiter::Space,
        Some("TAB") => CsvDelimiter::Tab,
        Some(other) => return Err(bad("CSVDelimiter", other)),
    };
    let transformation = match string(rc, "Transformation") {
        Some("LOAD_AND_FLATTEN") => Transformation::LoadAndFlatten,
        _ => Transformation::None,
    };
    let manifest_type = match string(rc, "ManifestType") {
        Some("ATHENA_DATA") => ManifestType::AthenaData,
        _ => ManifestType::S3Inventory,
    };
    let config = ReaderConfig {
        input_type,
        csv_headers,
        csv_delimiter,
        items_pointer: string(rc, "ItemsPointer").map(str::to_owned),
        transformation,
        manifest_type,
    };
    Ok(ReaderSpec {
        resource,
        parameters: parameters(obj, language)?,
        config,
        max_items: number(rc, "MaxItems", language)?,
    })
}

fn batcher(v: &Value, language: QueryLanguage) -> Result<BatcherSpec, EvalError> {
    let obj = v.as_object().ok_or_else(|| bad("ItemBatcher", "expected an object"))?;
    Ok(BatcherSpec {
        max_items: number(obj, "MaxItemsPerBatch", language)?,
        max_bytes: number(obj, "MaxInputBytesPerBatch", language)?,
        batch_input: obj.get("BatchInput").map(|v| template(v, "BatchInput", language)).transpose()?,
    })
}

fn writer(v: &Value, language: QueryLanguage) -> Result<WriterSpec, EvalError> {
    let obj = v.as_object().ok_or_else(|| bad("ResultWriter", "expected an object"))?;
    let target = match string(obj, "Resource") {
        Some(r) if r.ends_with(":s3:putObject") => parameters(obj, language)?,
        Some(other) => return Err(bad("ResultWriter", format!("unsupported Resource {other}"))),
        None => None,
    };
    let wc = obj.get("WriterConfig").and_then(Value::as_object);
    let output_type = match wc.and_then(|w| string(w, "OutputType")) {
        Some("JSONL") => OutputType::Jsonl,
        _ => OutputType::Json,
    };
    let transformation = match wc.and_then(|w| string(w, "Transformation")) {
        Some("NONE") => WriterTransformation::None,
        Some("COMPACT") => WriterTransformation::Compact,
        Some("FLATTEN") => WriterTransformation::Flatten,
        Some(other) => return Err(bad("Transformation", other)),
        // Exported without WriterConfig: full records; WriterConfig alone: child outputs.
        None if target.is_some() && wc.is_none() => WriterTransformation::None,
        None => WriterTransformation::Compact,
    };
    Ok(WriterSpec { target, output_type, transformation })
}
