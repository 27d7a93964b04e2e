//! Verifies the ledger's invariants on one consistent snapshot.

use serde::Serialize;
use utoipa::ToSchema;

use super::ledger::{kind, EXTERNAL, SYSTEM_ACCOUNTS};
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
    /// The withdrawable part of it (wallet balances less credit).
    pub withdrawable_cents: i64,
    /// Money in escrow for open holds.
    pub escrow_cents: i64,
    /// Funded money that came in (operator deposits, confirmed payments).
    pub funded_in_cents: i64,
    /// Money withdrawn.
    pub paid_out_cents: i64,
    pub problems: Vec<String>,
}

pub async fn check(db: &Db) -> Result<LedgerReport, sqlx::Error> {
    let mut tx = db.read.begin().await?;
    if db.backend == Backend::Postgres {
        crate::db::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
    }
    let mut problems = Vec::new();

    // The platform's accounts keep no stored balance: theirs is the sum of their transfers.
    let system = SYSTEM_ACCOUNTS.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ");
    let row = crate::db::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(balance), 0) AS BIGINT) AS total, \
         CAST(COALESCE(SUM(CASE WHEN kind = 'wallet' THEN balance ELSE 0 END), 0) AS BIGINT) AS wallets, \
         CAST(COALESCE(SUM(CASE WHEN kind = 'wallet' THEN balance - promo_balance ELSE 0 END), 0) AS BIGINT) AS cash, \
         CAST(COALESCE(SUM(CASE WHEN kind = 'escrow' THEN balance ELSE 0 END), 0) AS BIGINT) AS escrow \
         FROM accounts",
    )
    .fetch_one(&mut *tx)
    .await?;
    let (accounts, stored, wallets, withdrawable, escrow): (i64, i64, i64, i64, i64) =
        (row.get("n"), row.get("total"), row.get("wallets"), row.get("cash"), row.get("escrow"));
    let mut total = stored;
    for row in crate::db::query(&format!(
        "SELECT a.id, a.allow_negative, a.balance, a.promo_balance, \
         CAST(COALESCE((SELECT SUM(amount) FROM transfers WHERE credit_account = a.id), 0) \
            - COALESCE((SELECT SUM(amount) FROM transfers WHERE debit_account = a.id), 0) AS BIGINT) AS derived \
         FROM accounts a WHERE a.id IN ({system})"
    ))
    .fetch_all(&mut *tx)
    .await?
    {
        let (id, allow_negative, b, p, derived): (String, i64, i64, i64, i64) = (
            row.get("id"),
            row.get("allow_negative"),
            row.get("balance"),
            row.get("promo_balance"),
            row.get("derived"),
        );
        if b != 0 || p != 0 {
            problems.push(format!("account {id} stores balance {b} and credit {p}; its balance is its transfers' sum"));
        }
        if allow_negative == 0 && derived < 0 {
            problems.push(format!("account {id} has balance {derived} from its transfers"));
        }
        total += derived;
    }
    if total != 0 {
        problems.push(format!("balances sum to {total}, not 0"));
    }
    let transfers: i64 = crate::db::query("SELECT COUNT(*) AS n FROM transfers").fetch_one(&mut *tx).await?.get("n");

    for row in crate::db::query(
        "SELECT id, balance, promo_balance FROM accounts \
         WHERE allow_negative = 0 AND (balance < 0 OR promo_balance < 0 OR promo_balance > balance)",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        let (id, b, p): (String, i64, i64) = (row.get("id"), row.get("balance"), row.get("promo_balance"));
        problems.push(format!("account {id} has balance {b} and credit {p}"));
    }

    for row in crate::db::query(&format!(
        "SELECT a.id, a.balance, CAST(COALESCE(c.s, 0) - COALESCE(d.s, 0) AS BIGINT) AS sum \
         FROM accounts a \
         LEFT JOIN (SELECT credit_account AS id, SUM(amount) AS s FROM transfers GROUP BY credit_account) c ON c.id = a.id \
         LEFT JOIN (SELECT debit_account AS id, SUM(amount) AS s FROM transfers GROUP BY debit_account) d ON d.id = a.id \
         WHERE a.id NOT IN ({system}) AND a.balance <> COALESCE(c.s, 0) - COALESCE(d.s, 0)"
    ))
    .fetch_all(&mut *tx)
    .await?
    {
        let (id, b, sum): (String, i64, i64) = (row.get("id"), row.get("balance"), row.get("sum"));
        problems.push(format!("account {id} has balance {b} but its transfers sum to {sum}"));
    }

    for row in crate::db::query(
        "SELECT h.id, h.status, h.amount, h.promo_amount, a.balance, a.promo_balance \
         FROM holds h JOIN accounts a ON a.id = h.escrow_account \
         WHERE (h.status = 'held' AND (a.balance <> h.amount OR a.promo_balance <> h.promo_amount)) \
            OR (h.status <> 'held' AND a.balance <> 0)",
    )
    .fetch_all(&mut *tx)
    .await?
    {
        let (id, status, amount, promo, b, p): (String, String, i64, i64, i64, i64) = (
            row.get("id"),
            row.get("status"),
            row.get("amount"),
            row.get("promo_amount"),
            row.get("balance"),
            row.get("promo_balance"),
        );
        problems
            .push(format!("hold {id} is {status} for {amount} ({promo} credit) but its escrow holds {b} ({p} credit)"));
    }

    // Withdrawable money can only have come from funded sources.
    let row = crate::db::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN debit_account = $1 THEN amount ELSE 0 END), 0) AS BIGINT) AS funded, \
         CAST(COALESCE(SUM(CASE WHEN kind = $2 THEN amount ELSE 0 END), 0) AS BIGINT) AS out FROM transfers",
    )
    .bind(EXTERNAL)
    .bind(kind::WITHDRAWAL)
    .fetch_one(&mut *tx)
    .await?;
    let (funded_in, paid_out): (i64, i64) = (row.get("funded"), row.get("out"));
    if withdrawable > funded_in - paid_out {
        problems.push(format!(
            "wallets may withdraw {withdrawable} but only {} of funded money came in and stayed (in {funded_in}, out {paid_out})",
            funded_in - paid_out
        ));
    }
    tx.commit().await?;
    Ok(LedgerReport {
        ok: problems.is_empty(),
        accounts,
        transfers,
        total_cents: total,
        wallets_cents: wallets,
        withdrawable_cents: withdrawable,
        escrow_cents: escrow,
        funded_in_cents: funded_in,
        paid_out_cents: paid_out,
        problems,
    })
}
