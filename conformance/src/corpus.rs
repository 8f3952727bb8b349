//! Where the recorded AWS cases are.
//!
//! The recorded cases are not part of the repository: they sit beside the checkout
//! (`../shared/conformance/cases`), or wherever `LEGION_CONFORMANCE_CASES` points. Tests that read
//! them skip with one line on standard error when they are absent, unless the variable is set: CI sets
//! it, so a missing corpus there fails instead of skipping.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable naming the recorded cases folder.
pub const CASES_ENV: &str = "LEGION_CONFORMANCE_CASES";

/// Where the recorded cases were looked for, and whether they are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Corpus {
    /// The folder holding the category folders (`pure`, `validation`…).
    Found(PathBuf),
    /// Not beside the checkout, and `LEGION_CONFORMANCE_CASES` is not set.
    Absent(PathBuf),
    /// `LEGION_CONFORMANCE_CASES` names something that is not a folder.
    Missing(PathBuf),
}

/// The checkout this crate was built from.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

/// Locates the recorded cases: `LEGION_CONFORMANCE_CASES` when set, else
/// `../shared/conformance/cases` beside the checkout.
pub fn locate() -> Corpus {
    match std::env::var_os(CASES_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_dir() {
                Corpus::Found(dir)
            } else {
                Corpus::Missing(dir)
            }
        }
        None => {
            let dir = workspace_root().join("../shared/conformance/cases");
            if dir.is_dir() {
                Corpus::Found(dir)
            } else {
                Corpus::Absent(dir)
            }
        }
    }
}

/// The recorded cases for the test named `test`, or `None` after one line on standard error saying
/// that it skipped and why. The line is written past the test harness's output capture, so it shows
/// in a plain `cargo test`.
///
/// # Panics
///
/// When `LEGION_CONFORMANCE_CASES` is set but names no folder: a run that asked for the corpus
/// must not pass by skipping.
pub fn for_test(test: &str) -> Option<PathBuf> {
    match locate() {
        Corpus::Found(dir) => Some(dir),
        Corpus::Absent(dir) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: the recorded AWS cases are not at {} (put them there or set {CASES_ENV})",
                dir.display()
            );
            None
        }
        Corpus::Missing(dir) => panic!("{CASES_ENV} is set to {}, which is not a folder", dir.display()),
    }
}
