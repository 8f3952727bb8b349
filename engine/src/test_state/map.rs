//! TestState on a mocked Map state: the iterations it would have run, reported step by step
//! (`afterItemsPointer`, `afterItemsPath`, `afterItemSelector`, `afterItemBatcher`).
//!
//! The items come from the state input (`ItemsPath`, `Items`) or, for a Map with an `ItemReader`, from
//! `stateConfiguration.mapItemReaderData`, read as the `ReaderConfig` says (JSON, JSONL or CSV), as the
//! reader would have read the object from S3. `ItemSelector` is evaluated for each item with the
//! Map's context object (`$$.Map.Item.Index` and `$$.Map.Item.Value`), then `ItemBatcher` groups the
//! selected items into batches. A Map with an `ItemReader` but no reader data reports no iterations
//! (Legion does not call S3 from TestState).

use bytes::Bytes;
use legion_asl::error::names;
use legion_asl::model::{MapState, QueryLanguage, State};
use serde_json::{json, Map, Value};

use crate::interp::data::input_path;
use crate::interp::map::config::{BatcherSpec, DistributedSpec, ReaderSpec};
use crate::interp::map::{eval_number, input_items, select_item};
use crate::interp::{env, states_value, StateError, Thread};
use crate::item_formats::{json_items, Chunks, CsvItems, JsonlItems};
use crate::map_run::{InputType, ItemReaderError, ItemSource};

use super::{Failed, InspectionData};

/// AWS's default `MaxInputBytesPerBatch` (256 KiB).
const DEFAULT_BATCH_BYTES: f64 = 262_144.0;

/// What the state input and the reader data give a Map, before its work is mocked.
pub(super) struct MapInputs<'a> {
    pub(super) state: &'a State,
    pub(super) map: &'a MapState,
    pub(super) raw: &'a Value,
    pub(super) ctx: &'a Value,
    pub(super) reader_data: Option<&'a str>,
}

impl From<StateError> for Failed {
    fn from(e: StateError) -> Failed {
        match e {
            StateError::Eval(e) => e.into(),
            StateError::Failed(f) => Failed { error: f.error, cause: f.cause, handled: true },
        }
    }
}

fn reader_failed(e: ItemReaderError) -> Failed {
    Failed { error: names::ITEM_READER_FAILED.into(), cause: Some(e.cause), handled: true }
}

impl MapInputs<'_> {
    /// Fills the iteration fields of `inspection`; fails as the Map would (a non-array `Items`, a
    /// reader error, a failing `ItemSelector`).
    pub(super) async fn inspect(&self, thread: &Thread, inspection: &mut InspectionData) -> Result<(), Failed> {
        let spec = DistributedSpec::compile(self.map, self.state.query_language)?;
        let jsonpath = self.state.query_language == QueryLanguage::JsonPath;
        let (eff, items) = match &spec.reader {
            Some(reader) => {
                let Some(data) = self.reader_data else { return Ok(()) };
                let eff = self.effective_input(thread)?;
                (eff.clone(), self.read(reader, data, &eff, thread, inspection).await?)
            }
            None => {
                let (eff, items) = input_items(self.state, self.map, self.raw, self.ctx, &thread.vars)?;
                if jsonpath {
                    inspection.after_items_path = Some(Value::Array(items.clone()));
                }
                (eff.into_owned(), items)
            }
        };
        let selected = match &self.map.item_selector {
            Some(_) => {
                let selected = self.select(&eff, items, thread)?;
                inspection.after_item_selector = Some(Value::Array(selected.clone()));
                selected
            }
            None => items,
        };
        if let Some(batcher) = &spec.batcher {
            let batches = self.batch(batcher, &eff, selected, thread)?;
            inspection.after_item_batcher = Some(Value::Array(batches));
        }
        Ok(())
    }

    fn effective_input(&self, thread: &Thread) -> Result<Value, Failed> {
        Ok(match self.state.query_language {
            QueryLanguage::JsonPath => {
                input_path(&self.state.io.input_path, self.raw, self.ctx, &thread.vars)?.into_owned()
            }
            QueryLanguage::Jsonata => self.raw.clone(),
        })
    }

    /// The items of the reader data, at most `MaxItems` of them.
    async fn read(
        &self,
        reader: &ReaderSpec,
        data: &str,
        eff: &Value,
        thread: &Thread,
        inspection: &mut InspectionData,
    ) -> Result<Vec<Value>, Failed> {
        let config = &reader.config;
        let mut items = match config.input_type {
            Some(InputType::Csv) => drain(&mut CsvItems::new(chunks(data), config).map_err(reader_failed)?).await?,
            Some(InputType::Jsonl) => drain(&mut JsonlItems::new(chunks(data))).await?,
            Some(InputType::Manifest | InputType::Parquet) => {
                return Err(reader_failed(ItemReaderError::new(
                    "TestState reads mapItemReaderData as CSV, JSON or JSONL only",
                )))
            }
            // A listing (no InputType) is given as the JSON array of the objects listed.
            Some(InputType::Json) | None => {
                let pointer = config.items_pointer.as_deref();
                let items = json_items(data.as_bytes(), pointer).map_err(reader_failed)?;
                if pointer.is_some() {
                    inspection.after_items_pointer = Some(Value::Array(items.clone()));
                }
                items
            }
        };
        if let Some(field) = &reader.max_items {
            let n = eval_number(self.state, field, "MaxItems", false, eff, self.raw, self.ctx, thread)?;
            if n > 0.0 {
                items.truncate(n as usize);
            }
        }
        Ok(items)
    }

    /// `ItemSelector` for each item, with `$$.Map.Item` set.
    fn select(&self, eff: &Value, items: Vec<Value>, thread: &Thread) -> Result<Vec<Value>, Failed> {
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let ctx = |item: &Value| {
                    let mut ctx = self.ctx.clone();
                    if let Value::Object(c) = &mut ctx {
                        c.insert("Map".into(), json!({"Item": {"Index": index, "Value": item}}));
                    }
                    ctx
                };
                select_item(self.state, self.map, eff, self.raw, item, ctx, &thread.vars).map_err(Failed::from)
            })
            .collect()
    }

    /// Groups the selected items as the map run would: at most `MaxItemsPerBatch` items and
    /// `MaxInputBytesPerBatch` bytes of JSON in each `{"BatchInput": …, "Items": […]}`.
    fn batch(
        &self,
        batcher: &BatcherSpec,
        eff: &Value,
        items: Vec<Value>,
        thread: &Thread,
    ) -> Result<Vec<Value>, Failed> {
        let number = |field: &Option<legion_asl::model::NumberField>, name: &str| -> Result<Option<f64>, Failed> {
            match field {
                Some(f) => Ok(Some(eval_number(self.state, f, name, false, eff, self.raw, self.ctx, thread)?)),
                None => Ok(None),
            }
        };
        let max_items =
            number(&batcher.max_items, "MaxItemsPerBatch")?.filter(|n| *n >= 1.0).map_or(usize::MAX, |n| n as usize);
        let max_bytes = number(&batcher.max_bytes, "MaxInputBytesPerBatch")?
            .filter(|n| *n >= 1.0)
            .unwrap_or(DEFAULT_BATCH_BYTES) as usize;
        let batch_input = match &batcher.batch_input {
            Some(t) => Some(match self.state.query_language {
                QueryLanguage::JsonPath => t.eval(&env(eff, self.ctx, &thread.vars, &Value::Null))?,
                QueryLanguage::Jsonata => {
                    let states = states_value(self.state, self.raw, self.ctx, &[]);
                    t.eval(&env(self.raw, self.ctx, &thread.vars, &states))?
                }
            }),
            None => None,
        };
        Ok(group(items, max_items, max_bytes, batch_input))
    }
}

/// Splits `items` into batches; a batch holds at least one item even when that item alone is larger
/// than `max_bytes`.
fn group(items: Vec<Value>, max_items: usize, max_bytes: usize, batch_input: Option<Value>) -> Vec<Value> {
    let base = batch_input.as_ref().map_or(0, |b| b.to_string().len()) + 24;
    let mut batches = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut bytes = base;
    for item in items {
        let size = item.to_string().len() + 1;
        if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
            batches.push(batch(std::mem::take(&mut current), batch_input.as_ref()));
            bytes = base;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        batches.push(batch(current, batch_input.as_ref()));
    }
    batches
}

fn batch(items: Vec<Value>, batch_input: Option<&Value>) -> Value {
    let mut out = Map::new();
    if let Some(b) = batch_input {
        out.insert("BatchInput".into(), b.clone());
    }
    out.insert("Items".into(), Value::Array(items));
    Value::Object(out)
}

fn chunks(data: &str) -> Chunks {
    let bytes = Bytes::copy_from_slice(data.as_bytes());
    Box::pin(futures::stream::iter([Ok::<Bytes, ItemReaderError>(bytes)]))
}

async fn drain(source: &mut dyn ItemSource) -> Result<Vec<Value>, Failed> {
    let mut out = Vec::new();
    while let Some(v) = source.next_item().await.map_err(reader_failed)? {
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_item_and_byte_limits() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let batches = group(items.clone(), 2, usize::MAX, Some(json!({"k": 1})));
        assert_eq!(
            Value::Array(batches),
            json!([
                {"BatchInput": {"k": 1}, "Items": [0, 1]},
                {"BatchInput": {"k": 1}, "Items": [2, 3]},
                {"BatchInput": {"k": 1}, "Items": [4]}
            ])
        );
        // 24 bytes of envelope, then 2 bytes per one-digit item: two items fit in 28 bytes.
        assert_eq!(group(items, usize::MAX, 28, None).len(), 3);
    }
}
