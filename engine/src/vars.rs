//! Workflow variables and their scopes.
//!
//! The top level is one scope; each Parallel branch and each Map iteration opens an inner scope that
//! reads its parents' variables. A scope is copy-on-write: opening an inner scope costs two `Arc` clones.

use std::sync::Arc;

use legion_asl::path::VarLookup;
use serde_json::{Map, Value};

/// A variable scope with read access to its parents.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    local: Arc<Map<String, Value>>,
    parent: Option<Arc<Vars>>,
}

impl Vars {
    /// An empty top-level scope.
    pub fn new() -> Vars {
        Vars::default()
    }

    /// A top-level scope holding `values` (read back from a checkpoint).
    pub fn from_map(values: Map<String, Value>) -> Vars {
        Vars { local: Arc::new(values), parent: None }
    }

    /// This scope's own variables (at the top level, every variable).
    pub fn local(&self) -> &Map<String, Value> {
        &self.local
    }

    /// An inner scope whose parent is a snapshot of this one.
    pub fn child(&self) -> Vars {
        Vars { local: Arc::new(Map::new()), parent: Some(Arc::new(self.clone())) }
    }

    /// Assigns every member of `values` in this scope.
    pub fn assign(&mut self, values: Map<String, Value>) {
        let local = Arc::make_mut(&mut self.local);
        for (k, v) in values {
            local.insert(k, v);
        }
    }
}

impl VarLookup for Vars {
    fn lookup(&self, name: &str) -> Option<&Value> {
        let mut scope = self;
        loop {
            if let Some(v) = scope.local.get(name) {
                return Some(v);
            }
            scope = scope.parent.as_deref()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inner_scopes_read_outer_and_do_not_leak() {
        let mut outer = Vars::new();
        outer.assign(Map::from_iter([("a".to_owned(), json!(1))]));
        let mut inner = outer.child();
        inner.assign(Map::from_iter([("b".to_owned(), json!(2))]));
        assert_eq!(inner.lookup("a"), Some(&json!(1)));
        assert_eq!(inner.lookup("b"), Some(&json!(2)));
        assert_eq!(outer.lookup("b"), None);
        outer.assign(Map::from_iter([("a".to_owned(), json!(3))]));
        assert_eq!(inner.lookup("a"), Some(&json!(1)), "a child keeps the snapshot it was opened with");
    }
}
