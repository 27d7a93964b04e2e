//! The wallet's operations: deposits and withdrawals.

use super::ledger::{self, DepositSource, Transfer};
use super::payouts::{PayoutRequest, PayoutStatus};
use super::store::{self, NewPayout};
use super::WalletError;
use crate::agents::store as agents;
use crate::config::SelfDeposit;
use crate::db::new_id;
use crate::guardrails::enforce::{enforce, HostAction};
use crate::idempotency::Answer;
use crate::identity::Principal;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

/// A deposit that was made.
pub struct Deposit {
    pub transfer: Transfer,
    pub agent_id: String,
    pub agent_name: String,
    pub source: DepositSource,
}

/// Deposits `amount` cents. An operator deposits funded money (after a payment made outside
/// the platform) into any agent's wallet; an agent's own deposit has no payment behind it,
/// so it is credit, or refused when the operator says so.
pub async fn deposit(
    app: &App,
    who: &Principal,
    amount: i64,
    for_agent: Option<&str>,
    answer: Answer<'_, Deposit>,
) -> Result<Deposit, WalletError> {
    let amount = validate::cents("amountCents", amount, 1, app.config.money.max_deposit_cents)?;
    let (agent_id, source, description) = match (who, for_agent) {
        (Principal::Operator { .. }, Some(id)) => (id.to_string(), DepositSource::Funded, "Deposit by operator"),
        (Principal::Operator { .. }, None) => {
            return Err(fail("agentId", "operators must name the agent to credit").into())
        }
        (Principal::Agent { agent_id }, Some(other)) if other != agent_id => {
            return Err(WalletError::Forbidden("only an operator may deposit into another agent's wallet".into()))
        }
        (Principal::Agent { agent_id }, _) => match app.config.money.self_deposit {
            SelfDeposit::Credit => {
                (agent_id.clone(), DepositSource::Unfunded, "Deposit without payment (credit, not withdrawable)")
            }
            SelfDeposit::Refuse => return Err(WalletError::SelfDepositRefused),
        },
        (Principal::Runtime(_), _) => return Err(WalletError::Forbidden("a runtime key cannot deposit".into())),
    };
    let agent = agents::get(&app.db, &agent_id).await?.ok_or(WalletError::AgentNotFound)?;
    transaction!(app.db, |c| async {
        let transfer = ledger::deposit_in(c, &agent.id, amount, source, description, None).await?;
        let done = Deposit { transfer, agent_id: agent.id.clone(), agent_name: agent.name.clone(), source };
        answer.record_in(c, &done).await?;
        Ok::<_, WalletError>(done)
    })
}

/// A withdrawal that was requested.
pub struct Withdrawal {
    pub payout_id: String,
    pub status: PayoutStatus,
    pub transfer: Transfer,
}

/// Takes `amount` of withdrawable money out of the agent's wallet and hands it to the payout
/// provider.
pub async fn withdraw(
    app: &App,
    agent_id: &str,
    amount: i64,
    approval_id: Option<String>,
    answer: Answer<'_, Withdrawal>,
) -> Result<Withdrawal, WalletError> {
    let amount = validate::cents("amountCents", amount, 1, i64::MAX)?;
    let action = HostAction {
        tool_ref: "agora.withdraw",
        action_type: "spend",
        access_level: Some("destructive"),
        operation: None,
        amount_cents: Some(amount),
        approval_id,
        metadata: None,
    };
    enforce(app, agent_id, action).await?;
    let destination = payout_destination(app, agent_id).await?;
    let payout_id = new_id();
    let provider = app.payouts.name();
    let withdrawal = transaction!(app.db, |c| async {
        let transfer = ledger::withdraw_in(c, agent_id, amount, &payout_id).await?;
        let payout = NewPayout { id: &payout_id, agent_id, amount, provider, transfer_id: &transfer.id };
        store::insert_payout(c, &payout).await?;
        let done = Withdrawal { payout_id: payout_id.clone(), status: PayoutStatus::Pending, transfer };
        answer.record_in(c, &done).await?;
        Ok::<_, WalletError>(done)
    })?;
    let request =
        PayoutRequest { payout_id: &payout_id, agent_id, amount_cents: amount, destination: destination.as_deref() };
    match app.payouts.submit(request).await {
        Ok(receipt) if receipt.status != PayoutStatus::Pending => {
            store::set_payout_status(&app.db, &payout_id, receipt.status, receipt.provider_ref.as_deref()).await?;
        }
        Ok(_) => {}
        // The money is safely in the payouts account; the payout stays pending for an
        // operator to retry or pay by hand.
        Err(e) => tracing::error!(payout = %payout_id, error = %format!("{e:#}"), "payout provider failed"),
    }
    Ok(withdrawal)
}

/// The payout account withdrawals go to, for providers that pay to one; refused before any
/// money moves if the agent has not finished onboarding there.
async fn payout_destination(app: &App, agent_id: &str) -> Result<Option<String>, WalletError> {
    if !app.payouts.needs_account() {
        return Ok(None);
    }
    match crate::payments::store::payout_account(&app.db, agent_id).await? {
        Some(account) if account.provider == app.payouts.name() && account.status.payouts_enabled => {
            Ok(Some(account.account_ref))
        }
        _ => Err(WalletError::PayoutsNotEnabled),
    }
}
