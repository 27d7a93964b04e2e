//! SQL of payments: checkouts, card charges, billing profiles and payout accounts.

use crate::db::Conn;

use super::provider::{AccountStatus, SavedCard};
use crate::db::{now_ms, Db};

crate::stored_enum! {
    /// A checkout's lifecycle: `creating` until the provider made its session (a checkout
    /// paid even so is credited), `open` until paid or expired.
    pub enum CheckoutStatus { Creating => "creating", Open => "open", Paid => "paid", Expired => "expired" }
}

crate::stored_enum! {
    pub enum ChargeStatus { Pending => "pending", Succeeded => "succeeded", Failed => "failed" }
}

crate::stored_enum! {
    /// Why a saved card was charged.
    pub enum ChargeReason { TopUp => "top_up", Autopay => "autopay" }
}

pub struct CheckoutRow {
    pub id: String,
    pub agent_id: String,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub amount_cents: i64,
    pub url: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub status: CheckoutStatus,
    pub transfer_id: Option<String>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    /// A `scheduler::Deferred` as JSON: work to do once paid.
    pub on_paid: Option<String>,
}

const CHECKOUT_COLUMNS: &str = "id, agent_id, provider, provider_ref, amount_cents, url, success_url, cancel_url, \
     status, transfer_id, created_at, paid_at, on_paid";

fn checkout_of(r: &crate::db::Row) -> CheckoutRow {
    CheckoutRow {
        id: r.get("id"),
        agent_id: r.get("agent_id"),
        provider: r.get("provider"),
        provider_ref: r.get("provider_ref"),
        amount_cents: r.get("amount_cents"),
        url: r.get("url"),
        success_url: r.get("success_url"),
        cancel_url: r.get("cancel_url"),
        status: r.get::<String, _>("status").parse().unwrap_or(CheckoutStatus::Open),
        transfer_id: r.get("transfer_id"),
        created_at: r.get("created_at"),
        paid_at: r.get("paid_at"),
        on_paid: r.get("on_paid"),
    }
}

/// Records a checkout about to be made at the provider.
pub async fn insert_checkout(c: &mut Conn, row: &CheckoutRow) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO checkouts (id, agent_id, provider, amount_cents, success_url, cancel_url, status, created_at, \
         on_paid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(&row.agent_id)
    .bind(&row.provider)
    .bind(row.amount_cents)
    .bind(&row.success_url)
    .bind(&row.cancel_url)
    .bind(CheckoutStatus::Creating.as_str())
    .bind(row.created_at)
    .bind(&row.on_paid)
    .execute(c)
    .await?;
    Ok(())
}

/// The provider made the checkout's session (`row.provider_ref`, `row.url`).
pub async fn open_checkout(c: &mut Conn, row: &CheckoutRow) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE checkouts SET provider_ref = $1, url = $2, status = $3 WHERE id = $4 AND status = $5")
        .bind(&row.provider_ref)
        .bind(&row.url)
        .bind(CheckoutStatus::Open.as_str())
        .bind(&row.id)
        .bind(CheckoutStatus::Creating.as_str())
        .execute(c)
        .await?;
    Ok(())
}

pub async fn checkout(db: &Db, id: &str) -> Result<Option<CheckoutRow>, sqlx::Error> {
    let row = crate::db::query(&format!("SELECT {CHECKOUT_COLUMNS} FROM checkouts WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await?;
    Ok(row.as_ref().map(checkout_of))
}

/// Marks the checkout paid unless it already is; true if this call did, and so must credit it.
pub async fn mark_paid(c: &mut Conn, id: &str, provider_ref: &str) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE checkouts SET status = $1, provider_ref = $2, paid_at = $3 WHERE id = $4 AND status <> $1",
    )
    .bind(CheckoutStatus::Paid.as_str())
    .bind(provider_ref)
    .bind(now_ms())
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The transfer that credited the checkout.
pub async fn checkout_credited(c: &mut Conn, id: &str, transfer_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE checkouts SET transfer_id = $1 WHERE id = $2")
        .bind(transfer_id)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn mark_expired(c: &mut Conn, id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE checkouts SET status = $1 WHERE id = $2 AND status IN ($3, $4)")
        .bind(CheckoutStatus::Expired.as_str())
        .bind(id)
        .bind(CheckoutStatus::Creating.as_str())
        .bind(CheckoutStatus::Open.as_str())
        .execute(c)
        .await?;
    Ok(())
}

/// Whether any payment of the agent went through (a paid checkout or a succeeded charge).
pub async fn has_paid(db: &Db, agent_id: &str) -> Result<bool, sqlx::Error> {
    let row = crate::db::query(
        "SELECT (SELECT COUNT(*) FROM checkouts WHERE agent_id = $1 AND status = $2) \
              + (SELECT COUNT(*) FROM card_charges WHERE agent_id = $1 AND status = $3) AS n",
    )
    .bind(agent_id)
    .bind(CheckoutStatus::Paid.as_str())
    .bind(ChargeStatus::Succeeded.as_str())
    .fetch_one(&db.read)
    .await?;
    Ok(row.get::<i64, _>("n") > 0)
}

/// A charge as it is asked of the provider.
pub struct ChargeRow {
    pub id: String,
    pub agent_id: String,
    pub amount_cents: i64,
    pub reason: ChargeReason,
    /// What was charged, asked again with the same values if the answer was lost.
    pub customer_ref: String,
    pub card_ref: String,
}

const CHARGE_COLUMNS: &str = "id, agent_id, amount_cents, reason, customer_ref, card_ref";

fn charge_of(r: &crate::db::Row) -> ChargeRow {
    ChargeRow {
        id: r.get("id"),
        agent_id: r.get("agent_id"),
        amount_cents: r.get("amount_cents"),
        reason: r.get::<String, _>("reason").parse().unwrap_or(ChargeReason::TopUp),
        customer_ref: r.get("customer_ref"),
        card_ref: r.get("card_ref"),
    }
}

pub struct NewCharge<'a> {
    pub id: &'a str,
    pub agent_id: &'a str,
    pub provider: &'a str,
    pub amount_cents: i64,
    pub reason: ChargeReason,
    pub customer_ref: &'a str,
    pub card_ref: &'a str,
}

impl From<&NewCharge<'_>> for ChargeRow {
    fn from(c: &NewCharge<'_>) -> Self {
        ChargeRow {
            id: c.id.to_string(),
            agent_id: c.agent_id.to_string(),
            amount_cents: c.amount_cents,
            reason: c.reason,
            customer_ref: c.customer_ref.to_string(),
            card_ref: c.card_ref.to_string(),
        }
    }
}

pub async fn insert_charge(c: &mut Conn, charge: &NewCharge<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    crate::db::query(
        "INSERT INTO card_charges (id, agent_id, provider, amount_cents, reason, customer_ref, card_ref, status, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(charge.id)
    .bind(charge.agent_id)
    .bind(charge.provider)
    .bind(charge.amount_cents)
    .bind(charge.reason.as_str())
    .bind(charge.customer_ref)
    .bind(charge.card_ref)
    .bind(ChargeStatus::Pending.as_str())
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// Ends a pending charge; true if this call did (and, when it succeeded, must credit it).
pub async fn end_charge(
    c: &mut Conn,
    id: &str,
    status: ChargeStatus,
    provider_ref: Option<&str>,
    error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE card_charges SET status = $1, provider_ref = $2, error = $3, updated_at = $4 WHERE id = $5 AND status = $6",
    )
    .bind(status.as_str())
    .bind(provider_ref)
    .bind(error)
    .bind(now_ms())
    .bind(id)
    .bind(ChargeStatus::Pending.as_str())
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The transfer that credited the charge.
pub async fn charge_credited(c: &mut Conn, id: &str, transfer_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query("UPDATE card_charges SET transfer_id = $1 WHERE id = $2")
        .bind(transfer_id)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

/// Pending charges created before `before`: their host stopped between asking the provider
/// and recording the answer.
pub async fn stale_charges(db: &Db, before: i64, limit: i64) -> Result<Vec<ChargeRow>, sqlx::Error> {
    let rows = crate::db::query(&format!(
        "SELECT {CHARGE_COLUMNS} FROM card_charges WHERE status = $1 AND created_at < $2 ORDER BY created_at LIMIT $3"
    ))
    .bind(ChargeStatus::Pending.as_str())
    .bind(before)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.iter().map(charge_of).collect())
}

/// Whether an auto pay charge of the agent is pending or failed after `since`: auto pay waits.
pub async fn autopay_blocked(db: &Db, agent_id: &str, since: i64) -> Result<bool, sqlx::Error> {
    let row = crate::db::query(
        "SELECT COUNT(*) AS n FROM card_charges WHERE agent_id = $1 AND reason = $2 \
           AND (status = $3 OR (status = $4 AND updated_at > $5))",
    )
    .bind(agent_id)
    .bind(ChargeReason::Autopay.as_str())
    .bind(ChargeStatus::Pending.as_str())
    .bind(ChargeStatus::Failed.as_str())
    .bind(since)
    .fetch_one(&db.read)
    .await?;
    Ok(row.get::<i64, _>("n") > 0)
}

#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub agent_id: String,
    pub customer_ref: Option<String>,
    pub card: Option<SavedCard>,
    pub autopay_enabled: bool,
    pub autopay_amount_cents: i64,
    pub autopay_threshold_cents: i64,
    pub terms_accepted_at: Option<i64>,
    pub terms_version: Option<String>,
}

const PROFILE_COLUMNS: &str = "agent_id, customer_ref, card_ref, card_brand, card_last4, card_exp_month, \
     card_exp_year, autopay_enabled, autopay_amount_cents, autopay_threshold_cents, terms_accepted_at, terms_version";

fn profile_of(r: &crate::db::Row) -> Profile {
    let card_ref: Option<String> = r.get("card_ref");
    Profile {
        agent_id: r.get("agent_id"),
        customer_ref: r.get("customer_ref"),
        card: card_ref.map(|card_ref| SavedCard {
            card_ref,
            brand: r.get::<Option<String>, _>("card_brand").unwrap_or_default(),
            last4: r.get::<Option<String>, _>("card_last4").unwrap_or_default(),
            exp_month: r.get::<Option<i64>, _>("card_exp_month").unwrap_or_default(),
            exp_year: r.get::<Option<i64>, _>("card_exp_year").unwrap_or_default(),
        }),
        autopay_enabled: r.get::<i64, _>("autopay_enabled") != 0,
        autopay_amount_cents: r.get("autopay_amount_cents"),
        autopay_threshold_cents: r.get("autopay_threshold_cents"),
        terms_accepted_at: r.get("terms_accepted_at"),
        terms_version: r.get("terms_version"),
    }
}

/// The agent's billing profile; an empty one if it has none yet.
pub async fn profile(db: &Db, agent_id: &str) -> Result<Profile, sqlx::Error> {
    let row = crate::db::query(&format!("SELECT {PROFILE_COLUMNS} FROM billing_profiles WHERE agent_id = $1"))
        .bind(agent_id)
        .fetch_optional(&db.read)
        .await?;
    Ok(row.as_ref().map(profile_of).unwrap_or_else(|| Profile { agent_id: agent_id.to_string(), ..Profile::default() }))
}

/// Profiles with auto pay on and a saved card.
pub async fn autopay_profiles(db: &Db, after: &str, limit: i64) -> Result<Vec<Profile>, sqlx::Error> {
    let rows = crate::db::query(&format!(
        "SELECT {PROFILE_COLUMNS} FROM billing_profiles \
         WHERE autopay_enabled = 1 AND card_ref IS NOT NULL AND agent_id > $1 ORDER BY agent_id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.iter().map(profile_of).collect())
}

/// Creates the agent's profile row if it has none.
async fn ensure_profile(c: &mut Conn, agent_id: &str) -> Result<(), sqlx::Error> {
    crate::db::query(
        "INSERT INTO billing_profiles (agent_id, updated_at) VALUES ($1, $2) ON CONFLICT (agent_id) DO NOTHING",
    )
    .bind(agent_id)
    .bind(now_ms())
    .execute(c)
    .await?;
    Ok(())
}

pub async fn set_customer(c: &mut Conn, agent_id: &str, customer_ref: &str) -> Result<(), sqlx::Error> {
    ensure_profile(c, agent_id).await?;
    crate::db::query("UPDATE billing_profiles SET customer_ref = $1, updated_at = $2 WHERE agent_id = $3")
        .bind(customer_ref)
        .bind(now_ms())
        .bind(agent_id)
        .execute(c)
        .await?;
    Ok(())
}

/// Saves the card (`None` removes it).
pub async fn set_card(c: &mut Conn, agent_id: &str, card: Option<&SavedCard>) -> Result<(), sqlx::Error> {
    ensure_profile(c, agent_id).await?;
    crate::db::query(
        "UPDATE billing_profiles SET card_ref = $1, card_brand = $2, card_last4 = $3, card_exp_month = $4, \
         card_exp_year = $5, updated_at = $6 WHERE agent_id = $7",
    )
    .bind(card.map(|k| k.card_ref.clone()))
    .bind(card.map(|k| k.brand.clone()))
    .bind(card.map(|k| k.last4.clone()))
    .bind(card.map(|k| k.exp_month))
    .bind(card.map(|k| k.exp_year))
    .bind(now_ms())
    .bind(agent_id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn set_autopay(
    c: &mut Conn,
    agent_id: &str,
    enabled: bool,
    amount_cents: i64,
    threshold_cents: i64,
) -> Result<(), sqlx::Error> {
    ensure_profile(c, agent_id).await?;
    crate::db::query(
        "UPDATE billing_profiles SET autopay_enabled = $1, autopay_amount_cents = $2, autopay_threshold_cents = $3, \
         updated_at = $4 WHERE agent_id = $5",
    )
    .bind(i64::from(enabled))
    .bind(amount_cents)
    .bind(threshold_cents)
    .bind(now_ms())
    .bind(agent_id)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn accept_terms(c: &mut Conn, agent_id: &str, version: &str) -> Result<(), sqlx::Error> {
    ensure_profile(c, agent_id).await?;
    let now = now_ms();
    crate::db::query(
        "UPDATE billing_profiles SET terms_accepted_at = $1, terms_version = $2, updated_at = $1 WHERE agent_id = $3",
    )
    .bind(now)
    .bind(version)
    .bind(agent_id)
    .execute(c)
    .await?;
    Ok(())
}

pub struct PayoutAccount {
    pub provider: String,
    pub account_ref: String,
    pub status: AccountStatus,
}

pub async fn payout_account(db: &Db, agent_id: &str) -> Result<Option<PayoutAccount>, sqlx::Error> {
    let row = crate::db::query(
        "SELECT provider, account_ref, details_submitted, charges_enabled, payouts_enabled \
         FROM payout_accounts WHERE agent_id = $1",
    )
    .bind(agent_id)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(|r| PayoutAccount {
        provider: r.get("provider"),
        account_ref: r.get("account_ref"),
        status: AccountStatus {
            details_submitted: r.get::<i64, _>("details_submitted") != 0,
            charges_enabled: r.get::<i64, _>("charges_enabled") != 0,
            payouts_enabled: r.get::<i64, _>("payouts_enabled") != 0,
        },
    }))
}

/// Records the agent's payout account at `provider` (replacing one at another provider, whose
/// status no longer counts) unless it has one there; the account it has afterwards.
pub async fn insert_payout_account(
    c: &mut Conn,
    agent_id: &str,
    provider: &str,
    account_ref: &str,
) -> Result<String, sqlx::Error> {
    let now = now_ms();
    crate::db::query(
        "INSERT INTO payout_accounts (agent_id, provider, account_ref, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (agent_id) DO UPDATE SET provider = $2, account_ref = $3, \
         details_submitted = 0, charges_enabled = 0, payouts_enabled = 0, updated_at = $4 \
         WHERE payout_accounts.provider <> $2",
    )
    .bind(agent_id)
    .bind(provider)
    .bind(account_ref)
    .bind(now)
    .execute(&mut *c)
    .await?;
    let row = crate::db::query("SELECT account_ref FROM payout_accounts WHERE agent_id = $1")
        .bind(agent_id)
        .fetch_one(c)
        .await?;
    Ok(row.get("account_ref"))
}

/// Records the account's status; false if no agent has this account.
pub async fn set_account_status(
    c: &mut Conn,
    provider: &str,
    account_ref: &str,
    status: AccountStatus,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "UPDATE payout_accounts SET details_submitted = $1, charges_enabled = $2, payouts_enabled = $3, updated_at = $4 \
         WHERE provider = $5 AND account_ref = $6",
    )
    .bind(i64::from(status.details_submitted))
    .bind(i64::from(status.charges_enabled))
    .bind(i64::from(status.payouts_enabled))
    .bind(now_ms())
    .bind(provider)
    .bind(account_ref)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}
