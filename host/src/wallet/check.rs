//! Verifies the ledger's invariants on one consistent snapshot.

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use crate::db::{Backend, Db};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerReport {
    pub ok: bool,
    pub accounts: i64,
    pub transfers: i64,
    /// Sum of every account balance; zero in a sound ledger.
    pub total_cents: i64,
    /// Money held by agents in their wallets.
    pub wallets_cents: i64,
    /// Money in escrow for open holds.
    pub escrow_cents: i64,
    pub problems: Vec<String>,
}

pub async fn check(db: &Db) -> Result<LedgerReport, sqlx::Error> {
    let mut tx = db.read.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
    }
    let mut problems = Vec::new();
    let scalar = |sql: &'static str| sqlx::query(sql);

    let row = scalar(
        "SELECT COUNT(*), CAST(COALESCE(SUM(balance), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'wallet' THEN balance ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'escrow' THEN balance ELSE 0 END), 0) AS BIGINT) \
         FROM accounts",
    )
    .fetch_one(&mut *tx)
    .await?;
    let (accounts, total, wallets, escrow): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    if total != 0 {
        problems.push(format!("balances sum to {total}, not 0"));
    }
    let transfers: i64 = scalar("SELECT COUNT(*) FROM transfers").fetch_one(&mut *tx).await?.get(0);

    for row in scalar(
        "SELECT id, balance, promo_balance FROM accounts \
         WHERE allow_negative = 0 AND (balance < 0 OR promo_balance < 0 OR promo_balance > balance)",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        let (id, b, p): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        problems.push(format!("account {id} has balance {b} and sign-up credit {p}"));
    }

    for row in scalar(
        "SELECT a.id, a.balance, CAST(COALESCE(c.s, 0) - COALESCE(d.s, 0) AS BIGINT) \
         FROM accounts a \
         LEFT JOIN (SELECT credit_account AS id, SUM(amount) AS s FROM transfers GROUP BY credit_account) c ON c.id = a.id \
         LEFT JOIN (SELECT debit_account AS id, SUM(amount) AS s FROM transfers GROUP BY debit_account) d ON d.id = a.id \
         WHERE a.balance <> COALESCE(c.s, 0) - COALESCE(d.s, 0)",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        let (id, b, sum): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        problems.push(format!("account {id} has balance {b} but its transfers sum to {sum}"));
    }

    for row in scalar(
        "SELECT h.id, h.status, h.amount, a.balance FROM holds h JOIN accounts a ON a.id = h.escrow_account \
         WHERE (h.status = 'held' AND a.balance <> h.amount) OR (h.status <> 'held' AND a.balance <> 0)",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        let (id, status, amount, b): (String, String, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
        problems.push(format!("hold {id} is {status} for {amount} but its escrow holds {b}"));
    }
    tx.commit().await?;
    Ok(LedgerReport {
        ok: problems.is_empty(),
        accounts,
        transfers,
        total_cents: total,
        wallets_cents: wallets,
        escrow_cents: escrow,
        problems,
    })
}
