//! One movement of money: two conditional balance updates and an immutable transfer row.
//!
//! Every account has a balance and the part of it that is credit (`promo_balance`: sign-up
//! credits and deposits without a payment behind them). Credit travels with the money: a
//! movement says how much of its amount is credit, the debited account gives up that much
//! credit and the credited account receives it. So no chain of movements turns credit into
//! withdrawable cash; only a withdrawal takes cash alone.

use sqlx::{AnyConnection, Row};

use super::{LedgerError, Transfer};
use crate::db::{new_id, now_ms, Backend};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Debit {
    /// Out of a source of money (the outside world, promotions): may go negative, keeps no
    /// credit of its own.
    Source,
    /// Out of a wallet or an escrow or platform account, `promo` of it credit.
    Account,
    /// Leaving the platform: only the part of the balance that is not credit.
    CashOnly,
}

pub(super) struct Move<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub amount: i64,
    /// How much of `amount` is credit.
    pub promo: i64,
    pub kind: &'static str,
    pub description: &'a str,
    pub ref_id: Option<&'a str>,
    pub debit: Debit,
}

/// Locks the given accounts in a fixed (sorted) order so that concurrent multi-account
/// transactions on PostgreSQL cannot deadlock. SQLite's single writer needs no locks.
pub(super) async fn lock_accounts(conn: &mut AnyConnection, backend: Backend, ids: &[&str]) -> Result<(), LedgerError> {
    if backend == Backend::Sqlite {
        return Ok(());
    }
    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for id in sorted {
        let found =
            sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(&mut *conn).await?;
        if found.is_none() {
            return Err(LedgerError::UnknownAccount(id.to_string()));
        }
    }
    Ok(())
}

/// The credit held by an (already locked) account.
pub(super) async fn promo_of(conn: &mut AnyConnection, account: &str) -> Result<i64, LedgerError> {
    sqlx::query("SELECT promo_balance FROM accounts WHERE id = $1")
        .bind(account)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get::<i64, _>("promo_balance"))
        .ok_or_else(|| LedgerError::UnknownAccount(account.to_string()))
}

/// How much of spending `amount` from an (already locked) account is credit: credit is
/// spent first.
pub(super) async fn spent_promo(conn: &mut AnyConnection, account: &str, amount: i64) -> Result<i64, LedgerError> {
    Ok(promo_of(conn, account).await?.clamp(0, amount.max(0)))
}

pub(super) async fn post(conn: &mut AnyConnection, m: Move<'_>) -> Result<Transfer, LedgerError> {
    if m.amount <= 0 || !(0..=m.amount).contains(&m.promo) {
        return Err(LedgerError::InvalidAmount);
    }
    if m.from == m.to {
        return Err(LedgerError::SameAccount);
    }
    let debit_sql = match m.debit {
        Debit::Source => "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND $3 >= 0 RETURNING balance",
        Debit::Account => {
            "UPDATE accounts SET balance = balance - $1, promo_balance = promo_balance - $3 \
             WHERE id = $2 AND (allow_negative = 1 OR balance >= $1) AND promo_balance >= $3 RETURNING balance"
        }
        Debit::CashOnly => {
            "UPDATE accounts SET balance = balance - $1 \
             WHERE id = $2 AND (allow_negative = 1 OR balance - promo_balance >= $1) AND $3 = 0 RETURNING balance"
        }
    };
    let debited = sqlx::query(debit_sql).bind(m.amount).bind(m.from).bind(m.promo).fetch_optional(&mut *conn).await?;
    let debit_after: i64 = match debited {
        Some(row) => row.get("balance"),
        None => {
            promo_of(conn, m.from).await?; // UnknownAccount if it does not exist
            return Err(match m.debit {
                Debit::CashOnly => LedgerError::NotWithdrawable,
                _ => LedgerError::InsufficientFunds,
            });
        }
    };
    let credit_after: i64 = sqlx::query(
        "UPDATE accounts SET balance = balance + $1, promo_balance = promo_balance + $2 \
         WHERE id = $3 RETURNING balance",
    )
    .bind(m.amount)
    .bind(m.promo)
    .bind(m.to)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.get("balance"))
    .ok_or_else(|| LedgerError::UnknownAccount(m.to.to_string()))?;

    let t = Transfer {
        id: new_id(),
        debit_account: m.from.to_string(),
        credit_account: m.to.to_string(),
        amount: m.amount,
        promo: m.promo,
        kind: m.kind,
        debit_balance_after: debit_after,
        credit_balance_after: credit_after,
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, \
         ref_id, debit_balance_after, credit_balance_after, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&t.id)
    .bind(&t.debit_account)
    .bind(&t.credit_account)
    .bind(t.amount)
    .bind(t.promo)
    .bind(t.kind)
    .bind(m.description)
    .bind(m.ref_id)
    .bind(t.debit_balance_after)
    .bind(t.credit_balance_after)
    .bind(t.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(t)
}
