//! The per-agent key-value store behind the `kv` capability, kept in the database with a
//! byte quota per namespace (an agent id). A key and its value count toward the quota.

use futures::future::BoxFuture;
use sqlx::Row;

use crate::db::{now_ms, Backend, Db};
use crate::runtime::{KvError, KvStore};

pub const MAX_KEY_BYTES: usize = 512;
pub const MAX_VALUE_BYTES: usize = 1 << 20;

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
        let mut tx = self.db.begin().await.map_err(failed)?;
        if self.db.backend == Backend::Postgres {
            // One writer per namespace at a time, so two writes cannot both squeeze under the quota.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(ns)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN kv_key = $2 THEN size_bytes ELSE 0 END), 0) AS BIGINT) \
             FROM kv_entries WHERE namespace = $1",
        )
        .bind(ns)
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;
        let (used, old): (i64, i64) = (row.get(0), row.get(1));
        if used - old + size > self.quota_bytes {
            return Err(KvError::QuotaExceeded(format!(
                "{} of {} bytes used; this write needs {size}",
                used - old,
                self.quota_bytes
            )));
        }
        sqlx::query(
            "INSERT INTO kv_entries (namespace, kv_key, kv_value, size_bytes, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (namespace, kv_key) DO UPDATE SET kv_value = excluded.kv_value, \
             size_bytes = excluded.size_bytes, updated_at = excluded.updated_at",
        )
        .bind(ns)
        .bind(key)
        .bind(value)
        .bind(size)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)
    }
}

impl KvStore for DbKv {
    fn get<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, KvError>> {
        Box::pin(async move {
            Ok(sqlx::query("SELECT kv_value FROM kv_entries WHERE namespace = $1 AND kv_key = $2")
                .bind(ns)
                .bind(key)
                .fetch_optional(&self.db.read)
                .await
                .map_err(failed)?
                .map(|r| r.get(0)))
        })
    }

    fn set<'a>(&'a self, ns: &'a str, key: &'a str, value: Vec<u8>) -> BoxFuture<'a, Result<(), KvError>> {
        Box::pin(self.put(ns, key, value))
    }

    fn delete<'a>(&'a self, ns: &'a str, key: &'a str) -> BoxFuture<'a, Result<bool, KvError>> {
        Box::pin(async move {
            Ok(sqlx::query("DELETE FROM kv_entries WHERE namespace = $1 AND kv_key = $2")
                .bind(ns)
                .bind(key)
                .execute(&self.db.write)
                .await
                .map_err(failed)?
                .rows_affected()
                == 1)
        })
    }

    fn list_keys<'a>(&'a self, ns: &'a str, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, KvError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT kv_key FROM kv_entries WHERE namespace = $1 AND SUBSTR(kv_key, 1, CAST($2 AS INTEGER)) = $3 \
                 ORDER BY kv_key LIMIT 1000",
            )
            .bind(ns)
            .bind(prefix.chars().count() as i64)
            .bind(prefix)
            .fetch_all(&self.db.read)
            .await
            .map_err(failed)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }
}
