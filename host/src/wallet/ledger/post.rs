//! Movements of money: each is an immutable transfer row; the accounts it touches change by
//! conditional balance updates, one per account however many movements touch it.
//!
//! Every account has a balance and the part of it that is credit (`promo_balance`: sign-up
//! credits and deposits without a payment behind them). Credit travels with the money: a
//! movement says how much of its amount is credit, the debited account gives up that much
//! credit and the credited account receives it. So no chain of movements turns credit into
//! withdrawable cash; only a withdrawal takes cash alone.
//!
//! The platform's own accounts (the sources money comes from and the sinks it goes to) keep no
//! stored balance: theirs is the sum of their transfers. Nothing checks them for overdraft, and
//! a stored balance would be one row every operation updates, which serialises all writers.

use std::collections::BTreeMap;

use crate::db::Conn;

use super::{LedgerError, Transfer, SYSTEM_ACCOUNTS};
use crate::db::sql::placeholders;
use crate::db::{new_id, now_ms, Backend};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Debit {
    /// Out of a wallet or an escrow account, `promo` of it credit.
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

/// True for the platform's accounts whose balance is the sum of their transfers.
pub fn balance_is_derived(account: &str) -> bool {
    SYSTEM_ACCOUNTS.contains(&account)
}

/// The credit held by each of `ids` (stored-balance accounts), locking their rows in id order
/// on PostgreSQL so that concurrent postings cannot deadlock. One statement.
pub(super) async fn credit_of(
    conn: &mut Conn,
    backend: Backend,
    ids: &[&str],
) -> Result<BTreeMap<String, i64>, LedgerError> {
    let mut sorted: Vec<&str> = ids.iter().copied().filter(|id| !balance_is_derived(id)).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let sql = format!(
        "SELECT id, promo_balance FROM accounts WHERE id IN ({}) ORDER BY id{}",
        placeholders(1, sorted.len()),
        if backend == Backend::Postgres { " FOR UPDATE" } else { "" }
    );
    let mut query = crate::db::query(&sql);
    for id in &sorted {
        query = query.bind(*id);
    }
    let found: BTreeMap<String, i64> =
        query.fetch_all(&mut *conn).await?.iter().map(|r| (r.get("id"), r.get("promo_balance"))).collect();
    match sorted.iter().find(|id| !found.contains_key(**id)) {
        Some(missing) => Err(LedgerError::UnknownAccount(missing.to_string())),
        None => Ok(found),
    }
}

/// How much of spending `amount` out of an account holding `credit` is credit: credit is
/// spent first.
pub(super) fn spent_credit(credit: i64, amount: i64) -> i64 {
    credit.clamp(0, amount.max(0))
}

/// The net change of one stored-balance account across the movements of a posting.
#[derive(Default)]
struct Change {
    balance: i64,
    promo: i64,
    cash_only: bool,
}

/// Posts `moves` in one go: one conditional `UPDATE` per stored-balance account, in id order
/// (so that concurrent postings on PostgreSQL lock rows in one order), then one `INSERT` of
/// every transfer row. Refused as a whole if any account would be overdrawn at the end.
pub(super) async fn post(conn: &mut Conn, moves: &[Move<'_>]) -> Result<Vec<Transfer>, LedgerError> {
    let mut changes: BTreeMap<&str, Change> = BTreeMap::new();
    for m in moves {
        if m.amount <= 0 || !(0..=m.amount).contains(&m.promo) {
            return Err(LedgerError::InvalidAmount);
        }
        if m.from == m.to {
            return Err(LedgerError::SameAccount);
        }
        if !balance_is_derived(m.from) {
            let c = changes.entry(m.from).or_default();
            c.balance -= m.amount;
            c.promo -= m.promo;
            c.cash_only |= m.debit == Debit::CashOnly;
        }
        if !balance_is_derived(m.to) {
            let c = changes.entry(m.to).or_default();
            c.balance += m.amount;
            c.promo += m.promo;
        }
    }
    let mut after: BTreeMap<&str, i64> = BTreeMap::new();
    for (&account, change) in &changes {
        after.insert(account, apply(conn, account, change).await?);
    }

    // Each transfer row records the balances right after it: the final balance less what
    // the later movements changed.
    let created_at = now_ms();
    let mut transfers: Vec<Transfer> = Vec::with_capacity(moves.len());
    for (i, m) in moves.iter().enumerate() {
        let balance_after = |account: &str| -> i64 {
            let Some(last) = after.get(account) else { return 0 };
            let later: i64 = moves[i + 1..]
                .iter()
                .map(|n| {
                    if n.to == account {
                        n.amount
                    } else if n.from == account {
                        -n.amount
                    } else {
                        0
                    }
                })
                .sum();
            last - later
        };
        transfers.push(Transfer {
            id: new_id(),
            debit_account: m.from.to_string(),
            credit_account: m.to.to_string(),
            amount: m.amount,
            promo: m.promo,
            kind: m.kind,
            debit_balance_after: balance_after(m.from),
            credit_balance_after: balance_after(m.to),
            created_at,
        });
    }
    insert_transfers(conn, moves, &transfers).await?;
    Ok(transfers)
}

/// Applies one account's net change if it leaves the account within its limits; returns the
/// new balance.
async fn apply(conn: &mut Conn, account: &str, change: &Change) -> Result<i64, LedgerError> {
    let updated = crate::db::query(
        "UPDATE accounts SET balance = balance + $1, promo_balance = promo_balance + $2 \
         WHERE id = $3 AND promo_balance + $2 >= 0 \
         AND (allow_negative = 1 OR (balance + $1 >= 0 AND promo_balance + $2 <= balance + $1)) \
         RETURNING balance",
    )
    .bind(change.balance)
    .bind(change.promo)
    .bind(account)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = updated {
        return Ok(row.get("balance"));
    }
    let exists =
        crate::db::query("SELECT id FROM accounts WHERE id = $1").bind(account).fetch_optional(&mut *conn).await?;
    Err(match exists {
        None => LedgerError::UnknownAccount(account.to_string()),
        Some(_) if change.cash_only => LedgerError::NotWithdrawable,
        Some(_) => LedgerError::InsufficientFunds,
    })
}

async fn insert_transfers(conn: &mut Conn, moves: &[Move<'_>], transfers: &[Transfer]) -> Result<(), LedgerError> {
    const COLUMNS: usize = 11;
    let rows: Vec<String> =
        (0..transfers.len()).map(|r| format!("({})", placeholders(r * COLUMNS + 1, COLUMNS))).collect();
    let sql = format!(
        "INSERT INTO transfers (id, debit_account, credit_account, amount, promo_amount, kind, description, \
         ref_id, debit_balance_after, credit_balance_after, created_at) VALUES {}",
        rows.join(", ")
    );
    let mut query = crate::db::query(&sql);
    for (t, m) in transfers.iter().zip(moves) {
        query = query
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
            .bind(t.created_at);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
