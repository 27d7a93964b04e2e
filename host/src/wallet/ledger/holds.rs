//! Escrow: a hold moves money (and the credit in it) from the payer's wallet into an escrow
//! account of its own; a capture pays out of it and refunds the rest; a release refunds it
//! all. A hold is settled exactly once.

use crate::db::Conn;

use super::post::{credit_of, post, spent_credit, Debit, Move};
use super::{fee_for, kind, wallet_account, Hold, HoldStatus, LedgerError, Rates, Settlement, REVENUE};
use crate::db::{new_id, now_ms, Backend};

/// Moves `amount` from the payer's wallet into a new escrow account.
pub async fn hold_in(
    conn: &mut Conn,
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
    let credit = credit_of(conn, backend, &[&payer]).await?;
    let promo = spent_credit(credit.get(&payer).copied().unwrap_or(0), amount);
    crate::db::query("INSERT INTO accounts (id, kind, agent_id, created_at) VALUES ($1, 'escrow', $2, $3)")
        .bind(&escrow)
        .bind(payer_agent)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    let payment = Move {
        from: &payer,
        to: &escrow,
        amount,
        promo,
        kind: kind::JOB_PAYMENT,
        description,
        ref_id,
        debit: Debit::Account,
    };
    let paid = post(conn, &[payment]).await?;
    crate::db::query(
        "INSERT INTO holds (id, payer_account, escrow_account, amount, promo_amount, status, \
         description, ref_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&payer)
    .bind(&escrow)
    .bind(amount)
    .bind(promo)
    .bind(HoldStatus::Held.as_str())
    .bind(description)
    .bind(ref_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(Hold {
        id,
        payer_account: payer,
        escrow_account: escrow,
        amount,
        promo_amount: promo,
        status: HoldStatus::Held,
        payer_balance_after: paid.first().map(|t| t.debit_balance_after),
    })
}

/// Marks a held hold settled, if `captured` fits it; one statement when it does.
async fn take_hold(conn: &mut Conn, hold_id: &str, new_status: HoldStatus, captured: i64) -> Result<Hold, LedgerError> {
    let taken = crate::db::query(
        "UPDATE holds SET status = $1, captured_amount = $2, settled_at = $3 \
         WHERE id = $4 AND status = $5 AND amount >= $2 \
         RETURNING id, payer_account, escrow_account, amount, promo_amount",
    )
    .bind(new_status.as_str())
    .bind(captured)
    .bind(now_ms())
    .bind(hold_id)
    .bind(HoldStatus::Held.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = taken {
        return Ok(Hold {
            id: row.get("id"),
            payer_account: row.get("payer_account"),
            escrow_account: row.get("escrow_account"),
            amount: row.get("amount"),
            promo_amount: row.get("promo_amount"),
            status: HoldStatus::Held,
            payer_balance_after: None,
        });
    }
    let row = crate::db::query("SELECT status, amount FROM holds WHERE id = $1")
        .bind(hold_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| LedgerError::UnknownHold(hold_id.to_string()))?;
    let (status, amount): (String, i64) = (row.get("status"), row.get("amount"));
    Err(if status != HoldStatus::Held.as_str() {
        LedgerError::HoldSettled(status)
    } else {
        LedgerError::CaptureTooLarge(captured, amount)
    })
}

/// Pays the legs of a settlement out of the escrow, the credit in it going first to the
/// first legs, and refunds the rest (with the credit left) to the payer, in one posting.
async fn pay_out(
    conn: &mut Conn,
    hold: &Hold,
    legs: &[(&str, i64, &'static str)],
    settlement: &mut Settlement,
) -> Result<(), LedgerError> {
    let mut promo_left = hold.promo_amount;
    let mut spent = 0;
    let mut moves = Vec::with_capacity(legs.len() + 1);
    for &(to, amount, kind) in legs {
        if amount <= 0 {
            continue;
        }
        let promo = promo_left.min(amount);
        promo_left -= promo;
        spent += amount;
        moves.push(Move {
            from: &hold.escrow_account,
            to,
            amount,
            promo,
            kind,
            description: "Escrow captured",
            ref_id: Some(&hold.id),
            debit: Debit::Account,
        });
    }
    let rest = hold.amount - spent;
    if rest > 0 {
        moves.push(Move {
            from: &hold.escrow_account,
            to: &hold.payer_account,
            amount: rest,
            promo: promo_left,
            kind: kind::REFUND,
            description: "Escrow released",
            ref_id: Some(&hold.id),
            debit: Debit::Account,
        });
        settlement.refunded = rest;
    }
    settlement.transfers = post(conn, &moves).await?;
    Ok(())
}

/// Who a capture pays: the agent that did the work, and the agent that referred it, which
/// earns its share out of the platform's fee.
#[derive(Debug, Clone, Copy)]
pub struct Payee<'a> {
    pub agent_id: &'a str,
    pub referrer: Option<&'a str>,
}

impl<'a> Payee<'a> {
    pub fn new(agent_id: &'a str, referrer: Option<&'a str>) -> Self {
        Payee { agent_id, referrer: referrer.filter(|r| *r != agent_id) }
    }
}

/// Pays `gross` of the hold to the payee less the platform fee (a referrer's share of it going
/// to the referrer), `compute` (metered execution) to the platform, and releases the rest to
/// the payer. The hold's credit is paid out first, as credit: to the payee, then the referrer,
/// then the fee, then compute.
pub async fn capture_in(
    conn: &mut Conn,
    hold_id: &str,
    payee: Payee<'_>,
    gross: i64,
    compute: i64,
    rates: Rates,
) -> Result<Settlement, LedgerError> {
    if gross < 0 || compute < 0 {
        return Err(LedgerError::InvalidAmount);
    }
    let payee_account = wallet_account(payee.agent_id);
    let hold = take_hold(conn, hold_id, HoldStatus::Captured, gross.saturating_add(compute)).await?;
    let fee = fee_for(gross, rates.fee_bps);
    let referral = match payee.referrer {
        Some(_) => fee_for(gross, rates.referral_bps).min(fee),
        None => 0,
    };
    let referrer_account = payee.referrer.map(wallet_account).unwrap_or_default();
    let mut s = Settlement {
        hold_id: hold.id.clone(),
        paid_to_payee: gross - fee,
        fee,
        referral,
        compute,
        ..Default::default()
    };
    let legs = [
        (&payee_account[..], gross - fee, kind::JOB_EARNING),
        (&referrer_account[..], referral, kind::REFERRAL_EARNING),
        (REVENUE, fee - referral, kind::PLATFORM_FEE),
        (REVENUE, compute, kind::COMPUTE),
    ];
    pay_out(conn, &hold, &legs, &mut s).await?;
    Ok(s)
}

/// Pays `amount` of the hold to the platform as `kind` (usage the platform itself serves, such
/// as model tokens through the gateway) and refunds the rest.
pub async fn capture_for_platform_in(
    conn: &mut Conn,
    hold_id: &str,
    amount: i64,
    kind: &'static str,
) -> Result<Settlement, LedgerError> {
    if amount < 0 {
        return Err(LedgerError::InvalidAmount);
    }
    let hold = take_hold(conn, hold_id, HoldStatus::Captured, amount).await?;
    let mut s = Settlement { hold_id: hold.id.clone(), compute: amount, ..Default::default() };
    pay_out(conn, &hold, &[(REVENUE, amount, kind)], &mut s).await?;
    Ok(s)
}

/// Returns the whole hold to the payer, credit included.
pub async fn release_in(conn: &mut Conn, hold_id: &str) -> Result<Settlement, LedgerError> {
    let hold = take_hold(conn, hold_id, HoldStatus::Released, 0).await?;
    let mut s = Settlement { hold_id: hold.id.clone(), ..Default::default() };
    pay_out(conn, &hold, &[], &mut s).await?;
    Ok(s)
}
