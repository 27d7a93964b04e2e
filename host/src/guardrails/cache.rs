//! The policies that apply to an account, kept by each host for at most a second: a check reads
//! the database at most once a second per account, and a change is seen by every host within a
//! second (at once on the host that made it, which forgets everything it kept).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::model::Policy;
use super::store;
use crate::db::Db;

const LIFETIME: Duration = Duration::from_secs(1);
/// Accounts kept at most; past it the cache starts over.
const MAX_ACCOUNTS: usize = 100_000;

/// When an account's policies were read, and what they were.
type Kept = (Instant, Arc<Vec<Policy>>);

#[derive(Default)]
pub struct PolicyCache {
    kept: Mutex<HashMap<String, Kept>>,
}

impl PolicyCache {
    /// The operator's policies and the account's.
    pub async fn for_account(&self, db: &Db, agent_id: &str) -> Result<Arc<Vec<Policy>>, sqlx::Error> {
        if let Some((at, policies)) = self.kept.lock().unwrap_or_else(|e| e.into_inner()).get(agent_id) {
            if at.elapsed() < LIFETIME {
                return Ok(policies.clone());
            }
        }
        let policies = Arc::new(store::policies(db, agent_id).await?);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= MAX_ACCOUNTS {
            kept.clear();
        }
        kept.insert(agent_id.to_string(), (Instant::now(), policies.clone()));
        Ok(policies)
    }

    /// After a change on this host: every account's policies are read again.
    pub fn forget(&self) {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
