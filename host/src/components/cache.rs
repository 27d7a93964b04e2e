//! Component rows by id, so that running a component does not read its row every time.
//!
//! A published component never changes and is never deleted, so an entry never goes stale and
//! needs no expiry. Bounded by count: when full, the cache is emptied and refills from the
//! database as components run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::model::ComponentRow;
use super::store;
use crate::db::Db;

pub struct ComponentCache {
    max_entries: usize,
    rows: Mutex<HashMap<String, Arc<ComponentRow>>>,
}

impl ComponentCache {
    pub fn new(max_entries: usize) -> ComponentCache {
        ComponentCache { max_entries, rows: Mutex::new(HashMap::new()) }
    }

    /// The component's row, from the cache or else from the database.
    pub async fn get(&self, db: &Db, id: &str) -> Result<Option<Arc<ComponentRow>>, sqlx::Error> {
        if let Some(row) = self.cached(id) {
            return Ok(Some(row));
        }
        let Some(row) = store::get(db, id).await? else { return Ok(None) };
        Ok(Some(self.remember(row)))
    }

    fn remember(&self, row: ComponentRow) -> Arc<ComponentRow> {
        let row = Arc::new(row);
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if rows.len() >= self.max_entries {
            rows.clear();
        }
        rows.insert(row.id.clone(), row.clone());
        row
    }

    fn cached(&self, id: &str) -> Option<Arc<ComponentRow>> {
        self.rows.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> ComponentRow {
        ComponentRow {
            id: id.into(),
            publisher_id: "p".into(),
            publisher_name: "p".into(),
            kind: "agent".into(),
            name: "n".into(),
            version: "1.0.0".into(),
            description: String::new(),
            digest: format!("digest-{id}"),
            size_bytes: 1,
            grants: "{}".into(),
            imports: "[]".into(),
            signature: None,
            created_at: 0,
        }
    }

    #[test]
    fn rows_are_kept_by_id_and_the_cache_stays_bounded() {
        let cache = ComponentCache::new(2);
        cache.remember(row("a"));
        cache.remember(row("b"));
        assert_eq!(cache.cached("a").map(|r| r.digest.clone()), Some("digest-a".into()));
        cache.remember(row("c"));
        assert!(cache.rows.lock().unwrap().len() <= 2);
        assert_eq!(cache.cached("c").map(|r| r.digest.clone()), Some("digest-c".into()));
        assert!(cache.cached("missing").is_none());
    }
}
