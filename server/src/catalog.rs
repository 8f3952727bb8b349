//! The state machines nested executions may start under `legion serve`: those of the server's
//! registry (state machines, versions and aliases), so `states:startExecution` and
//! `aws-sdk:sfn:startExecution` reach what CreateStateMachine made.

use legion_connectors::nested::{MachineCatalog, NestedMachine};

use crate::AppState;

/// The registry of one server, as a catalog.
#[derive(Clone)]
pub struct RegistryCatalog {
    state: AppState,
}

impl RegistryCatalog {
    /// The catalog of `state`'s registry.
    pub fn new(state: AppState) -> RegistryCatalog {
        RegistryCatalog { state }
    }
}

impl MachineCatalog for RegistryCatalog {
    fn resolve(&self, state_machine_arn: &str) -> Option<NestedMachine> {
        let resolved = self.state.registry().resolve(state_machine_arn).ok()?;
        Some(NestedMachine {
            machine: resolved.revision.machine.clone(),
            name: resolved.name,
            machine_type: resolved.machine_type,
            role_arn: Some(resolved.revision.role_arn.clone()),
        })
    }
}
