//! The known-failures list: cases that are expected to fail for now, each with a reason.
//!
//! The file holds one case key a line, optionally followed by `# reason`:
//!
//! ```text
//! # Cases the engine does not pass yet.
//! scenarios_test_base_scenarios__TestBaseScenarios__test_wait_timestamp_path__NO_Z  # wrong cause text
//! services_test_lambda_task__TestTaskLambda__test_invoke_pipe
//! ```
//!
//! Blank lines and lines starting with `#` are ignored. A listed case that fails is reported as
//! `XFAIL` and does not fail the run; a listed case that passes is reported as `XPASS` and does fail
//! it, so the list can only shrink. A listed key that matches no case file is an error.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a known-failures file could not be used.
#[derive(Debug, Error)]
pub enum KnownFailuresError {
    /// The file could not be read or written.
    #[error("known-failures file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A line is not `<case-key>` optionally followed by `# reason`.
    #[error("known-failures line {line}: expected `<case-key>  # reason`, found {text:?}")]
    Malformed {
        /// The line number, from 1.
        line: usize,
        /// The line.
        text: String,
    },
    /// A key is listed twice.
    #[error("known-failures line {line}: {key} is already listed")]
    Duplicate {
        /// The line number, from 1.
        line: usize,
        /// The key.
        key: String,
    },
}

const DEFAULT_HEADER: &[&str] = &[
    "# Conformance cases known to fail, one `<case-key>  # reason` a line.",
    "# A listed case that passes fails the run until its line is removed.",
];

/// A parsed known-failures list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownFailures {
    entries: BTreeMap<String, String>,
    header: Vec<String>,
}

impl KnownFailures {
    /// Parses the text of a known-failures file.
    pub fn parse(text: &str) -> Result<Self, KnownFailuresError> {
        let mut list = Self::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.starts_with('#') {
                if list.entries.is_empty() {
                    list.header.push(line.to_owned());
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let (key, reason) = match line.split_once('#') {
                Some((key, reason)) => (key.trim(), reason.trim()),
                None => (line, ""),
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(KnownFailuresError::Malformed { line: i + 1, text: raw.to_owned() });
            }
            if list.entries.insert(key.to_owned(), reason.to_owned()).is_some() {
                return Err(KnownFailuresError::Duplicate { line: i + 1, key: key.to_owned() });
            }
        }
        Ok(list)
    }

    /// Reads and parses a known-failures file.
    pub fn load(path: &Path) -> Result<Self, KnownFailuresError> {
        let text =
            fs::read_to_string(path).map_err(|source| KnownFailuresError::Io { path: path.to_owned(), source })?;
        Self::parse(&text)
    }

    /// Writes the list to `path` (see [`KnownFailures::render`]).
    pub fn save(&self, path: &Path) -> Result<(), KnownFailuresError> {
        fs::write(path, self.render()).map_err(|source| KnownFailuresError::Io { path: path.to_owned(), source })
    }

    /// The file text: the leading comment lines of the parsed file (or a default header), then the
    /// entries sorted by key.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let header: Vec<&str> = if self.header.is_empty() {
            DEFAULT_HEADER.to_vec()
        } else {
            self.header.iter().map(String::as_str).collect()
        };
        for line in header {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        for (key, reason) in &self.entries {
            out.push_str(key);
            if !reason.is_empty() {
                out.push_str("  # ");
                out.push_str(&reason.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            out.push('\n');
        }
        out
    }

    /// True when `key` is listed.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The reason given for `key` (empty when none), if listed.
    pub fn reason(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// The listed keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The number of listed keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lists `key` with `reason`, replacing an earlier reason.
    pub fn insert(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.entries.insert(key.into(), reason.into());
    }

    /// Removes `key`; true when it was listed.
    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_reasons_comments_and_blank_lines() {
        let list =
            KnownFailures::parse("# header\n# more\n\ncase_a  # wrong cause\n  case_b\n# later\ncase_c#x\n").unwrap();
        assert_eq!(list.keys().collect::<Vec<_>>(), ["case_a", "case_b", "case_c"]);
        assert_eq!(list.reason("case_a"), Some("wrong cause"));
        assert_eq!(list.reason("case_b"), Some(""));
        assert_eq!(list.reason("case_c"), Some("x"));
        assert_eq!(list.reason("case_d"), None);
        assert_eq!(list.render(), "# header\n# more\n\ncase_a  # wrong cause\ncase_b\ncase_c  # x\n");
    }

    #[test]
    fn rejects_malformed_and_duplicate_lines() {
        assert!(matches!(KnownFailures::parse("a b # reason\n"), Err(KnownFailuresError::Malformed { line: 1, .. })));
        assert!(matches!(KnownFailures::parse("# x\n  # only reason\n# y\n"), Ok(l) if l.is_empty()));
        assert!(matches!(KnownFailures::parse("a\n\na # again\n"), Err(KnownFailuresError::Duplicate { line: 3, .. })));
    }

    #[test]
    fn default_header_for_new_lists() {
        let mut list = KnownFailures::default();
        list.insert("k", "multi\nline  reason");
        assert!(list.render().starts_with("# Conformance cases known to fail"));
        assert!(list.render().ends_with("\nk  # multi line reason\n"));
    }
}
