//! The `kv` capability's port (`agora_runtime::KvStore`), served from the database with a
//! byte quota per namespace (an agent id). A key and its value count toward the quota.

use agora_runtime::{KvError, KvStore, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use futures::future::BoxFuture;

use super::store;
use crate::db::Db;

pub struct DbKv {
    pub db: Db,
    pub quota_bytes: i64,
}

fn failed(e: sqlx::Error) -> KvError {
    tracing::error!(error = %e, "kv store");
    KvError::Failed("storage error".into())
}

impl DbKv {
    async fn put(&self, ns: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(KvError::TooLarge(format!("keys are 1 to {MAX_KEY_BYTES} bytes")));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(KvError::TooLarge(format!("values are at most {MAX_VALUE_BYTES} bytes")));
        }
        let size = (key.len() + value.len()) as i64;
        let (backend, quota, value) = (self.db.backend, self.quota_bytes, &value);
        let used = crate::transaction!(self.db, |c| async move {
            let (used, old) = store::usage_in(&mut *c, backend, ns, key).await?;
            if used - old + size <= quota {
                store::put_in(c, ns, key, value.clone(), size).await?;
            }
            Ok::<_, sqlx::Error>(used - old)
        })
        .map_err(failed)?;
        if used + size > quota {
            return Err(KvError::QuotaExceeded(format!("{used} of {quota} bytes used; this write needs {size}")));
        }
        Ok(())
    }
}

impl KvStore for DbKv {
    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, KvError>> {
        Box::pin(async move { store::get(&self.db, ns, key).await.map_err(failed) })
    }

    fn set<'a>(&'a self, ns: &'a str, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<(), KvError>> {
        Box::pin(self.put(ns, key, value))
    }

    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool, KvError>> {
        Box::pin(async move { store::delete(&self.db, ns, key).await.map_err(failed) })
    }

    fn list_keys<'a>(&'a self, ns: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, KvError>> {
        Box::pin(async move { store::keys(&self.db, ns, prefix).await.map_err(failed) })
    }
}
