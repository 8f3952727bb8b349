//! The async runtime `legion run` starts: one thread for a machine that cannot use more, worker
//! threads for one whose Map states can.
//!
//! A state machine without Map states runs its states one after another (a Parallel state's
//! branches wait on their tasks far more than they compute), so a runtime on the calling thread
//! serves it as well as a multi-threaded one, without starting worker threads and handing the
//! execution between threads: about half a millisecond of a one-state `legion run` (see
//! BENCHMARKS.md). Map states (thousands of iterations or child executions) get every core.

use legion_asl::model::{Program, StateKind, StateMachine};

/// How many threads a run needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The calling thread only.
    One,
    /// Tokio's worker threads (one per core).
    Workers,
}

impl Threads {
    /// What `machine` needs; `nested` when the run may start other machines (`--machine`), whose
    /// states are not looked at.
    pub fn for_run(machine: &StateMachine, nested: bool) -> Threads {
        if nested || has_map(&machine.program) {
            Threads::Workers
        } else {
            Threads::One
        }
    }

    /// Builds the runtime, with its I/O and timer drivers.
    pub fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            Threads::One => tokio::runtime::Builder::new_current_thread().enable_all().build(),
            Threads::Workers => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        }
    }
}

/// True when `program` or a Parallel branch within it has a Map state.
fn has_map(program: &Program) -> bool {
    program.states.iter().any(|state| match &state.kind {
        StateKind::Map(_) => true,
        StateKind::Parallel(p) => p.branches.iter().any(has_map),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use legion_asl::parse::{parse_str, ParseOptions};

    fn threads(definition: &str) -> Threads {
        Threads::for_run(&parse_str(definition, ParseOptions::default()).expect("a valid definition"), false)
    }

    #[test]
    fn machines_without_map_states_run_on_one_thread() {
        let pass = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#;
        assert_eq!(threads(pass), Threads::One);
        let parallel = r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]}}}"#;
        assert_eq!(threads(parallel), Threads::One);
        let machine = parse_str(pass, ParseOptions::default()).expect("a valid definition");
        assert_eq!(Threads::for_run(&machine, true), Threads::Workers, "nested machines are not looked at");
    }

    #[test]
    fn map_states_anywhere_get_worker_threads() {
        let map = r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {
            "StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}}}}"#;
        assert_eq!(threads(map), Threads::Workers);
        let in_branch = r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {
                "StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}}}}]}}}"#;
        assert_eq!(threads(in_branch), Threads::Workers);
    }

    #[test]
    fn both_runtimes_run_tasks_and_timers() {
        for t in [Threads::One, Threads::Workers] {
            let runtime = t.build().expect("a runtime");
            let n = runtime.block_on(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                tokio::spawn(async { 7 }).await.expect("the task")
            });
            assert_eq!(n, 7);
        }
    }
}
