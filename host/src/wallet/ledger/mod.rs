//! The double-entry ledger. Every movement of money is an immutable transfer between two
//! accounts; the sum of all balances is always zero. Accounts are agent wallets, one escrow
//! account per hold, the platform's accounts (revenue, payouts in flight), and the sources
//! money comes from: the outside world (funded money: an operator's deposit after a payment,
//! later a payment provider's confirmed checkout), promotions (sign-up credits) and unfunded
//! deposits (an agent's own deposit with no payment behind it). Amounts are integer cents.
//!
//! Money from promotions and unfunded deposits is credit: spendable, never withdrawable, and
//! it stays credit wherever it goes (`post` carries the credit part of every movement). A
//! withdrawal takes only cash. So withdrawable money can only come from funded sources, which
//! the ledger check verifies.

mod holds;
mod post;

pub use holds::{capture_for_platform_in, capture_in, hold_in, release_in, Payee};
pub use post::balance_is_derived;

use crate::db::query::On;
use crate::db::Conn;
use post::{credit_of, post, spent_credit, Debit, Move};

use crate::db::{now_ms, Backend, Db};
use crate::transaction;

/// Funded money enters through here (operator deposits, confirmed payments).
pub const EXTERNAL: &str = "world:external";
/// Agents' own deposits with no payment behind them: credit.
pub const UNFUNDED: &str = "world:unfunded";
/// Sign-up credits.
pub const PROMOTIONS: &str = "platform:promotions";
pub const REVENUE: &str = "platform:revenue";
pub const PAYOUTS: &str = "platform:payouts";
/// The accounts above: their balance is the sum of their transfers (see `post`).
pub const SYSTEM_ACCOUNTS: [&str; 5] = [EXTERNAL, UNFUNDED, PROMOTIONS, REVENUE, PAYOUTS];

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
    pub const REFERRAL_EARNING: &str = "REFERRAL_EARNING";
    /// Model tokens and media through the gateway.
    pub const MODEL_USAGE: &str = "MODEL_USAGE";
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("amount must be a positive number of cents")]
    InvalidAmount,
    #[error("cannot move money from an account to itself")]
    SameAccount,
    #[error("insufficient funds")]
    InsufficientFunds,
    #[error("insufficient withdrawable funds (credit cannot be withdrawn)")]
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

crate::transient_through!(LedgerError: Db);

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: String,
    pub debit_account: String,
    pub credit_account: String,
    pub amount: i64,
    /// How much of `amount` is credit.
    pub promo: i64,
    pub kind: &'static str,
    pub debit_balance_after: i64,
    pub credit_balance_after: i64,
    pub created_at: i64,
}

crate::stored_enum! {
    /// A hold's lifecycle.
    pub enum HoldStatus { Held => "held", Captured => "captured", Released => "released" }
}

#[derive(Debug, Clone)]
pub struct Hold {
    pub id: String,
    pub payer_account: String,
    pub escrow_account: String,
    pub amount: i64,
    /// The credit in the hold.
    pub promo_amount: i64,
    pub status: HoldStatus,
    /// The payer's balance right after the hold was taken; known only to `hold_in`'s caller.
    pub payer_balance_after: Option<i64>,
}

/// What a capture or release did.
#[derive(Debug, Clone, Default)]
pub struct Settlement {
    pub hold_id: String,
    pub paid_to_payee: i64,
    /// The platform fee, the referral included.
    pub fee: i64,
    /// The part of the fee paid to the payee's referrer.
    pub referral: i64,
    pub compute: i64,
    pub refunded: i64,
    pub transfers: Vec<Transfer>,
}

impl Settlement {
    /// The balance `account` was left with by the last of this settlement's transfers that
    /// touched it, if any did: exact at the settlement, in its transaction.
    pub fn balance_after(&self, account: &str) -> Option<i64> {
        self.transfers.iter().rev().find_map(|t| {
            if t.credit_account == account {
                Some(t.credit_balance_after)
            } else if t.debit_account == account {
                Some(t.debit_balance_after)
            } else {
                None
            }
        })
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub balance_cents: i64,
    /// Credit: sign-up credits, unfunded deposits, and what was paid with them. Spendable,
    /// not withdrawable.
    pub promo_cents: i64,
    pub withdrawable_cents: i64,
}

/// Where a deposit's money comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositSource {
    /// A payment was made (an operator's deposit, a confirmed checkout): withdrawable cash.
    Funded,
    /// No payment behind it (an agent's own deposit): credit.
    Unfunded,
}

/// The ledger operations. Each public method is one transaction; the `*_in` functions run
/// inside a caller's transaction so that domains can combine money with their own writes.
#[derive(Clone)]
pub struct Ledger {
    pub db: Db,
    pub rates: Rates,
}

/// The platform's fee on what a payee earns, and the share of that gross a payee's referrer
/// earns out of the fee; both in basis points.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub fee_bps: i64,
    pub referral_bps: i64,
}

pub fn fee_for(gross: i64, fee_bps: i64) -> i64 {
    // Rounded down: the platform never takes more than its rate.
    (i128::from(gross) * i128::from(fee_bps) / 10_000) as i64
}

/// Creates the agent's wallet and grants sign-up credits from the promotions account.
pub async fn open_wallet_in(conn: &mut Conn, agent_id: &str, signup_credits: i64) -> Result<(), LedgerError> {
    let account = wallet_account(agent_id);
    crate::db::query("INSERT INTO accounts (id, kind, agent_id, created_at) VALUES ($1, 'wallet', $2, $3)")
        .bind(&account)
        .bind(agent_id)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    if signup_credits > 0 {
        let credits = Move {
            from: PROMOTIONS,
            to: &account,
            amount: signup_credits,
            promo: signup_credits,
            kind: kind::SIGNUP_CREDIT,
            description: "Sign-up credits (spendable, not withdrawable)",
            ref_id: None,
            debit: Debit::Account,
        };
        post(conn, &[credits]).await?;
    }
    Ok(())
}

/// The one transfer of a posting of one movement.
fn only(mut transfers: Vec<Transfer>) -> Transfer {
    transfers.pop().expect("a posting of one movement records one transfer")
}

pub async fn deposit_in(
    conn: &mut Conn,
    agent_id: &str,
    amount: i64,
    source: DepositSource,
    description: &str,
    ref_id: Option<&str>,
) -> Result<Transfer, LedgerError> {
    let wallet = wallet_account(agent_id);
    let (from, promo) = match source {
        DepositSource::Funded => (EXTERNAL, 0),
        DepositSource::Unfunded => (UNFUNDED, amount),
    };
    let deposit =
        Move { from, to: &wallet, amount, promo, kind: kind::DEPOSIT, description, ref_id, debit: Debit::Account };
    post(conn, &[deposit]).await.map(only)
}

/// Moves withdrawable money from the wallet to the payouts-in-flight account.
pub async fn withdraw_in(
    conn: &mut Conn,
    agent_id: &str,
    amount: i64,
    payout_id: &str,
) -> Result<Transfer, LedgerError> {
    let wallet = wallet_account(agent_id);
    let withdrawal = Move {
        from: &wallet,
        to: PAYOUTS,
        amount,
        promo: 0,
        kind: kind::WITHDRAWAL,
        description: "Withdrawal",
        ref_id: Some(payout_id),
        debit: Debit::CashOnly,
    };
    post(conn, &[withdrawal]).await.map(only)
}

/// Moves money between two wallets; credit is spent first and arrives as credit.
pub async fn transfer_in(
    conn: &mut Conn,
    backend: Backend,
    from_agent: &str,
    to_agent: &str,
    amount: i64,
    description: &str,
    ref_id: Option<&str>,
) -> Result<Transfer, LedgerError> {
    let (from, to) = (wallet_account(from_agent), wallet_account(to_agent));
    let credit = credit_of(conn, backend, &[&from, &to]).await?;
    let promo = spent_credit(credit.get(&from).copied().unwrap_or(0), amount);
    let transfer =
        Move { from: &from, to: &to, amount, promo, kind: kind::TRANSFER, description, ref_id, debit: Debit::Account };
    post(conn, &[transfer]).await.map(only)
}

/// Bills up to `amount` of metered compute to the agent's wallet (credit first), as much as
/// the wallet holds; returns what was billed.
pub async fn bill_compute_in(
    conn: &mut Conn,
    backend: Backend,
    agent_id: &str,
    amount: i64,
    description: &str,
    ref_id: Option<&str>,
) -> Result<i64, LedgerError> {
    let wallet = wallet_account(agent_id);
    let available = balance_in(&mut *conn, agent_id).await?.balance_cents;
    let amount = amount.min(available);
    if amount <= 0 {
        return Ok(0);
    }
    let credit = credit_of(conn, backend, &[&wallet]).await?;
    let promo = spent_credit(credit.get(&wallet).copied().unwrap_or(0), amount);
    let bill = Move {
        from: &wallet,
        to: REVENUE,
        amount,
        promo,
        kind: kind::COMPUTE,
        description,
        ref_id,
        debit: Debit::Account,
    };
    post(conn, &[bill]).await?;
    Ok(amount)
}

pub async fn balance_in<'c>(on: impl Into<On<'c>>, agent_id: &str) -> Result<Balance, LedgerError> {
    let account = wallet_account(agent_id);
    let row = crate::db::query("SELECT balance, promo_balance FROM accounts WHERE id = $1")
        .bind(&account)
        .fetch_optional(on)
        .await?
        .ok_or(LedgerError::UnknownAccount(account))?;
    let (balance, promo): (i64, i64) = (row.get("balance"), row.get("promo_balance"));
    Ok(Balance { balance_cents: balance, promo_cents: promo, withdrawable_cents: (balance - promo).max(0) })
}

impl Ledger {
    pub async fn deposit(
        &self,
        agent_id: &str,
        amount: i64,
        source: DepositSource,
        description: &str,
    ) -> Result<Transfer, LedgerError> {
        transaction!(self.db, |c| deposit_in(c, agent_id, amount, source, description, None))
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

    pub async fn capture(&self, hold_id: &str, payee: Payee<'_>, gross: i64) -> Result<Settlement, LedgerError> {
        let rates = self.rates;
        transaction!(self.db, |c| capture_in(c, hold_id, payee, gross, 0, rates))
    }

    pub async fn release(&self, hold_id: &str) -> Result<Settlement, LedgerError> {
        transaction!(self.db, |c| release_in(c, hold_id))
    }

    /// The balance of one of the platform's accounts: the sum of its transfers.
    pub async fn system_balance(&self, account: &str) -> Result<i64, LedgerError> {
        if !balance_is_derived(account) {
            return Err(LedgerError::UnknownAccount(account.to_string()));
        }
        let row = crate::db::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN credit_account = $1 THEN amount ELSE -amount END), 0) AS BIGINT) \
             AS balance FROM transfers WHERE credit_account = $1 OR debit_account = $1",
        )
        .bind(account)
        .fetch_one(&self.db.read)
        .await?;
        Ok(row.get("balance"))
    }

    pub async fn balance(&self, agent_id: &str) -> Result<Balance, LedgerError> {
        balance_in(&self.db.read, agent_id).await
    }
}
