//! Idempotency keys with Stripe's semantics, the storage half (the HTTP half is
//! `http::idempotency`).
//!
//! A request with a key first claims it: a row with a random fencing token and a short lease,
//! which the request keeps renewing while it runs. A money operation records its answer
//! (status and body) through its `Answer` in the same transaction that moves the money, and
//! only if the claim is still its own; so an answer exists exactly when the operation
//! committed. If the process dies mid-request the lease runs out, and a retry takes the claim
//! over and executes once; if the operation committed first, the retry replays its answer.

use std::time::Duration;

use crate::db::Conn;

use crate::db::{now_ms, Db};
use crate::secrets::random_token;
use crate::transaction;

/// How long an unanswered key is kept.
pub const RETENTION_MS: i64 = 24 * 3600 * 1000;

/// An answer to replay: status code and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub status: u16,
    pub body: String,
}

/// A key claimed by the running request.
pub struct Claim {
    pub scope: String,
    pub key: String,
    token: String,
    lease: Duration,
}

/// What a claim attempt found.
pub enum Claimed {
    /// Ours: run the request.
    Fresh(Claim),
    /// The same request answered before.
    Replay(Recorded),
    /// The same key with a different request.
    Reused,
    /// The same request is running elsewhere (its lease has not run out).
    InProgress,
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The lease ran out and a retry took the key over: this request must not commit.
    #[error("this Idempotency-Key was taken over by a retry while the request ran")]
    Lost,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

crate::transient_through!(IdempotencyError: Db);

/// Claims `key` for a request hashing to `request_hash`. A record past retention, or an
/// unanswered one of the same request whose lease ran out, is claimed over.
pub async fn claim(
    db: &Db,
    scope: &str,
    key: &str,
    request_hash: &str,
    lease: Duration,
) -> Result<Claimed, sqlx::Error> {
    let now = now_ms();
    let token = random_token(24);
    let until = now + lease.as_millis() as i64;
    // A unit of the group commit like the operation after it: a concurrent request with the
    // same key runs after this one in the same lane, or waits on the key's row in another.
    let claimed = transaction!(db, |c| claim_in(c, scope, key, request_hash, &token, now, until))?;
    Ok(claimed.unwrap_or_else(|| Claimed::Fresh(Claim { scope: scope.into(), key: key.into(), token, lease })))
}

/// Claims the key, or says what holds it; `None` when this request now holds it.
async fn claim_in(
    conn: &mut Conn,
    scope: &str,
    key: &str,
    request_hash: &str,
    token: &str,
    now: i64,
    until: i64,
) -> Result<Option<Claimed>, sqlx::Error> {
    let taken = crate::db::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, claim_token, locked_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (scope, idem_key) DO UPDATE SET request_hash = excluded.request_hash, \
         claim_token = excluded.claim_token, locked_until = excluded.locked_until, status_code = NULL, \
         response_body = NULL, created_at = excluded.created_at \
         WHERE idempotency_keys.created_at < $7 OR (idempotency_keys.status_code IS NULL \
           AND idempotency_keys.locked_until < $6 AND idempotency_keys.request_hash = excluded.request_hash)",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(token)
    .bind(until)
    .bind(now)
    .bind(now - RETENTION_MS)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if taken {
        return Ok(None);
    }
    let row = crate::db::query(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = $1 AND idem_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    if row.get::<String, _>("request_hash") != request_hash {
        return Ok(Some(Claimed::Reused));
    }
    Ok(Some(match (row.get::<Option<i64>, _>("status_code"), row.get::<Option<String>, _>("response_body")) {
        (Some(status), Some(body)) => Claimed::Replay(Recorded { status: status.clamp(100, 599) as u16, body }),
        _ => Claimed::InProgress,
    }))
}

impl Claim {
    /// How often the running request renews its lease.
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    /// Extends the lease; false if the claim is no longer ours.
    pub async fn renew(&self, db: &Db) -> Result<bool, sqlx::Error> {
        Ok(db.execute(crate::db::query(
            "UPDATE idempotency_keys SET locked_until = $1 WHERE scope = $2 AND idem_key = $3 AND claim_token = $4",
        )
        .bind(now_ms() + self.lease.as_millis() as i64)
        .bind(&self.scope)
        .bind(&self.key)
        .bind(&self.token))
        .await?
        .rows_affected()
            == 1)
    }

    /// Stores the answer in the caller's transaction, if the claim is still ours.
    pub async fn record_in(&self, conn: &mut Conn, answer: Recorded) -> Result<(), IdempotencyError> {
        let stored = crate::db::query(
            "UPDATE idempotency_keys SET status_code = $1, response_body = $2, locked_until = NULL \
             WHERE scope = $3 AND idem_key = $4 AND claim_token = $5 AND status_code IS NULL",
        )
        .bind(i64::from(answer.status))
        .bind(&answer.body)
        .bind(&self.scope)
        .bind(&self.key)
        .bind(&self.token)
        .execute(conn)
        .await?
        .rows_affected()
            == 1;
        if stored {
            Ok(())
        } else {
            Err(IdempotencyError::Lost)
        }
    }

    /// The answer committed through this claim, if the operation recorded one.
    pub async fn committed(&self, db: &Db) -> Result<Option<Recorded>, sqlx::Error> {
        let row = crate::db::query(
            "SELECT status_code, response_body FROM idempotency_keys \
             WHERE scope = $1 AND idem_key = $2 AND claim_token = $3 AND status_code IS NOT NULL",
        )
        .bind(&self.scope)
        .bind(&self.key)
        .bind(&self.token)
        .fetch_optional(&db.read)
        .await?;
        Ok(row.map(|r| Recorded {
            status: r.get::<i64, _>("status_code").clamp(100, 599) as u16,
            body: r.get::<Option<String>, _>("response_body").unwrap_or_default(),
        }))
    }

    /// Records an answer by itself: for outcomes that changed nothing (refusals).
    pub async fn record(&self, db: &Db, answer: Recorded) -> Result<(), IdempotencyError> {
        crate::transaction!(db, |c| self.record_in(c, answer.clone()))
    }

    /// Gives the key up, so that it may be retried (outcomes that never started executing).
    pub async fn release(&self, db: &Db) -> Result<(), sqlx::Error> {
        db.execute(
            crate::db::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND claim_token = $3")
                .bind(&self.scope)
                .bind(&self.key)
                .bind(&self.token),
        )
        .await?;
        Ok(())
    }
}

/// How a money operation records its answer for retries: `render` turns the operation's
/// outcome into the answer the API gives, and `record_in` stores it in the operation's own
/// transaction. Without a claim (no `Idempotency-Key`) it does nothing.
pub struct Answer<'a, T> {
    claim: Option<&'a Claim>,
    render: fn(&T) -> Recorded,
}

impl<'a, T> Answer<'a, T> {
    pub fn new(claim: Option<&'a Claim>, render: fn(&T) -> Recorded) -> Self {
        Answer { claim, render }
    }

    /// For callers that are not HTTP requests (workers, the CLI, tests).
    pub fn none() -> Self {
        Answer { claim: None, render: |_| Recorded { status: 200, body: String::new() } }
    }

    pub async fn record_in(&self, conn: &mut Conn, outcome: &T) -> Result<(), IdempotencyError> {
        match self.claim {
            Some(claim) => claim.record_in(conn, (self.render)(outcome)).await,
            None => Ok(()),
        }
    }
}

pub const PURGE_EXPIRED: crate::scheduler::KindSpec =
    crate::scheduler::KindSpec::every("idempotency.purge_expired", std::time::Duration::from_secs(60));

/// Purges expired keys every minute.
pub fn register(jobs: &mut crate::scheduler::Registry<crate::state::App>) {
    jobs.add(PURGE_EXPIRED, |app, _| async move { purge_expired(&app.db).await.map(drop).map_err(|e| e.to_string()) });
}

/// Forgets keys older than the retention period; returns how many.
pub async fn purge_expired(db: &Db) -> Result<u64, sqlx::Error> {
    Ok(db
        .execute(crate::db::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(now_ms() - RETENTION_MS))
        .await?
        .rows_affected())
}
