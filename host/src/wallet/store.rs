//! The wallet's own SQL: histories and payout records (the ledger's is in `ledger`).

use crate::db::Conn;

use super::ledger::wallet_account;
use super::payouts::PayoutStatus;
use crate::db::{now_ms, rfc3339, Db};

/// One transfer as seen from a wallet: negative amounts left it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletEntry {
    pub id: String,
    pub amount_cents: i64,
    /// How much of it was credit (not withdrawable).
    pub credit_cents: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    /// The hold, job, task or payout this transfer belongs to.
    pub ref_id: Option<String>,
    pub balance_after: i64,
    pub created_at: String,
}

/// The wallet's most recent transfers, newest first.
pub async fn history(db: &Db, agent_id: &str, limit: i64) -> Result<Vec<WalletEntry>, sqlx::Error> {
    let rows = crate::db::query(
        "SELECT id, amount, promo, kind, description, ref_id, balance_after, created_at FROM ( \
           SELECT id, -amount AS amount, -promo_amount AS promo, kind, description, ref_id, \
                  debit_balance_after AS balance_after, created_at \
             FROM transfers WHERE debit_account = $1 \
           UNION ALL \
           SELECT id, amount, promo_amount AS promo, kind, description, ref_id, \
                  credit_balance_after AS balance_after, created_at \
             FROM transfers WHERE credit_account = $1 \
         ) t ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(wallet_account(agent_id))
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .iter()
        .map(|r| WalletEntry {
            id: r.get("id"),
            amount_cents: r.get("amount"),
            credit_cents: r.get("promo"),
            kind: r.get("kind"),
            description: r.get("description"),
            ref_id: r.get("ref_id"),
            balance_after: r.get("balance_after"),
            created_at: rfc3339(r.get("created_at")),
        })
        .collect())
}

pub struct NewPayout<'a> {
    pub id: &'a str,
    pub agent_id: &'a str,
    pub amount: i64,
    pub provider: &'a str,
    pub transfer_id: &'a str,
}

pub async fn insert_payout(conn: &mut Conn, p: &NewPayout<'_>) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO payouts (id, agent_id, amount, status, provider, transfer_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(p.id)
    .bind(p.agent_id)
    .bind(p.amount)
    .bind(PayoutStatus::Pending.as_str())
    .bind(p.provider)
    .bind(p.transfer_id)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_payout_status(
    db: &Db,
    id: &str,
    status: PayoutStatus,
    provider_ref: Option<&str>,
) -> Result<(), sqlx::Error> {
    db.execute(
        crate::db::query("UPDATE payouts SET status = $1, provider_ref = $2, updated_at = $3 WHERE id = $4")
            .bind(status.as_str())
            .bind(provider_ref)
            .bind(now_ms())
            .bind(id),
    )
    .await?;
    Ok(())
}

pub struct PayoutRow {
    pub id: String,
    pub amount: i64,
    pub status: String,
    pub provider: String,
    pub transfer_id: String,
    pub created_at: i64,
}

/// The agent's latest payouts, newest first.
pub async fn payouts_of(db: &Db, agent_id: &str, limit: i64) -> Result<Vec<PayoutRow>, sqlx::Error> {
    let rows = crate::db::query(
        "SELECT id, amount, status, provider, transfer_id, created_at FROM payouts WHERE agent_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(agent_id)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .iter()
        .map(|r| PayoutRow {
            id: r.get("id"),
            amount: r.get("amount"),
            status: r.get("status"),
            provider: r.get("provider"),
            transfer_id: r.get("transfer_id"),
            created_at: r.get("created_at"),
        })
        .collect())
}
