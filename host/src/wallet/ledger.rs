//! The double-entry ledger. Every movement of money is an immutable transfer between two
//! accounts; the sum of all balances is always zero. Accounts are agent wallets, one escrow
//! account per hold, and the platform's accounts (revenue, promotions, payouts in flight, the
//! outside world). Amounts are integer cents.
//!
//! Sign-up credits are tracked as a wallet's `promo_balance`: spending consumes them first,
//! a withdrawal may only take `balance - promo_balance`, and a refunded hold gives back the
//! promotional part it took, so credits can never be turned into withdrawable cash by
//! holding and releasing.

use sqlx::{AnyConnection, Row};

use crate::db::{new_id, now_ms, Backend, Db, Transient};
use crate::transaction;

pub const EXTERNAL: &str = "world:external";
pub const PROMOTIONS: &str = "platform:promotions";
pub const REVENUE: &str = "platform:revenue";
pub const PAYOUTS: &str = "platform:payouts";

pub fn wallet_account(agent_id: &str) -> String {
    format!("wallet:{agent_id}")
}

/// Transfer kinds, as shown in wallet histories.
pub mod kind {
    pub const SIGNUP_CREDIT: &str = "SIGNUP_CREDIT";
    pub const DEPOSIT: &str = "DEPOSIT";
    pub const WITHDRAWAL: &str = "WITHDRAWAL";
    pub const JOB_PAYMENT: &str = "JOB_PAYMENT";
    pub const JOB_EARNING: &str = "JOB_EARNING";
    pub const PLATFORM_FEE: &str = "PLATFORM_FEE";
    pub const REFUND: &str = "REFUND";
    pub const TRANSFER: &str = "TRANSFER";
    pub const COMPUTE: &str = "COMPUTE";
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("amount must be a positive number of cents")]
    InvalidAmount,
    #[error("cannot move money from an account to itself")]
    SameAccount,
    #[error("insufficient funds")]
    InsufficientFunds,
    #[error("insufficient withdrawable funds (sign-up credits cannot be withdrawn)")]
    NotWithdrawable,
    #[error("account {0} does not exist")]
    UnknownAccount(String),
    #[error("hold {0} does not exist")]
    UnknownHold(String),
    #[error("hold is already {0}")]
    HoldSettled(String),
    #[error("capture of {0} exceeds the held amount {1}")]
    CaptureTooLarge(i64, i64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl Transient for LedgerError {
    fn is_transient(&self) -> bool {
        matches!(self, LedgerError::Db(e) if e.is_transient())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Debit {
    /// Spending: sign-up credits are consumed first.
    Spend,
    /// Leaving the platform: only the part of the balance that is not sign-up credit.
    CashOnly,
    /// Out of an escrow or platform account (these never hold sign-up credit).
    Internal,
}

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: String,
    pub debit_account: String,
    pub credit_account: String,
    pub amount: i64,
    pub kind: &'static str,
    pub debit_balance_after: i64,
    pub credit_balance_after: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct Hold {
    pub id: String,
    pub payer_account: String,
    pub escrow_account: String,
    pub amount: i64,
    pub promo_amount: i64,
    pub status: String,
}

/// What a capture or release did.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    pub hold_id: String,
    pub paid_to_payee: i64,
    pub fee: i64,
    pub compute: i64,
    pub refunded: i64,
    pub transfers: Vec<Transfer>,
}

#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub balance_cents: i64,
    /// Sign-up credits left: spendable, not withdrawable.
    pub promo_cents: i64,
    pub withdrawable_cents: i64,
}

struct Move<'a> {
    from: &'a str,
    to: &'a str,
    amount: i64,
    kind: &'static str,
    description: &'a str,
    ref_id: Option<&'a str>,
    debit: Debit,
    /// Sign-up credit restored to (or granted to) the credited wallet.
    promo_credit: i64,
}

/// Locks the given accounts in a fixed (sorted) order so that concurrent multi-account
/// transactions on PostgreSQL cannot deadlock.
async fn lock_accounts(conn: &mut AnyConnection, backend: Backend, ids: &[&str]) -> Result<(), LedgerError> {
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

async fn promo_of(conn: &mut AnyConnection, account: &str) -> Result<i64, LedgerError> {
    sqlx::query("SELECT promo_balance FROM accounts WHERE id = $1")
        .bind(account)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.get::<i64, _>(0))
        .ok_or_else(|| LedgerError::UnknownAccount(account.to_string()))
}

async fn post(conn: &mut AnyConnection, m: Move<'_>) -> Result<Transfer, LedgerError> {
    if m.amount <= 0 {
        return Err(LedgerError::InvalidAmount);
    }
    if m.from == m.to {
        return Err(LedgerError::SameAccount);
    }
    let debit_sql = match m.debit {
        Debit::Spend => {
            "UPDATE accounts SET balance = balance - $1, \
             promo_balance = CASE WHEN promo_balance > $1 THEN promo_balance - $1 ELSE 0 END \
             WHERE id = $2 AND (allow_negative = 1 OR balance >= $1) RETURNING balance"
        }
        Debit::CashOnly => {
            "UPDATE accounts SET balance = balance - $1 \
             WHERE id = $2 AND (allow_negative = 1 OR balance - promo_balance >= $1) RETURNING balance"
        }
        Debit::Internal => {
            "UPDATE accounts SET balance = balance - $1 \
             WHERE id = $2 AND (allow_negative = 1 OR balance >= $1) RETURNING balance"
        }
    };
    let debit_after: i64 = match sqlx::query(debit_sql).bind(m.amount).bind(m.from).fetch_optional(&mut *conn).await? {
        Some(row) => row.get(0),
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
    .bind(m.promo_credit)
    .bind(m.to)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.get(0))
    .ok_or_else(|| LedgerError::UnknownAccount(m.to.to_string()))?;

    let t = Transfer {
        id: new_id(),
        debit_account: m.from.to_string(),
        credit_account: m.to.to_string(),
        amount: m.amount,
        kind: m.kind,
        debit_balance_after: debit_after,
        credit_balance_after: credit_after,
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO transfers (id, debit_account, credit_account, amount, kind, description, \
         ref_id, debit_balance_after, credit_balance_after, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&t.id)
    .bind(&t.debit_account)
    .bind(&t.credit_account)
    .bind(t.amount)
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

/// The ledger operations. Each public method is one transaction; the `*_in` functions run
/// inside a caller's transaction so that domains can combine money with their own writes.
#[derive(Clone)]
pub struct Ledger {
    pub db: Db,
    pub fee_bps: i64,
}

pub fn fee_for(gross: i64, fee_bps: i64) -> i64 {
    // Rounded down: the platform never takes more than its rate.
    (i128::from(gross) * i128::from(fee_bps) / 10_000) as i64
}

/// Creates the agent's wallet and grants sign-up credits from the promotions account.
pub async fn open_wallet_in(conn: &mut AnyConnection, agent_id: &str, signup_credits: i64) -> Result<(), LedgerError> {
    let account = wallet_account(agent_id);
    sqlx::query("INSERT INTO accounts (id, kind, agent_id, created_at) VALUES ($1, 'wallet', $2, $3)")
        .bind(&account)
        .bind(agent_id)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    if signup_credits > 0 {
        post(
            conn,
            Move {
                from: PROMOTIONS,
                to: &account,
                amount: signup_credits,
                kind: kind::SIGNUP_CREDIT,
                description: "Sign-up credits (spendable, not withdrawable)",
                ref_id: None,
                debit: Debit::Internal,
                promo_credit: signup_credits,
            },
        )
        .await?;
    }
    Ok(())
}

pub async fn deposit_in(
    conn: &mut AnyConnection,
    backend: Backend,
    agent_id: &str,
    amount: i64,
    description: &str,
) -> Result<Transfer, LedgerError> {
    let wallet = wallet_account(agent_id);
    lock_accounts(conn, backend, &[EXTERNAL, &wallet]).await?;
    post(
        conn,
        Move {
            from: EXTERNAL,
            to: &wallet,
            amount,
            kind: kind::DEPOSIT,
            description,
            ref_id: None,
            debit: Debit::Internal,
            promo_credit: 0,
        },
    )
    .await
}

/// Moves withdrawable money from the wallet to the payouts-in-flight account.
pub async fn withdraw_in(
    conn: &mut AnyConnection,
    backend: Backend,
    agent_id: &str,
    amount: i64,
    payout_id: &str,
) -> Result<Transfer, LedgerError> {
    let wallet = wallet_account(agent_id);
    lock_accounts(conn, backend, &[&wallet, PAYOUTS]).await?;
    post(
        conn,
        Move {
            from: &wallet,
            to: PAYOUTS,
            amount,
            kind: kind::WITHDRAWAL,
            description: "Withdrawal",
            ref_id: Some(payout_id),
            debit: Debit::CashOnly,
            promo_credit: 0,
        },
    )
    .await
}

pub async fn transfer_in(
    conn: &mut AnyConnection,
    backend: Backend,
    from_agent: &str,
    to_agent: &str,
    amount: i64,
    description: &str,
    ref_id: Option<&str>,
) -> Result<Transfer, LedgerError> {
    let (from, to) = (wallet_account(from_agent), wallet_account(to_agent));
    lock_accounts(conn, backend, &[&from, &to]).await?;
    post(
        conn,
        Move {
            from: &from,
            to: &to,
            amount,
            kind: kind::TRANSFER,
            description,
            ref_id,
            debit: Debit::Spend,
            promo_credit: 0,
        },
    )
    .await
}

/// Moves `amount` from the payer's wallet into a new escrow account.
pub async fn hold_in(
    conn: &mut AnyConnection,
    backend: Backend,
    payer_agent: &str,
    amount: i64,
    description: &str,
    ref_id: Option<&str>,
) -> Result<Hold, LedgerError> {
    if amount <= 0 {
        return Err(LedgerError::InvalidAmount);
    }
    let payer = wallet_account(payer_agent);
    let id = new_id();
    let escrow = format!("escrow:{id}");
    lock_accounts(conn, backend, &[&payer]).await?;
    let promo_before = promo_of(conn, &payer).await?;
    sqlx::query("INSERT INTO accounts (id, kind, agent_id, created_at) VALUES ($1, 'escrow', $2, $3)")
        .bind(&escrow)
        .bind(payer_agent)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    post(
        conn,
        Move {
            from: &payer,
            to: &escrow,
            amount,
            kind: kind::JOB_PAYMENT,
            description,
            ref_id,
            debit: Debit::Spend,
            promo_credit: 0,
        },
    )
    .await?;
    let promo_amount = promo_before.min(amount);
    sqlx::query(
        "INSERT INTO holds (id, payer_account, escrow_account, amount, promo_amount, status, \
         description, ref_id, created_at) VALUES ($1, $2, $3, $4, $5, 'held', $6, $7, $8)",
    )
    .bind(&id)
    .bind(&payer)
    .bind(&escrow)
    .bind(amount)
    .bind(promo_amount)
    .bind(description)
    .bind(ref_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(Hold { id, payer_account: payer, escrow_account: escrow, amount, promo_amount, status: "held".into() })
}

async fn take_hold(
    conn: &mut AnyConnection,
    backend: Backend,
    hold_id: &str,
    new_status: &str,
    captured: i64,
) -> Result<Hold, LedgerError> {
    let sql = format!(
        "SELECT id, payer_account, escrow_account, amount, promo_amount, status FROM holds WHERE id = $1{}",
        if backend == Backend::Postgres { " FOR UPDATE" } else { "" }
    );
    let row = sqlx::query(&sql)
        .bind(hold_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| LedgerError::UnknownHold(hold_id.to_string()))?;
    let hold = Hold {
        id: row.get(0),
        payer_account: row.get(1),
        escrow_account: row.get(2),
        amount: row.get(3),
        promo_amount: row.get(4),
        status: row.get(5),
    };
    if hold.status != "held" {
        return Err(LedgerError::HoldSettled(hold.status));
    }
    if captured > hold.amount {
        return Err(LedgerError::CaptureTooLarge(captured, hold.amount));
    }
    let done = sqlx::query(
        "UPDATE holds SET status = $1, captured_amount = $2, settled_at = $3 WHERE id = $4 AND status = 'held'",
    )
    .bind(new_status)
    .bind(captured)
    .bind(now_ms())
    .bind(hold_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(LedgerError::HoldSettled("settled".into()));
    }
    Ok(hold)
}

async fn refund_rest(
    conn: &mut AnyConnection,
    hold: &Hold,
    already_spent: i64,
    settlement: &mut Settlement,
) -> Result<(), LedgerError> {
    let rest = hold.amount - already_spent;
    if rest > 0 {
        // The spent part used the sign-up credits first; what is left of them comes back.
        let promo_back = (hold.promo_amount - already_spent).clamp(0, rest);
        settlement.transfers.push(
            post(
                conn,
                Move {
                    from: &hold.escrow_account,
                    to: &hold.payer_account,
                    amount: rest,
                    kind: kind::REFUND,
                    description: "Escrow released",
                    ref_id: Some(&hold.id),
                    debit: Debit::Internal,
                    promo_credit: promo_back,
                },
            )
            .await?,
        );
        settlement.refunded = rest;
    }
    Ok(())
}

/// Pays `gross` of the hold to the payee less the platform fee, `compute` (metered execution)
/// to the platform, and releases the rest to the payer.
pub async fn capture_in(
    conn: &mut AnyConnection,
    backend: Backend,
    hold_id: &str,
    payee_agent: &str,
    gross: i64,
    compute: i64,
    fee_bps: i64,
) -> Result<Settlement, LedgerError> {
    if gross < 0 || compute < 0 {
        return Err(LedgerError::InvalidAmount);
    }
    let payee = wallet_account(payee_agent);
    let hold = take_hold(conn, backend, hold_id, "captured", gross.saturating_add(compute)).await?;
    lock_accounts(conn, backend, &[&hold.escrow_account, &hold.payer_account, &payee, REVENUE]).await?;
    let fee = fee_for(gross, fee_bps);
    let mut s = Settlement { hold_id: hold.id.clone(), paid_to_payee: gross - fee, fee, compute, ..Default::default() };
    let legs = [
        (&payee[..], gross - fee, kind::JOB_EARNING),
        (REVENUE, fee, kind::PLATFORM_FEE),
        (REVENUE, compute, kind::COMPUTE),
    ];
    for (to, amount, kind) in legs {
        if amount > 0 {
            let t = post(
                conn,
                Move {
                    from: &hold.escrow_account,
                    to,
                    amount,
                    kind,
                    description: "Escrow captured",
                    ref_id: Some(&hold.id),
                    debit: Debit::Internal,
                    promo_credit: 0,
                },
            )
            .await?;
            s.transfers.push(t);
        }
    }
    refund_rest(conn, &hold, gross + compute, &mut s).await?;
    Ok(s)
}

/// Returns the whole hold to the payer, sign-up credits included.
pub async fn release_in(conn: &mut AnyConnection, backend: Backend, hold_id: &str) -> Result<Settlement, LedgerError> {
    let hold = take_hold(conn, backend, hold_id, "released", 0).await?;
    lock_accounts(conn, backend, &[&hold.escrow_account, &hold.payer_account]).await?;
    let mut s = Settlement { hold_id: hold.id.clone(), ..Default::default() };
    refund_rest(conn, &hold, 0, &mut s).await?;
    Ok(s)
}

pub async fn balance_in(conn: &mut AnyConnection, agent_id: &str) -> Result<Balance, LedgerError> {
    let account = wallet_account(agent_id);
    let row = sqlx::query("SELECT balance, promo_balance FROM accounts WHERE id = $1")
        .bind(&account)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(LedgerError::UnknownAccount(account))?;
    let (balance, promo): (i64, i64) = (row.get(0), row.get(1));
    Ok(Balance { balance_cents: balance, promo_cents: promo, withdrawable_cents: (balance - promo).max(0) })
}

impl Ledger {
    pub async fn deposit(&self, agent_id: &str, amount: i64, description: &str) -> Result<Transfer, LedgerError> {
        let backend = self.db.backend;
        transaction!(self.db, |c| deposit_in(c, backend, agent_id, amount, description))
    }

    pub async fn transfer(
        &self,
        from_agent: &str,
        to_agent: &str,
        amount: i64,
        description: &str,
    ) -> Result<Transfer, LedgerError> {
        let backend = self.db.backend;
        transaction!(self.db, |c| transfer_in(c, backend, from_agent, to_agent, amount, description, None))
    }

    pub async fn hold(&self, payer_agent: &str, amount: i64, description: &str) -> Result<Hold, LedgerError> {
        let backend = self.db.backend;
        transaction!(self.db, |c| hold_in(c, backend, payer_agent, amount, description, None))
    }

    pub async fn capture(&self, hold_id: &str, payee_agent: &str, gross: i64) -> Result<Settlement, LedgerError> {
        let (backend, fee) = (self.db.backend, self.fee_bps);
        transaction!(self.db, |c| capture_in(c, backend, hold_id, payee_agent, gross, 0, fee))
    }

    pub async fn release(&self, hold_id: &str) -> Result<Settlement, LedgerError> {
        let backend = self.db.backend;
        transaction!(self.db, |c| release_in(c, backend, hold_id))
    }

    pub async fn balance(&self, agent_id: &str) -> Result<Balance, LedgerError> {
        let mut conn = self.db.read.acquire().await?;
        balance_in(&mut conn, agent_id).await
    }
}

/// One transfer as seen from a wallet: negative amounts left it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletEntry {
    pub id: String,
    pub amount_cents: i64,
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
    let rows = sqlx::query(
        "SELECT id, amount, kind, description, ref_id, balance_after, created_at FROM ( \
           SELECT id, -amount AS amount, kind, description, ref_id, debit_balance_after AS balance_after, created_at \
             FROM transfers WHERE debit_account = $1 \
           UNION ALL \
           SELECT id, amount, kind, description, ref_id, credit_balance_after AS balance_after, created_at \
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
            id: r.get(0),
            amount_cents: r.get(1),
            kind: r.get(2),
            description: r.get(3),
            ref_id: r.get(4),
            balance_after: r.get(5),
            created_at: crate::db::rfc3339(r.get(6)),
        })
        .collect())
}
