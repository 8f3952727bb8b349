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
    /// The state machine revision an execution ran, by execution ARN: written by earlier versions,
    /// still read; executions now name what they ran by [`ExecutionRecord::revision_id`].
    ///
    /// [`ExecutionRecord::revision_id`]: crate::ExecutionRecord::revision_id
    ExecutionSnapshot,
    /// A state machine revision that executions ran, by revision id: written once, at the first
    /// execution of the revision.
    Revision,
}

impl DocumentKind {
    /// The name a backend files documents of this kind under.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::StateMachine => "state-machine",
            DocumentKind::Activity => "activity",
            DocumentKind::ExecutionSnapshot => "execution-snapshot",
            DocumentKind::Revision => "revision",
        }
    }

    /// The kind a backend filed under `name`.
    pub fn parse(name: &str) -> Option<DocumentKind> {
        [DocumentKind::StateMachine, DocumentKind::Activity, DocumentKind::ExecutionSnapshot, DocumentKind::Revision]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// What changed in a shared store since a mark: see [`DocumentStore::changes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentChanges {
    /// The mark to ask from next time.
    pub mark: u64,
    /// The changes, oldest first.
    pub changes: Vec<DocumentChange>,
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
    /// For a store several instances share: the changes any of them made after `after` (`None`: no
    /// changes, only the current mark). A store one process owns has none (the default).
    async fn changes(&self, _after: Option<u64>) -> Result<DocumentChanges, StoreError> {
        Ok(DocumentChanges::default())
    }
    /// Whether other instances write to it too (then a reader asks for [`changes`](Self::changes)).
    fn shared(&self) -> bool {
        false
    }
}
