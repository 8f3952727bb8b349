//! Running a set of cases and reporting the results.
//!
//! [`run`] loads every case under the given folders, runs the selected ones concurrently through a
//! [`Runner`] (a bounded number at a time, each within a time limit), compares the results and
//! applies the known-failures list. [`run_cli`] does the same for the `legion conformance` command:
//! it prints the report, writes the JSON results and returns the exit status.
//!
//! The printed report has one line per failing, skipped or known-failing case, a table per category,
//! a line on histories, and last `N passed, M failed, K skipped`, where M counts unexpected failures:
//! failing cases not on the known-failures list, listed cases that pass, and harness errors.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};

use crate::case::{self, CaseKind, Discovered};
use crate::compare::{self, HistoryCheck, Verdict};
use crate::known_failures::{KnownFailures, KnownFailuresError};
use crate::runner::Runner;

/// How to run the cases.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run only the cases whose key contains this text.
    pub filter: Option<String>,
    /// The known-failures file.
    pub known_failures: Option<PathBuf>,
    /// Rewrite the known-failures file with the current failures (see [`Report::update_known_failures`]).
    pub update_known_failures: bool,
    /// Write the per-case results as JSON to this file.
    pub json: Option<PathBuf>,
    /// How many cases run at the same time.
    pub concurrency: usize,
    /// How long one case may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            filter: None,
            known_failures: None,
            update_known_failures: false,
            json: None,
            concurrency: 16,
            timeout: Duration::from_secs(30),
        }
    }
}

/// The outcome of one case after applying the known-failures list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Matches the recording.
    Pass,
    /// Differs from the recording (or could not be run) and is not listed as a known failure.
    Fail,
    /// Skipped by the runner: needs a service the engine does not integrate with.
    Skip,
    /// Fails, and is listed as a known failure.
    XFail,
    /// Passes although listed as a known failure: counts as a failure until the line is removed.
    XPass,
}

impl Outcome {
    /// The lower-case name used in JSON results.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skip => "skip",
            Self::XFail => "xfail",
            Self::XPass => "xpass",
        }
    }
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case key (file stem).
    pub key: String,
    /// The folder holding the case file.
    pub category: String,
    /// The case's `id`, when the file could be loaded.
    pub id: Option<String>,
    /// The case kind, when the file could be loaded.
    pub kind: Option<CaseKind>,
    /// The case's features.
    pub features: Vec<String>,
    /// The outcome.
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// The reason given in the known-failures list, when listed.
    pub known_reason: Option<String>,
    /// How the history event types compare.
    pub history: HistoryCheck,
    /// How long the runner took.
    pub duration: Duration,
}

/// The results of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One result per selected case file, sorted by category and key.
    pub results: Vec<CaseResult>,
    /// Problems outside any one case (unreadable folders); each counts as a failure.
    pub errors: Vec<String>,
    /// Problems with the known-failures list (unreadable, malformed, unknown keys); each counts as a
    /// failure.
    pub known_failure_errors: Vec<String>,
    known: KnownFailures,
    all_keys: HashSet<String>,
}

/// Counts of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed cases.
    pub passed: usize,
    /// Unexpectedly failed cases (including XPASS).
    pub failed: usize,
    /// Skipped cases.
    pub skipped: usize,
    /// Known failures that failed.
    pub xfail: usize,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail | Outcome::XPass => self.failed += 1,
            Outcome::Skip => self.skipped += 1,
            Outcome::XFail => self.xfail += 1,
        }
    }
}

impl Report {
    /// Outcome counts over all results, harness errors counted as failures.
    pub fn tally(&self) -> Tally {
        let mut tally = Tally::default();
        self.results.iter().for_each(|r| tally.add(r.outcome));
        tally.failed += self.errors.len() + self.known_failure_errors.len();
        tally
    }

    /// Outcome counts per category (harness errors not included).
    pub fn by_category(&self) -> BTreeMap<&str, Tally> {
        let mut map: BTreeMap<&str, Tally> = BTreeMap::new();
        for r in &self.results {
            map.entry(r.category.as_str()).or_default().add(r.outcome);
        }
        map
    }

    /// (matching, compared) history event-type sequences.
    pub fn history_counts(&self) -> (usize, usize) {
        let matched = self.results.iter().filter(|r| r.history == HistoryCheck::Match).count();
        let compared = self
            .results
            .iter()
            .filter(|r| matches!(r.history, HistoryCheck::Match | HistoryCheck::Mismatch(_)))
            .count();
        (matched, compared)
    }

    /// 0 when nothing failed unexpectedly, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.tally().failed > 0)
    }

    /// Rewrites the known-failures list from this run: every failing case is listed (keeping the
    /// reason already given, else the failure reason), passing cases are removed, and entries for
    /// cases that were not run (filtered out or skipped) are kept unless no case file has their key.
    /// The results are reclassified against the new list. Returns the new list and how many entries
    /// were added and removed.
    pub fn update_known_failures(&mut self) -> (KnownFailures, usize, usize) {
        let mut list = self.known.clone();
        let unknown: Vec<String> = list.keys().filter(|k| !self.all_keys.contains(*k)).map(String::from).collect();
        let mut removed = 0;
        for key in unknown {
            removed += usize::from(list.remove(&key));
        }
        let mut added = 0;
        for r in &mut self.results {
            match r.outcome {
                Outcome::Fail => {
                    let reason = r.reason.clone().unwrap_or_default();
                    list.insert(r.key.clone(), compare::shorten(&reason));
                    r.known_reason = list.reason(&r.key).map(String::from);
                    r.outcome = Outcome::XFail;
                    added += 1;
                }
                Outcome::XPass | Outcome::Pass if list.contains(&r.key) => {
                    list.remove(&r.key);
                    r.known_reason = None;
                    r.outcome = Outcome::Pass;
                    removed += 1;
                }
                _ => {}
            }
        }
        self.known_failure_errors.clear();
        self.known = list.clone();
        (list, added, removed)
    }

    /// The printed report; its last line is `N passed, M failed, K skipped`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            let reason = r.reason.as_deref().unwrap_or("");
            match r.outcome {
                Outcome::Pass => {}
                Outcome::Fail => _ = writeln!(out, "FAIL {}: {reason}", r.key),
                Outcome::Skip => _ = writeln!(out, "SKIP {}: {reason}", r.key),
                Outcome::XFail => _ = writeln!(out, "XFAIL {}: {reason}", r.key),
                Outcome::XPass => _ = writeln!(out, "XPASS {}: remove it from the known-failures list", r.key),
            }
        }
        for e in self.errors.iter().chain(&self.known_failure_errors) {
            _ = writeln!(out, "ERROR {e}");
        }
        if !out.is_empty() {
            out.push('\n');
        }

        let categories = self.by_category();
        let width = categories.keys().map(|c| c.len()).chain(["category".len(), "total".len()]).max().unwrap_or(8);
        _ = writeln!(out, "{:<width$}  {:>7}  {:>7}  {:>7}  {:>7}", "category", "passed", "failed", "skipped", "xfail");
        let mut total = Tally::default();
        for (category, t) in &categories {
            _ = writeln!(out, "{category:<width$}  {:>7}  {:>7}  {:>7}  {:>7}", t.passed, t.failed, t.skipped, t.xfail);
            total.passed += t.passed;
            total.failed += t.failed;
            total.skipped += t.skipped;
            total.xfail += t.xfail;
        }
        _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:>7}  {:>7}  {:>7}",
            "total", total.passed, total.failed, total.skipped, total.xfail
        );

        let (matched, compared) = self.history_counts();
        if compared == 0 {
            _ = writeln!(out, "history: no recorded history compared");
        } else {
            _ = writeln!(
                out,
                "history: {matched} of {compared} recorded event-type sequences match ({} differ)",
                compared - matched
            );
        }
        let t = self.tally();
        _ = writeln!(out, "{} passed, {} failed, {} skipped", t.passed, t.failed, t.skipped);
        out
    }

    /// The per-case results and the summary as JSON.
    pub fn to_json(&self) -> Value {
        let t = self.tally();
        let (matched, compared) = self.history_counts();
        let cases: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let (history, history_detail) = match &r.history {
                    HistoryCheck::NotRecorded => ("not_recorded", None),
                    HistoryCheck::NotCompared => ("not_compared", None),
                    HistoryCheck::Match => ("match", None),
                    HistoryCheck::Mismatch(why) => ("mismatch", Some(why.as_str())),
                };
                json!({
                    "key": r.key,
                    "category": r.category,
                    "id": r.id,
                    "kind": r.kind.map(|k| k.to_string()),
                    "outcome": r.outcome.as_str(),
                    "reason": r.reason,
                    "known_reason": r.known_reason,
                    "history": history,
                    "history_detail": history_detail,
                    "duration_ms": u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
                    "features": r.features,
                })
            })
            .collect();
        json!({
            "summary": {
                "passed": t.passed,
                "failed": t.failed,
                "skipped": t.skipped,
                "xfail": t.xfail,
                "history_matched": matched,
                "history_compared": compared,
            },
            "errors": self.errors.iter().chain(&self.known_failure_errors).collect::<Vec<_>>(),
            "cases": cases,
        })
    }
}

/// Loads the known-failures list; in update mode a missing file is an empty list.
fn load_known(opts: &Options) -> Result<KnownFailures, KnownFailuresError> {
    match &opts.known_failures {
        None => Ok(KnownFailures::default()),
        Some(path) if opts.update_known_failures && !path.exists() => Ok(KnownFailures::default()),
        Some(path) => KnownFailures::load(path),
    }
}

/// Runs every case file under `dirs` whose key contains `opts.filter`, and returns the report.
pub async fn run(dirs: &[PathBuf], runner: &dyn Runner, opts: &Options) -> Report {
    let (found, errors) = case::discover(dirs);
    let mut report = Report { errors, ..Report::default() };
    report.all_keys = found.iter().map(|d| d.key.clone()).collect();
    report.all_keys.extend(case::neighbour_keys(dirs));
    match load_known(opts) {
        Ok(known) => report.known = known,
        Err(e) => report.known_failure_errors.push(e.to_string()),
    }
    for key in report.known.keys() {
        if !report.all_keys.contains(key) {
            report.known_failure_errors.push(format!("known-failures lists {key}, but no case file has that key"));
        }
    }

    let selected: Vec<&Discovered> =
        found.iter().filter(|d| opts.filter.as_deref().is_none_or(|f| d.key.contains(f))).collect();
    let mut results: Vec<CaseResult> = futures::stream::iter(selected)
        .map(|d| run_one(d, runner, opts))
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;

    for r in &mut results {
        if let Some(reason) = report.known.reason(&r.key) {
            r.known_reason = Some(reason.to_owned());
            r.outcome = match r.outcome {
                Outcome::Pass => Outcome::XPass,
                Outcome::Fail => Outcome::XFail,
                other => other,
            };
        }
    }
    results.sort_by(|a, b| a.category.cmp(&b.category).then_with(|| a.key.cmp(&b.key)));
    report.results = results;
    report
}

async fn run_one(found: &Discovered, runner: &dyn Runner, opts: &Options) -> CaseResult {
    let mut result = CaseResult {
        key: found.key.clone(),
        category: found.category.clone(),
        id: None,
        kind: None,
        features: Vec::new(),
        outcome: Outcome::Fail,
        reason: None,
        known_reason: None,
        history: HistoryCheck::NotRecorded,
        duration: Duration::ZERO,
    };
    let case = match &found.case {
        Ok(case) => case,
        Err(e) => {
            result.reason = Some(e.to_string());
            return result;
        }
    };
    result.id = Some(case.id.clone());
    result.kind = Some(case.kind());
    result.features = case.features.clone();

    let start = Instant::now();
    let attempt = match std::panic::catch_unwind(AssertUnwindSafe(|| runner.run(case))) {
        Ok(future) => tokio::time::timeout(opts.timeout, AssertUnwindSafe(future).catch_unwind()).await,
        Err(panic) => Ok(Err(panic)),
    };
    result.duration = start.elapsed();

    let verdict = match attempt {
        Err(_) => Verdict::Fail(format!("timed out after {:?}", opts.timeout)),
        Ok(Err(panic)) => Verdict::Fail(format!("runner panicked: {}", panic_message(panic.as_ref()))),
        Ok(Ok(actual)) => {
            result.history = compare::check_history(case, &actual);
            compare::check(case, &actual)
        }
    };
    if result.history == HistoryCheck::NotRecorded && has_recorded_history(case) {
        result.history = HistoryCheck::NotCompared;
    }
    (result.outcome, result.reason) = match verdict {
        Verdict::Pass => (Outcome::Pass, None),
        Verdict::Fail(reason) => (Outcome::Fail, Some(reason)),
        Verdict::Skip(reason) => (Outcome::Skip, Some(reason)),
    };
    result
}

fn has_recorded_history(case: &case::Case) -> bool {
    matches!(&case.spec, case::Spec::Execution(spec) if spec.expected_history.is_some())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Runs the cases as `legion conformance DIR... [--json FILE] [--known-failures FILE] [--filter S]
/// [--update-known-failures]` does: prints the report to standard output, rewrites the known-failures
/// file when asked, writes the JSON results when asked, and returns the exit status: 0 only when no
/// case failed unexpectedly, 1 when some did, 2 when a result file could not be written.
pub async fn run_cli(dirs: &[PathBuf], runner: &dyn Runner, opts: &Options) -> i32 {
    let mut report = run(dirs, runner, opts).await;
    let mut io_failed = false;
    let mut notes = Vec::new();

    if opts.update_known_failures {
        match &opts.known_failures {
            None => {
                notes.push("--update-known-failures needs --known-failures FILE".to_owned());
                io_failed = true;
            }
            Some(path) => {
                let (list, added, removed) = report.update_known_failures();
                match list.save(path) {
                    Ok(()) => notes.push(format!(
                        "known-failures: wrote {} ({} listed, {added} added, {removed} removed)",
                        path.display(),
                        list.len()
                    )),
                    Err(e) => {
                        notes.push(e.to_string());
                        io_failed = true;
                    }
                }
            }
        }
    }
    if let Some(path) = &opts.json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        if let Err(e) = fs::write(path, text + "\n") {
            notes.push(format!("cannot write {}: {e}", path.display()));
            io_failed = true;
        }
    }

    for note in &notes {
        println!("{note}");
    }
    print!("{}", report.render());
    if io_failed {
        2
    } else {
        report.exit_code()
    }
}
