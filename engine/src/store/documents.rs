//! [`DocumentStore`]: what a server keeps beside executions (state machines, activities, the
//! definition each execution ran), as JSON documents by kind and key, in the same backend.

use async_trait::async_trait;

use super::StoreError;

/// The kinds of documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DocumentKind {
    /// A state machine with its revisions, versions, aliases and tags, by name.
    StateMachine,
    /// An activity with its tags, by ARN.
    Activity,
    /// The state machine revision an execution ran, by execution ARN.
    ExecutionSnapshot,
}

impl DocumentKind {
    /// The name a backend files documents of this kind under.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::StateMachine => "state-machine",
            DocumentKind::Activity => "activity",
            DocumentKind::ExecutionSnapshot => "execution-snapshot",
        }
    }
}

/// One change to the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentChange {
    /// Sets the document of `kind` at `key` to `value` (JSON text).
    Put {
        /// The kind.
        kind: DocumentKind,
        /// The key.
        key: String,
        /// The document, JSON text.
        value: String,
    },
    /// Removes the document of `kind` at `key` (nothing when absent).
    Delete {
        /// The kind.
        kind: DocumentKind,
        /// The key.
        key: String,
    },
}

/// Keeps documents durably; `apply` writes a list of changes in one transaction.
#[async_trait]
pub trait DocumentStore: Send + Sync + 'static {
    /// Applies `changes`, in order, in one transaction.
    async fn apply(&self, changes: Vec<DocumentChange>) -> Result<(), StoreError>;
    /// Every document of `kind`, as `(key, JSON text)`.
    async fn load(&self, kind: DocumentKind) -> Result<Vec<(String, String)>, StoreError>;
}
