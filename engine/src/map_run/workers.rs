//! The children this engine claims from a [`ChildQueue`]: offered by any engine sharing the store
//! (this one included), run here as local children are, their results handed back.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use legion_asl::error::names;
use legion_asl::model::{StateKind, StateMachine, StateMachineType};
use legion_asl::parse::{parse_str, ParseOptions};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::queue::{ChildQueue, ChildResult, QueuedChild};
use crate::engine::{ExecutionStatus, Outcome, RunMode, Shared, StopSlot};
use crate::history::History;
use crate::interp::{run_execution, ExecutionInfo, Top};
use crate::store::StoreError;

/// The most children claimed in one round trip, so that engines share what is offered.
const CLAIM_BATCH: usize = 64;
/// How long to wait for an offer before looking anyway (a notification may be missed).
const POLL: Duration = Duration::from_secs(1);
/// The item processors read from stored definitions, kept while they are in use.
const MACHINES_KEPT: usize = 256;

/// A claimed child: its map run and ordinal.
type Key = (String, u64);

/// Claims and runs offered children for as long as the engine lives.
pub(crate) async fn serve(shared: Weak<Shared>, queue: Arc<dyn ChildQueue>, slots: Arc<Semaphore>) {
    let mut running: FuturesUnordered<BoxFuture<'static, Key>> = FuturesUnordered::new();
    let mut cancels: HashMap<Key, CancellationToken> = HashMap::new();
    let mut machines = Machines::default();
    let mut renew = tokio::time::interval(queue.renew_every());
    let mut poll = tokio::time::interval(POLL);
    // Whether a claim may find children: after an offer, a poll, or a claim that got all it asked.
    let mut look = true;
    let mut full = false;
    // Claims wait for a batch's worth of room (or an idle engine), so that a busy engine does not
    // make a round trip per finished child.
    let batch = (queue.capacity() / 8).clamp(1, CLAIM_BATCH);
    // Set every second: claim whatever room there is.
    let mut polled = false;
    loop {
        // The engine's own children take room too.
        let free = slots.available_permits();
        let room = free >= batch || (free > 0 && (running.is_empty() || polled));
        if look && room {
            polled = false;
            let Some(strong) = shared.upgrade() else { return };
            let asked = free.min(CLAIM_BATCH);
            match queue.claim(asked).await {
                Ok(children) => {
                    full = children.len() == asked;
                    look = full;
                    for child in children {
                        let machine = match machines.get(&*queue, &child).await {
                            Ok(machine) => Ok(machine),
                            Err(Missing::Invalid(cause)) => Err(cause),
                            Err(Missing::Unavailable(e)) => {
                                // Not run, not renewed: the claim lapses and the child is claimed again.
                                tracing::warn!(error = %e, child = %child.execution_arn, "could not read the definition of a claimed child");
                                continue;
                            }
                        };
                        let cancel = CancellationToken::new();
                        let key = (child.map_run_arn.clone(), child.ordinal);
                        cancels.insert(key.clone(), cancel.clone());
                        // Room may have gone to one of the engine's own children since the claim:
                        // the child then waits for it.
                        let room = match slots.clone().try_acquire_owned() {
                            Ok(permit) => Room::Taken(permit),
                            Err(_) => Room::Wait(slots.clone()),
                        };
                        let run =
                            tokio::spawn(run_claimed(strong.clone(), queue.clone(), machine, child, cancel, room));
                        running.push(Box::pin(async move {
                            let _ = run.await;
                            key
                        }));
                    }
                }
                Err(e) => {
                    look = false;
                    tracing::warn!(error = %e, "could not claim map-run children");
                }
            }
            continue;
        }
        tokio::select! {
            Some(key) = running.next(), if !running.is_empty() => {
                cancels.remove(&key);
                look |= full;
            }
            _ = queue.offered(), if free >= batch || running.is_empty() => look = true,
            _ = poll.tick() => {
                look = true;
                polled = true;
            }
            _ = renew.tick() => {
                if shared.strong_count() == 0 {
                    return;
                }
                let keys: Vec<Key> = cancels.keys().cloned().collect();
                match queue.renew(&keys).await {
                    Ok(kept) => {
                        let kept: HashSet<Key> = kept.into_iter().collect();
                        for (key, cancel) in &cancels {
                            if !kept.contains(key) {
                                cancel.cancel();
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the claims on map-run children"),
                }
            }
        }
    }
}

/// A claimed child's room in the engine.
enum Room {
    Taken(OwnedSemaphorePermit),
    Wait(Arc<Semaphore>),
}

/// Runs one claimed child and hands its result back.
async fn run_claimed(
    shared: Arc<Shared>,
    queue: Arc<dyn ChildQueue>,
    machine: Result<Arc<StateMachine>, String>,
    child: QueuedChild,
    cancel: CancellationToken,
    room: Room,
) {
    let _room = match room {
        Room::Taken(permit) => permit,
        Room::Wait(slots) => match slots.acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => return,
        },
    };
    let result = match machine {
        Ok(machine) => {
            let history = History::default();
            let info = ExecutionInfo {
                arn: child.execution_arn.as_str().into(),
                name: child.name.as_str().into(),
                state_machine_arn: child.state_machine_arn.as_str().into(),
                state_machine_name: child.state_machine_name.as_str().into(),
                role_arn: child.role_arn.as_str().into(),
                start_time: child.start_date,
                input: child.input.clone(),
                express: child.express,
                redrive_count: 0,
                redrive_time: None,
                record_history: child.record_history,
                token_seed: None,
            };
            let stop: StopSlot = Arc::new(std::sync::Mutex::new(None));
            let top = Top { checkpoints: None, journal: None, mode: RunMode::Start };
            let outcome = Box::pin(run_execution(shared, machine, info, history.clone(), cancel, stop, top)).await;
            ChildResult::new(outcome, if child.record_history { history.events() } else { Vec::new() })
        }
        Err(cause) => ChildResult::new(
            Outcome {
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(names::RUNTIME.to_owned()),
                cause: Some(cause),
            },
            Vec::new(),
        ),
    };
    queue.complete(&child, result);
}

/// Why a claimed child's item processor is not at hand.
enum Missing {
    /// The store could not be read: the child is left to its claim's lapse.
    Unavailable(StoreError),
    /// The stored definition cannot run it: the child fails with this cause.
    Invalid(String),
}

/// Item processors by parent execution and Map state, read from the parents' stored definitions.
#[derive(Default)]
struct Machines {
    known: HashMap<(String, String), Result<Arc<StateMachine>, String>>,
}

impl Machines {
    async fn get(&mut self, queue: &dyn ChildQueue, child: &QueuedChild) -> Result<Arc<StateMachine>, Missing> {
        let key = (child.parent_arn.clone(), child.state_name.clone());
        if let Some(found) = self.known.get(&key) {
            return found.clone().map_err(Missing::Invalid);
        }
        let found = match queue.definition(&child.parent_arn).await {
            Ok(Some((definition, kind))) => processor(&definition, kind, &child.state_name),
            Ok(None) => Err(format!("The execution {} that runs this child's map run is gone", child.parent_arn)),
            // Not kept: the next claim asks again.
            Err(e) => return Err(Missing::Unavailable(e)),
        };
        if self.known.len() >= MACHINES_KEPT {
            self.known.clear();
        }
        self.known.insert(key, found.clone());
        found.map_err(Missing::Invalid)
    }
}

/// The item processor of the Distributed Map `state_name` in a definition, as a machine of its own.
fn processor(definition: &str, kind: StateMachineType, state_name: &str) -> Result<Arc<StateMachine>, String> {
    let machine = parse_str(definition, ParseOptions { state_machine_type: kind })
        .map_err(|d| format!("The stored definition no longer parses: {}", d.first().map_or("", |d| &d.message)))?;
    let Some((_, state)) = machine.program.find_nested(state_name) else {
        return Err(format!("The stored definition has no state {state_name}"));
    };
    let StateKind::Map(m) = &state.kind else {
        return Err(format!("The state {state_name} of the stored definition is not a Map"));
    };
    Ok(Arc::new(m.processor_machine(state.query_language)))
}
